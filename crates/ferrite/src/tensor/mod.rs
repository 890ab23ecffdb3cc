//! The `Tensor` type: a cheap-to-clone handle over shared storage and a layout, recording the
//! operation that made it when gradients are wanted.

mod activation;
pub mod batch_norm;
mod close;
pub mod conv;
mod create;
mod default_device;
mod display;
pub(crate) mod dtype;
mod elementwise;
mod index;
mod matmul;
mod nested;
pub mod pool;
mod random;
mod reduce;
pub mod rnn;
mod view;

pub use crate::core::{broadcast_shapes, normalize_dim, try_broadcast_shapes, Layout, Shape};
pub use batch_norm::BatchNormSaved;
pub use conv::{Conv1dParams, Conv2dParams, ConvParams, Padding, Size};
pub use create::TensorOptions;
pub use default_device::{default_device, set_default_device};
pub use nested::{ArrayElement, NestedArray};
pub use pool::Pool2dParams;
pub use random::{manual_seed, with_rng, Generator};
pub use rnn::{CellActivation, GruSaved, LstmSaved, RecurrentOutput, RnnSaved};

use crate::autograd::{self, Node, Op};
use crate::backend::Storage;
use crate::core::{DType, Device};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// How many tensors (handles' shared parts: views count separately) exist right now.
static LIVE_TENSORS: AtomicUsize = AtomicUsize::new(0);

/// The number of tensors alive in this process: created and not yet dropped. Views and
/// gradients count as tensors; clones of one handle do not. Used to show that nothing of a
/// graph outlives its backward (a training loop keeps this number flat).
///
/// ```
/// use ferrite::tensor::live_tensors;
/// use ferrite::Tensor;
/// let before = live_tensors();
/// let t = Tensor::zeros([2]);
/// assert_eq!(live_tensors(), before + 1);
/// drop(t);
/// assert_eq!(live_tensors(), before);
/// ```
pub fn live_tensors() -> usize {
    LIVE_TENSORS.load(Ordering::Relaxed)
}

/// An n-dimensional array of f32 with automatic differentiation.
///
/// Cloning a `Tensor` clones a handle: both see the same data, gradient and graph.
/// Views (reshape, transpose, narrow, expand, ...) share storage with their source.
///
/// ```
/// use ferrite::Tensor;
/// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], [3]).requires_grad();
/// let y = (&x * &x).sum();
/// y.backward();
/// assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 4.0, 6.0]);
/// ```
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorImpl>);

pub(crate) struct TensorImpl {
    pub(crate) id: usize,
    pub(crate) storage: Arc<RwLock<Storage>>,
    /// The storage's element type, which never changes (kept here so that the type checks of
    /// every op take no lock).
    pub(crate) dtype: DType,
    pub(crate) layout: Layout,
    /// Set by the user on leaves; always true for tensors made by a recorded op.
    pub(crate) requires_grad: AtomicBool,
    pub(crate) grad: Mutex<Option<Tensor>>,
    /// The op that produced this tensor and its inputs; taken away after backward.
    pub(crate) node: Mutex<Option<Arc<Node>>>,
    /// True once backward released this tensor's node.
    pub(crate) released: AtomicBool,
    /// Keeps the count of [`live_tensors`].
    _live: LiveToken,
}

/// Counts one tensor in [`live_tensors`] for as long as it exists (a field of `TensorImpl`,
/// so that `TensorImpl` itself needs no `Drop` and its fields can still be moved out).
pub(crate) struct LiveToken(());

impl LiveToken {
    fn new() -> Self {
        LIVE_TENSORS.fetch_add(1, Ordering::Relaxed);
        LiveToken(())
    }
}

