//! Pooling entry points: `max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d`, with PyTorch's
//! output sizes (including `ceil_mode`) and error messages. Kernels: `backend/cpu/pool.rs`.

use super::conv::Size;
use super::{Layout, Tensor};
use crate::autograd::Op;
use crate::backend::Storage;
use crate::core::{AvgDivisor, PoolGeometry};
use crate::error::{FerriteError, Result};

/// Window, stride (the window by default), padding, dilation and rounding of one 2-D pooling
/// call (PyTorch's `F.max_pool2d`/`F.avg_pool2d` keyword arguments), built with chained
/// setters.
///
/// These are the functional ops' arguments; the pooling layers take
/// [`crate::nn::Pool2dOptions`], checked when the layer is built. The tensor level keeps its own
/// type because `tensor` must not depend on `nn` (docs/ARCHITECTURE.md, layering).
///
/// ```
/// use ferrite::tensor::Pool2dParams;
/// use ferrite::Tensor;
/// let x = Tensor::arange(0.0, 16.0, 1.0).reshape([1, 1, 4, 4]);
/// assert_eq!(x.max_pool2d(&Pool2dParams::new(2)).to_vec(), vec![5.0, 7.0, 13.0, 15.0]);
/// let y = x.max_pool2d(&Pool2dParams::new(3).stride(2).ceil_mode(true));
/// assert_eq!(y.dims(), &[1, 1, 2, 2]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dParams {
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Steps between windows; `None` means the window size.
    pub stride: Option<[usize; 2]>,
    /// Implicit padding on each side (−∞ for max, 0 for average pooling).
    pub padding: [usize; 2],
    /// Spacing between window taps (max pooling only).
    pub dilation: [usize; 2],
    /// Round the output size up, keeping a last partial window that starts inside the input
    /// or its left padding.
    pub ceil_mode: bool,
    /// Average pooling: count padded zeros in the divisor (PyTorch's default `true`).
    pub count_include_pad: bool,
    /// Average pooling: divide by this instead of the window size.
    pub divisor_override: Option<usize>,
}

