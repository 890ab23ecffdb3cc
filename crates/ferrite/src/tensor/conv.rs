//! Convolution entry points (`conv1d`, `conv2d`) and their arguments, with PyTorch's shape
//! rules and error messages. The kernels live in `backend/cpu/conv.rs`; pooling and batch
//! normalisation entry points are in `tensor/pool.rs` and `tensor/batch_norm.rs`.

use super::dtype::mixed_float_dtype;
use super::{Layout, Tensor};
use crate::autograd::Op;
use crate::core::ConvGeometry;
use crate::error::{FerriteError, Result};
use std::str::FromStr;

/// A size per spatial dimension: `3` means 3 in every dimension, `(3, 5)` or `[3, 5]` one
/// per dimension (height first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size<const N: usize>(pub [usize; N]);

impl<const N: usize> From<usize> for Size<N> {
    fn from(v: usize) -> Self {
        Size([v; N])
    }
}

impl<const N: usize> From<[usize; N]> for Size<N> {
    fn from(v: [usize; N]) -> Self {
        Size(v)
    }
}

impl From<(usize, usize)> for Size<2> {
    fn from((h, w): (usize, usize)) -> Self {
        Size([h, w])
    }
}

/// How a convolution pads its input with zeros (PyTorch's `padding` argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding<const N: usize> {
    /// No padding (`'valid'`).
    Valid,
    /// Output as large as the input at stride 1 (`'same'`): `d·(k − 1)` zeros per dimension,
    /// half before, and the odd one after (right/bottom).
    Same,
    /// This many zeros on both sides of each dimension.
    Explicit([usize; N]),
}

impl<const N: usize> Default for Padding<N> {
    fn default() -> Self {
        Padding::Explicit([0; N])
    }
}

impl<const N: usize> From<usize> for Padding<N> {
    fn from(p: usize) -> Self {
        Padding::Explicit([p; N])
    }
}

impl<const N: usize> From<[usize; N]> for Padding<N> {
    fn from(p: [usize; N]) -> Self {
        Padding::Explicit(p)
    }
}

impl From<(usize, usize)> for Padding<2> {
    fn from((h, w): (usize, usize)) -> Self {
        Padding::Explicit([h, w])
    }
}

impl<const N: usize> FromStr for Padding<N> {
    type Err = FerriteError;

    /// Parses `valid`, `same` or a number (from a command line or a config file).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "valid" => Ok(Padding::Valid),
            "same" => Ok(Padding::Same),
            other => other.parse::<usize>().map(Padding::from).map_err(|_| {
                FerriteError::invalid(
                    "padding",
                    format!("expected 'valid', 'same' or a whole number, got '{s}'"),
                )
            }),
        }
    }
}

impl<const N: usize> Padding<N> {
    /// Zeros `(before, after)` for each dimension, given the kernel and dilation.
    fn amounts(&self, kernel: [usize; N], dilation: [usize; N]) -> [(usize, usize); N] {
        std::array::from_fn(|i| match self {
            Padding::Valid => (0, 0),
            Padding::Explicit(p) => (p[i], p[i]),
            Padding::Same => {
                let total = dilation[i] * (kernel[i].max(1) - 1);
                (total / 2, total - total / 2)
            }
        })
    }
}

/// Stride, padding, dilation and groups of one convolution call over `N` spatial dimensions
/// (PyTorch's `F.conv2d` keyword arguments, defaults 1, 0, 1, 1), built with chained setters.
///
/// These are the functional op's arguments; the layers' hyper-parameters (these plus `bias`,
/// checked when a layer is built) are [`crate::nn::Conv2dOptions`]. The tensor level keeps its
/// own type because `tensor` must not depend on `nn` (docs/ARCHITECTURE.md, layering).
///
/// ```
/// use ferrite::tensor::{Conv2dParams, Padding};
/// let o = Conv2dParams::new().stride(2).padding(1).groups(2);
/// assert_eq!(o.stride, [2, 2]);
/// assert_eq!(o.padding, Padding::Explicit([1, 1]));
/// let same: Padding<2> = "same".parse().unwrap();
/// assert_eq!(same, Padding::Same);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvParams<const N: usize> {
    /// Steps between output positions.
    pub stride: [usize; N],
    /// Zero padding.
    pub padding: Padding<N>,
    /// Spacing between kernel taps.
    pub dilation: [usize; N],
    /// Channel groups (`groups = in_channels` is a depthwise convolution).
    pub groups: usize,
}