impl Drop for LiveToken {
    fn drop(&mut self) {
        LIVE_TENSORS.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Tensor {
    /// A new tensor over `storage` seen through `layout`, with no history.
    pub(crate) fn from_storage(storage: Storage, layout: Layout) -> Tensor {
        let dtype = storage.dtype();
        Self::from_shared(Arc::new(RwLock::new(storage)), dtype, layout)
    }

    /// A new tensor over shared `storage` (of element type `dtype`) seen through `layout`.
    pub(crate) fn from_shared(
        storage: Arc<RwLock<Storage>>,
        dtype: DType,
        layout: Layout,
    ) -> Tensor {
        Tensor(Arc::new(TensorImpl {
            _live: LiveToken::new(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            dtype,
            storage,
            layout,
            requires_grad: AtomicBool::new(false),
            grad: Mutex::new(None),
            node: Mutex::new(None),
            released: AtomicBool::new(false),
        }))
    }

    /// A row-major tensor of `dims` over `data` with no history.
    pub(crate) fn from_data(data: Vec<f32>, dims: impl Into<Shape>) -> Tensor {
        let layout = Layout::contiguous(dims);
        debug_assert_eq!(layout.numel(), data.len());
        Self::from_storage(Storage::from_host(data, default_device()), layout)
    }

    /// Wraps the result of `op` on `inputs`, recording it when any input needs a gradient.
    pub(crate) fn from_op(storage: Storage, layout: Layout, op: Op, inputs: Vec<Tensor>) -> Tensor {
        let t = Self::from_storage(storage, layout);
        t.attach(op, inputs)
    }

    /// Records `op` on `inputs` as the origin of `self` when autograd is on and wanted.
    pub(crate) fn attach(self, op: Op, inputs: Vec<Tensor>) -> Tensor {
        if autograd::is_grad_enabled() && inputs.iter().any(|t| t.requires_grad_flag()) {
            self.0.requires_grad.store(true, Ordering::Relaxed);
            *self.0.node.lock().expect("node lock") = Some(Arc::new(Node { op, inputs }));
        }
        self
    }

    /// A view sharing this tensor's storage with another layout (used by view ops).
    pub(crate) fn view_with(&self, layout: Layout, op: Op) -> Tensor {
        Self::from_shared(self.0.storage.clone(), self.dtype(), layout)
            .attach(op, vec![self.clone()])
    }

    /// Read access to the storage.
    pub(crate) fn storage(&self) -> RwLockReadGuard<'_, Storage> {
        self.0.storage.read().expect("storage lock poisoned")
    }

    /// Write access to the storage (in-place updates by optimizers and `*_` methods).
    pub(crate) fn storage_mut(&self) -> RwLockWriteGuard<'_, Storage> {
        self.0.storage.write().expect("storage lock poisoned")
    }

    /// The layout: shape, strides and offset.
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.0.layout.shape
    }

    /// The sizes of the dimensions.
    pub fn dims(&self) -> &[usize] {
        self.0.layout.dims()
    }

    /// The size of dimension `dim` (negative counts from the end).
    pub fn size(&self, dim: isize) -> usize {
        self.dims()[normalize_dim(dim, self.rank(), "size")]
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.dims().len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }

    /// The device of the data.
    pub fn device(&self) -> Device {
        self.storage().device()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }

    /// This tensor on `device`: itself when it is already there (as PyTorch's `to`), else a
    /// copy that keeps the history, so gradients flow back to the source device.
    ///
    /// ```
    /// use ferrite::{Device, Tensor};
    /// let t = Tensor::ones([2]);
    /// let same = t.to(&Device::Cpu);
    /// assert_eq!(same.id(), t.id());
    /// ```
    pub fn to(&self, device: &Device) -> Tensor {
        if self.device() == *device {
            return self.clone();
        }
        let storage = self.storage().to_device(self.layout(), *device);
        Tensor::from_op(
            storage,
            Layout::contiguous(self.shape().clone()),
            autograd::Op::ToDevice(self.device()),
            vec![self.clone()],
        )
    }

    /// Moves this tensor's data to `device` in place, keeping its identity, gradient flag and
    /// handles (how a model's parameters move). A no-op when it is already there.
    pub(crate) fn move_to_(&self, device: &Device) {
        if self.device() == *device {
            return;
        }
        let moved = self.storage().to_device(self.layout(), *device);
        let full = Layout::contiguous(self.shape().clone());
        // Same shape, row-major: the layout stays valid only for contiguous tensors, which
        // parameters and buffers are.
        assert!(
            self.layout() == &full,
            "to: only contiguous tensors move in place (parameters and buffers are)"
        );
        *self.storage_mut() = moved;
        if let Some(g) = self.grad() {
            g.move_to_(device);
        }
    }

    /// A unique id for this handle's tensor (views get their own).
    pub fn id(&self) -> usize {
        self.0.id
    }

    /// True when the elements are row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }

    /// The elements in row-major order.
    pub fn to_vec(&self) -> Vec<f32> {
        self.storage().to_host(self.layout())
    }

    /// The elements as a nested `Vec` of rows (2-D tensors).
    pub fn to_vec2(&self) -> Vec<Vec<f32>> {
        assert_eq!(
            self.rank(),
            2,
            "to_vec2: expected a 2-D tensor, got shape {:?}",
            self.dims()
        );
        let cols = self.dims()[1];
        self.to_vec()
            .chunks(cols.max(1))
            .map(|c| c.to_vec())
            .collect()
    }

    /// The value of a one-element tensor.
    pub fn item(&self) -> f32 {
        assert_eq!(
            self.numel(),
            1,
            "item: a Tensor with {} elements cannot be converted to a scalar",
            self.numel()
        );
        self.storage().to_host(self.layout())[0]
    }