impl Pool2dParams {
    /// A `kernel` window at stride `kernel`, no padding, floor rounding.
    pub fn new(kernel: impl Into<Size<2>>) -> Self {
        Pool2dParams {
            kernel: kernel.into().0,
            stride: None,
            padding: [0, 0],
            dilation: [1, 1],
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }

    /// Sets the stride.
    pub fn stride(mut self, stride: impl Into<Size<2>>) -> Self {
        self.stride = Some(stride.into().0);
        self
    }

    /// Sets the padding.
    pub fn padding(mut self, padding: impl Into<Size<2>>) -> Self {
        self.padding = padding.into().0;
        self
    }

    /// Sets the dilation (max pooling).
    pub fn dilation(mut self, dilation: impl Into<Size<2>>) -> Self {
        self.dilation = dilation.into().0;
        self
    }

    /// Rounds the output size up instead of down.
    pub fn ceil_mode(mut self, on: bool) -> Self {
        self.ceil_mode = on;
        self
    }

    /// Whether average pooling counts padding in its divisor.
    pub fn count_include_pad(mut self, on: bool) -> Self {
        self.count_include_pad = on;
        self
    }

    /// A fixed divisor for average pooling.
    pub fn divisor_override(mut self, divisor: usize) -> Self {
        self.divisor_override = Some(divisor);
        self
    }

    /// The stride in effect.
    pub fn effective_stride(&self) -> [usize; 2] {
        self.stride.unwrap_or(self.kernel)
    }

    /// Checks the arguments with PyTorch's messages (`max` selects the max-pooling rules: the
    /// padding is compared with the dilated window). The layers call it when they are built.
    pub(crate) fn validate(&self, max: bool) -> Result<()> {
        let bad = |name: &str, msg: String| Err(FerriteError::invalid(name, msg));
        if self.kernel.contains(&0) {
            return bad(
                "kernel_size",
                format!("must be greater than zero, but got {:?}", self.kernel),
            );
        }
        if self.effective_stride().contains(&0) {
            return bad(
                "stride",
                format!(
                    "must be greater than zero, but got {:?}",
                    self.effective_stride()
                ),
            );
        }
        if self.dilation.contains(&0) {
            return bad(
                "dilation",
                format!("must be greater than zero, but got {:?}", self.dilation),
            );
        }
        if !max && self.dilation != [1, 1] {
            return bad("dilation", "average pooling has no dilation".into());
        }
        if self.divisor_override == Some(0) {
            return bad("divisor_override", "divisor must be not zero".into());
        }
        for i in 0..2 {
            let (p, k, d) = (self.padding[i], self.kernel[i], self.dilation[i]);
            let effective = d * (k - 1) + 1;
            if max && p > effective / 2 {
                return bad(
                    "padding",
                    format!("pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} and dilation={d}"),
                );
            }
            if !max && p > k / 2 {
                return bad("padding", format!("pad should be at most half of kernel size, but got pad={p} and kernel_size={k}"));
            }
        }
        Ok(())
    }

    /// The geometry for input `dims (N, C, H, W)`; panics like PyTorch on bad options or an
    /// output smaller than 1.
    fn geometry(&self, op: &str, dims: &[usize], max: bool) -> PoolGeometry {
        if let Err(e) = self.validate(max) {
            panic!("{op}: {e}");
        }
        let stride = self.effective_stride();
        let size = |i: usize| -> isize {
            let reach = (self.dilation[i] * (self.kernel[i] - 1) + 1) as isize;
            let (n, p, s) = (
                dims[2 + i] as isize,
                self.padding[i] as isize,
                stride[i] as isize,
            );
            let span = n + 2 * p - reach;
            if span < 0 {
                return 0;
            }
            let mut out = if self.ceil_mode {
                (span + s - 1) / s
            } else {
                span / s
            } + 1;
            // The last window must start inside the input or its left padding.
            if self.ceil_mode && (out - 1) * s >= n + p {
                out -= 1;
            }
            out
        };
        let (oh, ow) = (size(0), size(1));
        assert!(
            oh >= 1 && ow >= 1,
            "{op}: Given input size: ({}x{}x{}). Calculated output size: ({}x{}x{}). Output size is too small",
            dims[1],
            dims[2],
            dims[3],
            dims[1],
            oh.max(0),
            ow.max(0)
        );
        PoolGeometry {
            planes: dims[0] * dims[1],
            in_size: [dims[2], dims[3]],
            kernel: self.kernel,
            stride,
            pad: self.padding,
            dilation: self.dilation,
            out_size: [oh as usize, ow as usize],
        }
    }

    fn divisor(&self) -> AvgDivisor {
        match (self.divisor_override, self.count_include_pad) {
            (Some(d), _) => AvgDivisor::Fixed(d),
            (None, true) => AvgDivisor::IncludePad,
            (None, false) => AvgDivisor::ExcludePad,
        }
    }
}

/// Applies `f` to a 4-D version of `x` (unbatched `(C, H, W)` gains a batch of one).
fn batched(op: &str, x: &Tensor, f: impl FnOnce(&Tensor) -> Tensor) -> Tensor {
    match x.rank() {
        3 => f(&x.unsqueeze(0)).squeeze(0),
        4 => f(x),
        _ => panic!(
            "{op}: Expected 3D or 4D (batch mode) tensor for input, but got input of size: {:?}",
            x.dims()
        ),
    }
}

fn pooled_dims(x: &Tensor, out: [usize; 2]) -> Vec<usize> {
    vec![x.dims()[0], x.dims()[1], out[0], out[1]]
}

impl Tensor {
    /// Max pooling over windows of `(N, C, H, W)` or `(C, H, W)` (PyTorch's `F.max_pool2d`);
    /// the gradient goes to each window's arg-max.
    pub fn max_pool2d(&self, options: &Pool2dParams) -> Tensor {
        batched("max_pool2d", self, |x| max_pool2d_run(x, options).0)
    }