/// Arguments of one 1-D convolution call.
pub type Conv1dParams = ConvParams<1>;
/// Arguments of one 2-D convolution call.
pub type Conv2dParams = ConvParams<2>;

impl<const N: usize> Default for ConvParams<N> {
    fn default() -> Self {
        ConvParams {
            stride: [1; N],
            padding: Padding::default(),
            dilation: [1; N],
            groups: 1,
        }
    }
}

impl<const N: usize> ConvParams<N> {
    /// PyTorch's defaults: stride 1, no padding, dilation 1, one group.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the stride.
    pub fn stride(mut self, stride: impl Into<Size<N>>) -> Self {
        self.stride = stride.into().0;
        self
    }

    /// Sets the padding: a number, a pair, [`Padding::Valid`] or [`Padding::Same`].
    pub fn padding(mut self, padding: impl Into<Padding<N>>) -> Self {
        self.padding = padding.into();
        self
    }

    /// Sets the dilation.
    pub fn dilation(mut self, dilation: impl Into<Size<N>>) -> Self {
        self.dilation = dilation.into().0;
        self
    }

    /// Sets the number of channel groups.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
}

/// Checks shapes and computes the geometry of a convolution of `x (N, C, *spatial)` with
/// `w (O, C/groups, *kernel)`; `spatial` has `S` dimensions (1 or 2), mapped onto 2-D.
fn conv_geometry<const S: usize>(
    op: &str,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    o: &ConvParams<S>,
) -> ConvGeometry {
    let (xd, wd) = (x.dims(), w.dims());
    assert!(
        wd.len() == S + 2,
        "{op}: expected {}-dimensional weight (out_channels, in_channels/groups, kernel...), but got weight of size {wd:?}",
        S + 2
    );
    assert!(o.groups > 0, "{op}: non-positive groups is not supported");
    assert!(
        !o.stride.contains(&0),
        "{op}: non-positive stride is not supported"
    );
    assert!(
        !o.dilation.contains(&0),
        "{op}: dilation should be greater than zero"
    );
    let (out_channels, groups) = (wd[0], o.groups);
    assert!(
        out_channels % groups == 0,
        "{op}: Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got weight of size {wd:?} instead"
    );
    assert!(
        xd[1] == wd[1] * groups,
        "{op}: Given groups={groups}, weight of size {wd:?}, expected input{xd:?} to have {} channels, but got {} channels instead",
        wd[1] * groups,
        xd[1]
    );
    if let Some(b) = bias {
        assert!(
            b.dims() == [out_channels],
            "{op}: bias of size {:?} does not match the {out_channels} output channels of weight {wd:?}",
            b.dims()
        );
    }
    assert!(
        !(o.padding == Padding::Same && o.stride.iter().any(|&s| s != 1)),
        "{op}: padding='same' is not supported for strided convolutions"
    );
    let kernel: [usize; S] = std::array::from_fn(|i| wd[2 + i]);
    let pads = o.padding.amounts(kernel, o.dilation);
    let padded: [usize; S] = std::array::from_fn(|i| xd[2 + i] + pads[i].0 + pads[i].1);
    let reach: [usize; S] = std::array::from_fn(|i| o.dilation[i] * (kernel[i].max(1) - 1) + 1);
    let fmt = |v: &[usize]| {
        v.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" x ")
    };
    assert!(
        (0..S).all(|i| reach[i] <= padded[i]),
        "{op}: Calculated padded input size per channel: ({}). Kernel size: ({}). Kernel size can't be greater than actual input size",
        fmt(&padded),
        fmt(&reach)
    );
    let out: [usize; S] = std::array::from_fn(|i| (padded[i] - reach[i]) / o.stride[i] + 1);
    // A 1-D convolution is a 2-D one over height 1.
    let lift = |v: [usize; S], fill: usize| -> [usize; 2] {
        if S == 1 {
            [fill, v[0]]
        } else {
            [v[0], v[S - 1]]
        }
    };
    ConvGeometry {
        batch: xd[0],
        in_channels: xd[1],
        out_channels,
        groups,
        in_size: lift(std::array::from_fn(|i| xd[2 + i]), 1),
        kernel: lift(kernel, 1),
        stride: lift(o.stride, 1),
        pad: lift(std::array::from_fn(|i| pads[i].0), 0),
        dilation: lift(o.dilation, 1),
        out_size: lift(out, 1),
    }
}

