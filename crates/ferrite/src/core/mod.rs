//! The leaf of the crate: what every layer above agrees on and no backend owns. Shapes and
//! layouts, devices, the pointwise op list, and the device-neutral parameters of fused ops
//! (convolution, pooling, recurrent sequences). `core` depends on nothing else in Ferrite;
//! `autograd::Op` holds only these types, so the graph never knows a device.

mod conv;
mod device;
mod dtype;
mod element;
mod layout;
mod ops;
mod pool;
mod reduce;
mod rnn;

pub use conv::ConvGeometry;
pub use device::Device;
pub use dtype::DType;
pub use element::Float;
pub use layout::{broadcast_shapes, normalize_dim, try_broadcast_shapes, Layout, Shape};
pub use ops::{erf, erf_f64, BinaryOp, UnaryOp};
pub use pool::{AvgDivisor, PoolGeometry};
pub use reduce::{ReduceKind, ScanKind};
pub use rnn::{CellActivation, SeqDims};