    /// Max pooling and, as whole numbers in f32, the index `y·W + x` inside its plane of each
    /// window's maximum (PyTorch's `return_indices=True`).
    pub fn max_pool2d_with_indices(&self, options: &Pool2dParams) -> (Tensor, Tensor) {
        let mut indices = None;
        let out = batched("max_pool2d", self, |x| {
            let (out, argmax) = max_pool2d_run(x, options);
            // The public indices are f32, as the rest of the tensor API; plane positions
            // below 2^24 are exact. Only this entry point pays for the conversion.
            let positions = argmax.storage().to_host_i64(argmax.layout());
            let positions = positions.into_iter().map(|a| a as f32).collect();
            indices = Some(Tensor::from_storage(
                Storage::from_host(positions, argmax.device()),
                argmax.layout().clone(),
            ));
            out
        });
        let mut indices = indices.expect("max_pool2d computed its indices");
        if self.rank() == 3 {
            indices = indices.squeeze(0);
        }
        (out, indices)
    }

    /// Average pooling over windows of `(N, C, H, W)` or `(C, H, W)` (PyTorch's
    /// `F.avg_pool2d`); the divisor follows `count_include_pad` and `divisor_override`.
    ///
    /// ```
    /// use ferrite::tensor::Pool2dParams;
    /// use ferrite::Tensor;
    /// let x = Tensor::ones([1, 1, 2, 2]);
    /// // 3x3 windows at stride 1 over the input padded by 1: corners see 4 of 9 cells.
    /// let o = Pool2dParams::new(3).stride(1).padding(1);
    /// assert_eq!(x.avg_pool2d(&o).to_vec(), vec![4.0 / 9.0; 4]);
    /// assert_eq!(x.avg_pool2d(&o.count_include_pad(false)).to_vec(), vec![1.0; 4]);
    /// ```
    pub fn avg_pool2d(&self, options: &Pool2dParams) -> Tensor {
        batched("avg_pool2d", self, |x| {
            let geo = options.geometry("avg_pool2d", x.dims(), false);
            let divisor = options.divisor();
            let data = x.storage().avg_pool2d(x.layout(), &geo, divisor);
            let op = Op::AvgPool2d {
                geometry: geo,
                divisor,
            };
            Tensor::from_op(
                data,
                Layout::contiguous(pooled_dims(x, geo.out_size)),
                op,
                vec![x.clone()],
            )
        })
    }