/// Runs the kernel and records the op; `out_dims` is the output shape the caller wants.
fn conv_run(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    geo: ConvGeometry,
    out_dims: Vec<usize>,
) -> Tensor {
    let data = {
        let (xs, ws) = (x.storage(), w.storage());
        let bs = bias.map(|b| b.storage());
        let b = bs.as_deref().zip(bias.map(|b| b.layout()));
        xs.conv2d(x.layout(), (&ws, w.layout()), b, &geo)
    };
    let mut inputs = vec![x.clone(), w.clone()];
    inputs.extend(bias.cloned());
    Tensor::from_op(data, Layout::contiguous(out_dims), Op::Conv2d(geo), inputs)
}

impl Tensor {
    /// 2-D cross-correlation of `self (N, C, H, W)` (or unbatched `(C, H, W)`) with
    /// `weight (O, C/groups, kH, kW)`, plus `bias (O)`: PyTorch's `F.conv2d`. Output size per
    /// dimension `⌊(H + 2P − D(K − 1) − 1)/S⌋ + 1`.
    ///
    /// ```
    /// use ferrite::tensor::Conv2dParams;
    /// use ferrite::Tensor;
    /// // A 3x3 input padded by one, summed by a 3x3 kernel of ones at stride 2.
    /// let x = Tensor::arange(1.0, 10.0, 1.0).reshape([1, 1, 3, 3]);
    /// let k = Tensor::ones([1, 1, 3, 3]);
    /// let y = x.conv2d(&k, None, &Conv2dParams::new().stride(2).padding(1));
    /// assert_eq!(y.to_vec(), vec![12.0, 16.0, 24.0, 28.0]);
    /// ```
    ///
    /// Panics, as PyTorch raises, when the channels do not match the weight, the groups do not
    /// divide the channels, or the (dilated) kernel is larger than the padded input.
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, options: &Conv2dParams) -> Tensor {
        if let Some(d) = mixed_float_dtype(&[Some(self), Some(weight), bias]) {
            let bias = bias.map(|b| b.to_dtype(d));
            return self
                .to_dtype(d)
                .conv2d(&weight.to_dtype(d), bias.as_ref(), options);
        }
        match self.rank() {
            3 => return self.unsqueeze(0).conv2d(weight, bias, options).squeeze(0),
            4 => {}
            _ => panic!(
                "conv2d: Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: {:?}",
                self.dims()
            ),
        }
        let geo = conv_geometry("conv2d", self, weight, bias, options);
        let dims = vec![
            geo.batch,
            geo.out_channels,
            geo.out_size[0],
            geo.out_size[1],
        ];
        conv_run(self, weight, bias, geo, dims)
    }

    /// 1-D cross-correlation of `self (N, C, L)` (or unbatched `(C, L)`) with
    /// `weight (O, C/groups, K)`, plus `bias (O)`: PyTorch's `F.conv1d`.
    ///
    /// ```
    /// use ferrite::tensor::{Conv1dParams, Padding};
    /// use ferrite::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [1, 1, 4]);
    /// let k = Tensor::from_vec(vec![1.0, -1.0], [1, 1, 2]);
    /// let y = x.conv1d(&k, None, &Conv1dParams::new().padding(Padding::Same));
    /// // 'same' puts the extra zero on the right: [1−2, 2−3, 3−4, 4−0]
    /// assert_eq!(y.to_vec(), vec![-1.0, -1.0, -1.0, 4.0]);
    /// ```
    pub fn conv1d(&self, weight: &Tensor, bias: Option<&Tensor>, options: &Conv1dParams) -> Tensor {
        match self.rank() {
            2 => return self.unsqueeze(0).conv1d(weight, bias, options).squeeze(0),
            3 => {}
            _ => panic!(
                "conv1d: Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: {:?}",
                self.dims()
            ),
        }
        let geo = conv_geometry("conv1d", self, weight, bias, options);
        let dims = vec![geo.batch, geo.out_channels, geo.out_size[1]];
        conv_run(self, weight, bias, geo, dims)
    }
}

