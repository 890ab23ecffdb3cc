//! Neural-network building blocks with PyTorch's names, shapes and defaults.

mod activation;
mod conv;
mod dropout;
mod dropout2d;
mod flatten;
pub mod functional;
pub mod init;
mod linear;
pub mod loss;
pub mod models;
mod module;
mod norm;
mod pool;
pub mod rnn;
mod sequential;
pub mod state_dict;
mod summary;

pub use activation::{LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh, ELU, GELU};
pub use conv::{Conv1d, Conv1dOptions, Conv2d, Conv2dOptions, ConvNd, ConvOptions};
// The geometry vocabulary of the options, where users of the layers find it.
pub use crate::tensor::{Padding, Size};
pub use dropout::Dropout;
pub use dropout2d::Dropout2d;
pub use flatten::{Flatten, Identity};
pub use linear::{linear, Linear, LinearOptions};
pub use module::Module;
pub use norm::{BatchNorm1d, BatchNorm2d, BatchNormOptions, BatchNormState};
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d, Pool2dOptions};
pub use rnn::{
    CellActivation, GRUCell, GRUCellOptions, LSTMCell, LSTMCellOptions, RNNCell, RNNCellOptions,
    RecurrentConfig, GRU, LSTM, RNN,
};
pub use sequential::Sequential;
pub use state_dict::{describe_state_dict_mismatch, StateDict};
pub use summary::{summary, Summary, SummaryRow};