    /// Average pooling to a fixed `output_size` whatever the input size (PyTorch's
    /// `F.adaptive_avg_pool2d`): output `i` averages inputs `⌊i·H/out⌋ .. ⌈(i+1)·H/out⌉`.
    ///
    /// ```
    /// use ferrite::Tensor;
    /// let x = Tensor::arange(0.0, 16.0, 1.0).reshape([1, 4, 4]);
    /// assert_eq!(x.adaptive_avg_pool2d(1).to_vec(), vec![7.5]);
    /// assert_eq!(x.adaptive_avg_pool2d((2, 2)).to_vec(), vec![2.5, 4.5, 10.5, 12.5]);
    /// ```
    pub fn adaptive_avg_pool2d(&self, output_size: impl Into<Size<2>>) -> Tensor {
        let out_size = output_size.into().0;
        batched("adaptive_avg_pool2d", self, |x| {
            let d = x.dims();
            assert!(
                out_size.iter().all(|&o| o > 0) && d[2] > 0 && d[3] > 0,
                "adaptive_avg_pool2d: output size {out_size:?} and input size {d:?} must be non-empty"
            );
            let data =
                x.storage()
                    .adaptive_avg_pool2d(x.layout(), d[0] * d[1], [d[2], d[3]], out_size);
            let op = Op::AdaptiveAvgPool2d { out_size };
            Tensor::from_op(
                data,
                Layout::contiguous(pooled_dims(x, out_size)),
                op,
                vec![x.clone()],
            )
        })
    }
}

/// Max pooling of the 4-D `x`: the output, recorded with its arg-max, and the arg-max itself
/// (an index tensor of the output's shape).
fn max_pool2d_run(x: &Tensor, options: &Pool2dParams) -> (Tensor, Tensor) {
    let geo = options.geometry("max_pool2d", x.dims(), true);
    let (data, argmax) = x.storage().max_pool2d(x.layout(), &geo);
    let layout = Layout::contiguous(pooled_dims(x, geo.out_size));
    let argmax = Tensor::from_storage(argmax, layout.clone());
    let op = Op::MaxPool2d {
        geometry: geo,
        argmax: argmax.clone(),
    };
    (Tensor::from_op(data, layout, op, vec![x.clone()]), argmax)
}

/// The input gradient of a pooling recorded in `op`, for input `x` and output gradient `g`.
pub(crate) fn pool_backward(op: &Op, x: &Tensor, g: &Tensor) -> Tensor {
    let gs = g.storage();
    let data = match op {
        Op::MaxPool2d { geometry, argmax } => {
            let a = argmax.storage();
            gs.max_pool2d_backward(g.layout(), (&a, argmax.layout()), geometry)
        }
        Op::AvgPool2d { geometry, divisor } => {
            gs.avg_pool2d_backward(g.layout(), geometry, *divisor)
        }
        Op::AdaptiveAvgPool2d { out_size } => {
            let d = x.dims();
            gs.adaptive_avg_pool2d_backward(g.layout(), d[0] * d[1], [d[2], d[3]], *out_size)
        }
        other => unreachable!("pool_backward called for {}", other.name()),
    };
    Tensor::from_storage(data, Layout::contiguous(x.dims()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck;

    #[test]
    fn ceil_mode_keeps_a_partial_last_window() {
        // H = 5, k = 2, s = 2: floor → 2 windows, ceil → 3 (the last starts at 4 < 5).
        let x = Tensor::arange(0.0, 25.0, 1.0).reshape([1, 1, 5, 5]);
        assert_eq!(x.max_pool2d(&Pool2dParams::new(2)).dims(), &[1, 1, 2, 2]);
        let y = x.max_pool2d(&Pool2dParams::new(2).ceil_mode(true));
        assert_eq!(
            y.to_vec(),
            vec![6.0, 8.0, 9.0, 16.0, 18.0, 19.0, 21.0, 23.0, 24.0]
        );
        // ... but a window starting in the right padding is dropped: H = 4, k = 2, s = 2, p = 1
        // gives ⌈(4 + 2 − 2)/2⌉ + 1 = 3 windows starting at −1, 1, 3.
        let z = Tensor::zeros([1, 1, 4, 4])
            .avg_pool2d(&Pool2dParams::new(2).padding(1).ceil_mode(true));
        assert_eq!(z.dims(), &[1, 1, 3, 3]);
    }

    #[test]
    fn pooling_gradients_match_finite_differences() {
        crate::manual_seed(9);
        let x = Tensor::randn([2, 2, 5, 6]).requires_grad();
        let o = Pool2dParams::new((3, 2))
            .stride((2, 1))
            .padding(1)
            .ceil_mode(true);
        gradcheck(
            |t| t[0].avg_pool2d(&o.count_include_pad(false)),
            std::slice::from_ref(&x),
        )
        .unwrap();
        gradcheck(|t| t[0].avg_pool2d(&o), std::slice::from_ref(&x)).unwrap();
        gradcheck(|t| t[0].adaptive_avg_pool2d((3, 4)), &[x]).unwrap();
        // Max pooling needs values further apart than the finite-difference step.
        let distinct: Vec<f32> = Tensor::randperm(120)
            .iter()
            .map(|&v| v as f32 * 0.01)
            .collect();
        let x = Tensor::from_vec(distinct, [2, 2, 5, 6]).requires_grad();
        gradcheck(|t| t[0].max_pool2d(&o.dilation((1, 2))), &[x]).unwrap();
    }

    #[test]
    fn errors_follow_pytorch() {
        let e = Pool2dParams::new(3)
            .padding(2)
            .validate(true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and dilation=1"), "{e}");
        assert!(Pool2dParams::new(3)
            .padding(2)
            .dilation(2)
            .validate(true)
            .is_ok());
        let e = Pool2dParams::new(2)
            .padding(2)
            .validate(false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("pad should be at most half of kernel size"),
            "{e}"
        );
    }

    #[test]
    #[should_panic(
        expected = "Given input size: (1x2x2). Calculated output size: (1x0x0). Output size is too small"
    )]
    fn too_small_input_panics() {
        Tensor::zeros([1, 1, 2, 2]).max_pool2d(&Pool2dParams::new(3));
    }
}