/// The gradients of a convolution recorded as [`Op::Conv2d`]: inputs `[x, w]` or `[x, w, b]`.
pub(crate) fn conv2d_backward(
    geo: &ConvGeometry,
    inputs: &[Tensor],
    g: &Tensor,
    needs: &[bool],
) -> Vec<Option<Tensor>> {
    let (x, w) = (&inputs[0], &inputs[1]);
    let need_b = inputs.len() == 3 && needs[2];
    let (dx, dw, db) = {
        let (xs, ws, gs) = (x.storage(), w.storage(), g.storage());
        gs.conv2d_backward(
            g.layout(),
            (&xs, x.layout()),
            (&ws, w.layout()),
            geo,
            [needs[0], needs[1], need_b],
        )
    };
    let like = |t: &Tensor| Layout::contiguous(t.dims());
    let mut grads = vec![
        dx.map(|d| Tensor::from_storage(d, like(x))),
        dw.map(|d| Tensor::from_storage(d, like(w))),
    ];
    if inputs.len() == 3 {
        grads.push(db.map(|d| Tensor::from_storage(d, like(&inputs[2]))));
    }
    grads
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck;

    #[test]
    fn same_padding_puts_the_odd_zero_after() {
        assert_eq!(Padding::<2>::Same.amounts([4, 3], [1, 2]), [(1, 2), (2, 2)]);
        assert!("full"
            .parse::<Padding<2>>()
            .unwrap_err()
            .to_string()
            .contains("'valid', 'same'"));
        assert_eq!("2".parse::<Padding<1>>().unwrap(), Padding::Explicit([2]));
    }

    #[test]
    fn gradients_of_a_grouped_strided_dilated_convolution() {
        crate::manual_seed(5);
        let x = Tensor::randn([2, 4, 6, 5]).requires_grad();
        let w = Tensor::randn([4, 2, 2, 3]).requires_grad();
        let b = Tensor::randn([4]).requires_grad();
        let o = Conv2dParams::new()
            .stride((2, 1))
            .padding((1, 2))
            .dilation((1, 2))
            .groups(2);
        gradcheck(|t| t[0].conv2d(&t[1], Some(&t[2]), &o), &[x, w, b]).unwrap();
    }

    #[test]
    fn gradients_of_conv1d_with_same_padding_and_pointwise_conv2d() {
        crate::manual_seed(6);
        let x = Tensor::randn([2, 3, 7]).requires_grad();
        let w = Tensor::randn([2, 3, 4]).requires_grad();
        let o = Conv1dParams::new().padding(Padding::Same).dilation(2);
        gradcheck(|t| t[0].conv1d(&t[1], None, &o), &[x, w]).unwrap();
        let x = Tensor::randn([3, 2, 3, 3]).requires_grad();
        let w = Tensor::randn([4, 2, 1, 1]).requires_grad();
        gradcheck(|t| t[0].conv2d(&t[1], None, &Conv2dParams::new()), &[x, w]).unwrap();
    }

    #[test]
    #[should_panic(
        expected = "expected input[1, 4, 5, 5] to have 3 channels, but got 4 channels instead"
    )]
    fn channel_mismatch_panics_like_pytorch() {
        Tensor::zeros([1, 4, 5, 5]).conv2d(
            &Tensor::zeros([2, 3, 3, 3]),
            None,
            &Conv2dParams::new(),
        );
    }

    #[test]
    #[should_panic(
        expected = "Calculated padded input size per channel: (4 x 4). Kernel size: (5 x 5)"
    )]
    fn kernel_larger_than_padded_input_panics() {
        Tensor::zeros([1, 1, 2, 2]).conv2d(
            &Tensor::zeros([1, 1, 5, 5]),
            None,
            &Conv2dParams::new().padding(1),
        );
    }
}