    /// Marks this tensor as a leaf whose gradient is wanted, and returns it.
    pub fn requires_grad(self) -> Tensor {
        self.set_requires_grad(true);
        self
    }

    /// Sets whether a gradient is wanted for this leaf.
    pub fn set_requires_grad(&self, on: bool) {
        assert!(
            self.is_leaf() || on,
            "set_requires_grad: you can only change requires_grad flags of leaf variables"
        );
        self.0.requires_grad.store(on, Ordering::Relaxed);
    }

    /// True when gradients flow to or through this tensor.
    pub fn requires_grad_flag(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// True for tensors not made by a recorded op.
    pub fn is_leaf(&self) -> bool {
        self.node().is_none() && !self.0.released.load(Ordering::Relaxed)
    }

    /// True while this tensor records the op that made it (cheaper than `node().is_some()`).
    pub(crate) fn has_node(&self) -> bool {
        self.0.node.lock().expect("node lock").is_some()
    }

    pub(crate) fn node(&self) -> Option<Arc<Node>> {
        self.0.node.lock().expect("node lock").clone()
    }

    /// The accumulated gradient of a leaf, if backward has reached it.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.lock().expect("grad lock").clone()
    }

    /// Replaces the stored gradient.
    pub fn set_grad(&self, grad: Option<Tensor>) {
        *self.0.grad.lock().expect("grad lock") = grad;
    }

    /// Forgets the stored gradient (PyTorch's `zero_grad(set_to_none=True)`).
    pub fn zero_grad(&self) {
        self.set_grad(None);
    }

    /// The same data without history: gradients stop here.
    pub fn detach(&self) -> Tensor {
        Self::from_shared(self.0.storage.clone(), self.dtype(), self.0.layout.clone())
    }

    /// Backpropagates from this one-element tensor, accumulating `.grad()` on leaves.
    pub fn backward(&self) {
        assert_eq!(
            self.numel(),
            1,
            "backward: grad can be implicitly created only for scalar outputs (shape {:?})",
            self.dims()
        );
        autograd::backward(self, Tensor::ones_like(self), false);
    }

    /// Backpropagates with an explicit output gradient of the same shape.
    pub fn backward_with(&self, grad: &Tensor) {
        assert_eq!(
            self.dims(),
            grad.dims(),
            "backward_with: gradient shape {:?} does not match output shape {:?}",
            grad.dims(),
            self.dims()
        );
        autograd::backward(self, grad.detach(), false);
    }

    /// [`Tensor::backward`], calling `on_ready(leaf)` as soon as each leaf's gradient is
    /// final, while backward goes on (the hook data-parallel training uses to send gradients
    /// early). Every leaf that requires a gradient is reported once.
    pub fn backward_with_hook(&self, on_ready: &mut dyn FnMut(&Tensor)) {
        assert_eq!(
            self.numel(),
            1,
            "backward: grad can be implicitly created only for scalar outputs (shape {:?})",
            self.dims()
        );
        autograd::backward_with_hook(self, Tensor::ones_like(self), false, Some(on_ready));
    }

    /// Like [`Tensor::backward`] but keeps the graph so it can be walked again.
    pub fn backward_retain_graph(&self) {
        autograd::backward(self, Tensor::ones_like(self), true);
    }

    /// True when this handle is the only one on its tensor and its storage, and it sees the
    /// whole buffer row-major: its data can then be reused or changed in place unseen.
    pub(crate) fn owns_whole_buffer(&self) -> bool {
        Arc::strong_count(&self.0) == 1
            && Arc::strong_count(&self.0.storage) == 1
            && self.layout().offset == 0
            && self.is_contiguous()
            && self.storage().len() == self.numel()
            && self.0.node.lock().expect("node lock").is_none()
    }

    /// `self += other` in place, without recording history (same shape; gradient accumulation).
    pub(crate) fn add_assign_detached(&self, other: &Tensor) {
        assert_eq!(
            self.dims(),
            other.dims(),
            "add_assign: shape {:?} does not match {:?}",
            self.dims(),
            other.dims()
        );
        let src = other.storage();
        self.storage_mut()
            .add_assign(self.layout(), &src, other.layout());
    }

    /// Copies `src` (same number of elements) into this tensor's storage in place.
    pub fn copy_(&self, src: &Tensor) {
        assert_eq!(
            self.dims(),
            src.dims(),
            "copy_: shape {:?} does not match source shape {:?}",
            self.dims(),
            src.dims()
        );
        // A source sharing this storage is copied out first (the two locks would collide).
        let src = if Arc::ptr_eq(&self.0.storage, &src.0.storage) {
            src.detach_copy()
        } else {
            src.clone()
        };
        let from = src.storage();
        self.storage_mut()
            .assign(self.layout(), &from, src.layout());
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor[shape={:?}] {}", self.dims(), self)
    }
}
