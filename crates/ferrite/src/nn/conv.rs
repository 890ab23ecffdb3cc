//! Convolution layers `Conv1d` and `Conv2d` and their options, with PyTorch's weight shape
//! `(out, in/groups, *kernel)` and default initialisation `U(±1/√fan_in)`,
//! `fan_in = in/groups · kernel size`.

use super::{init, Module};
use crate::error::{FerriteError, Result};
use crate::tensor::{ConvParams, Padding, Size};
use crate::Tensor;

/// The hyper-parameters of a convolution layer over `N` spatial dimensions: stride, padding,
/// dilation, groups and bias (PyTorch's `nn.Conv2d` keyword arguments and defaults: 1, 0, 1,
/// 1, `bias=True`), built with chained setters and checked when the layer is built.
///
/// ```
/// use ferrite::nn::{Conv2dOptions, Padding};
/// let o = Conv2dOptions::new().stride(2).padding(1).groups(2).bias(false);
/// assert_eq!(o.stride, [2, 2]);
/// assert_eq!(o.padding, Padding::Explicit([1, 1]));
/// assert!(!o.bias);
/// let same: Padding<2> = "same".parse().unwrap();
/// assert_eq!(same, Padding::Same);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvOptions<const N: usize> {
    /// Steps between output positions.
    pub stride: [usize; N],
    /// Zero padding.
    pub padding: Padding<N>,
    /// Spacing between kernel taps.
    pub dilation: [usize; N],
    /// Channel groups (`groups = in_channels` is a depthwise convolution).
    pub groups: usize,
    /// Whether the layer learns a per-channel bias.
    pub bias: bool,
}

/// Options of a [`Conv1d`] layer.
pub type Conv1dOptions = ConvOptions<1>;
/// Options of a [`Conv2d`] layer.
pub type Conv2dOptions = ConvOptions<2>;

impl<const N: usize> Default for ConvOptions<N> {
    fn default() -> Self {
        ConvOptions {
            stride: [1; N],
            padding: Padding::default(),
            dilation: [1; N],
            groups: 1,
            bias: true,
        }
    }
}

impl<const N: usize> ConvOptions<N> {
    /// PyTorch's defaults: stride 1, no padding, dilation 1, one group, with bias.
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

    /// Sets whether the layer has a bias (PyTorch's `bias=False` is `.bias(false)`).
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// The arguments of the functional op ([`Tensor::conv2d`], [`Tensor::conv1d`]).
    pub fn params(&self) -> ConvParams<N> {
        ConvParams {
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            groups: self.groups,
        }
    }

    /// Checks the options against a layer's channels and kernel, with PyTorch's messages
    /// prefixed by the layer (`Conv2d`) and the parameter.
    pub fn validate(
        &self,
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; N],
    ) -> Result<()> {
        let layer = format!("Conv{N}d");
        let bad =
            |name: &str, msg: String| Err(FerriteError::invalid(format!("{layer} {name}"), msg));
        if in_channels == 0 {
            return bad("in_channels", "must be at least 1, got 0".into());
        }
        if out_channels == 0 {
            return bad("out_channels", "must be at least 1, got 0".into());
        }
        if kernel.contains(&0) {
            return bad("kernel_size", format!("must be positive, got {kernel:?}"));
        }
        if self.stride.contains(&0) {
            return bad("stride", format!("must be positive, got {:?}", self.stride));
        }
        if self.dilation.contains(&0) {
            return bad(
                "dilation",
                format!("must be positive, got {:?}", self.dilation),
            );
        }
        if self.groups == 0 {
            return bad("groups", "must be a positive integer, got 0".into());
        }
        if !in_channels.is_multiple_of(self.groups) {
            return bad(
                "groups",
                format!(
                    "in_channels ({in_channels}) must be divisible by groups ({})",
                    self.groups
                ),
            );
        }
        if !out_channels.is_multiple_of(self.groups) {
            return bad(
                "groups",
                format!(
                    "out_channels ({out_channels}) must be divisible by groups ({})",
                    self.groups
                ),
            );
        }
        if self.padding == Padding::Same && self.stride.iter().any(|&s| s != 1) {
            return bad(
                "padding",
                format!(
                    "padding='same' is not supported for strided convolutions (stride {:?}); use stride 1 or explicit padding",
                    self.stride
                ),
            );
        }
        Ok(())
    }
}

/// A convolution layer over `N` spatial dimensions; [`Conv1d`] and [`Conv2d`] are its two
/// uses.
pub struct ConvNd<const N: usize> {
    /// `(out_channels, in_channels/groups, *kernel)`, requires grad.
    pub weight: Tensor,
    /// `(out_channels)`, requires grad; `None` for a layer built with `bias(false)`.
    pub bias: Option<Tensor>,
    /// Stride, padding, dilation, groups and whether there is a bias.
    pub options: ConvOptions<N>,
}

/// 1-D convolution over `(N, C, L)` (PyTorch's `nn.Conv1d`).
///
/// # Shape
///
/// - Input: `(N, C_in, L_in)` or unbatched `(C_in, L_in)`.
/// - Output: `(N, C_out, L_out)` or `(C_out, L_out)`, where
///   `L_out = ⌊(L_in + 2·padding − dilation·(kernel_size − 1) − 1) / stride + 1⌋`;
///   `Padding::Same` gives `L_out = L_in` (stride 1 only) and `Padding::Valid` is padding 0.
///
/// ```
/// use ferrite::nn::{Conv1d, Conv1dOptions, Module};
/// use ferrite::Tensor;
/// let conv = Conv1d::with_options(2, 4, 3, Conv1dOptions::new().padding(1)).unwrap();
/// assert_eq!(conv.weight.dims(), &[4, 2, 3]);
/// assert_eq!(conv.forward(&Tensor::zeros([5, 2, 10])).dims(), &[5, 4, 10]);
/// ```
pub type Conv1d = ConvNd<1>;

/// 2-D convolution over `(N, C, H, W)` (PyTorch's `nn.Conv2d`).
///
/// # Shape
///
/// - Input: `(N, C_in, H_in, W_in)` or unbatched `(C_in, H_in, W_in)`.
/// - Output: `(N, C_out, H_out, W_out)` or `(C_out, H_out, W_out)`, where
///   `H_out = ⌊(H_in + 2·padding[0] − dilation[0]·(kernel_size[0] − 1) − 1) / stride[0] + 1⌋`
///   and `W_out` likewise with index 1; `Padding::Same` keeps `H_in × W_in` (stride 1 only) and
///   `Padding::Valid` is padding 0.
///
/// ```
/// use ferrite::nn::{Conv2d, Conv2dOptions, Module, Padding};
/// use ferrite::Tensor;
/// ferrite::manual_seed(0);
/// let conv = Conv2d::new(3, 16, 3).unwrap();
/// assert_eq!(conv.forward(&Tensor::randn([2, 3, 32, 32])).dims(), &[2, 16, 30, 30]);
/// let opts = Conv2dOptions::new().padding(Padding::Same).bias(false);
/// let same = Conv2d::with_options(3, 16, (3, 5), opts).unwrap();
/// assert_eq!(same.forward(&Tensor::randn([2, 3, 8, 8])).dims(), &[2, 16, 8, 8]);
/// assert!(same.bias.is_none());
/// // Hyper-parameters PyTorch rejects are errors.
/// assert!(Conv2d::with_options(3, 16, 3, Conv2dOptions::new().groups(2)).is_err());
/// ```
pub type Conv2d = ConvNd<2>;

impl<const N: usize> ConvNd<N> {
    /// A layer with bias and default options (stride 1, no padding), PyTorch's initialisation.
    /// Zero channels or a zero kernel size are errors.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Size<N>>,
    ) -> Result<Self> {
        Self::with_options(
            in_channels,
            out_channels,
            kernel_size,
            ConvOptions::default(),
        )
    }

    /// A layer with the given options (bias included). Invalid hyper-parameters (zero sizes,
    /// channels not divisible by groups, `'same'` with a stride) are errors naming the layer
    /// and the parameter.
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Size<N>>,
        options: ConvOptions<N>,
    ) -> Result<Self> {
        let kernel = kernel_size.into().0;
        options.validate(in_channels, out_channels, kernel)?;
        let mut dims = vec![out_channels, in_channels / options.groups];
        dims.extend(kernel);
        let weight = Tensor::zeros(dims);
        let bias = options.bias.then(|| Tensor::zeros([out_channels]));
        // kaiming_uniform(a = √5) for the weight is U(±1/√fan_in); the bias U(±1/√fan_in)
        init::linear_default(&weight, bias.as_ref());
        Ok(ConvNd {
            weight: weight.requires_grad(),
            bias: bias.map(|b| b.requires_grad()),
            options,
        })
    }

    /// A layer over given tensors (made leaves that require grad), e.g. to reproduce a
    /// PyTorch model. The weight must be `(out, in/groups, *kernel)`; `options.bias` is set
    /// from whether `bias` is given.
    pub fn from_tensors(
        weight: Tensor,
        bias: Option<Tensor>,
        options: ConvOptions<N>,
    ) -> Result<Self> {
        let d = weight.dims().to_vec();
        if d.len() != N + 2 {
            return Err(crate::FerriteError::Shape {
                op: format!("Conv{N}d"),
                message: format!(
                    "weight must have {} dimensions (out, in/groups, kernel...), got {d:?}",
                    N + 2
                ),
            });
        }
        let kernel: [usize; N] = std::array::from_fn(|i| d[2 + i]);
        let options = options.bias(bias.is_some());
        options.validate(d[1] * options.groups, d[0], kernel)?;
        if let Some(b) = &bias {
            if b.dims() != [d[0]] {
                return Err(crate::FerriteError::Shape {
                    op: format!("Conv{N}d"),
                    message: format!(
                        "bias shape {:?} does not match {} output channels",
                        b.dims(),
                        d[0]
                    ),
                });
            }
        }
        let leaf = |t: Tensor| t.detach_copy().requires_grad();
        Ok(ConvNd {
            weight: leaf(weight),
            bias: bias.map(leaf),
            options,
        })
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        self.weight.dims()[1] * self.options.groups
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Kernel size per spatial dimension.
    pub fn kernel_size(&self) -> [usize; N] {
        std::array::from_fn(|i| self.weight.dims()[2 + i])
    }
}

fn tuple(v: &[usize]) -> String {
    let inner: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    if v.len() == 1 {
        format!("({},)", inner[0])
    } else {
        format!("({})", inner.join(", "))
    }
}

macro_rules! conv_module {
    ($n:literal, $method:ident) => {
        impl Module for ConvNd<$n> {
            fn forward(&self, x: &Tensor) -> Tensor {
                x.$method(&self.weight, self.bias.as_ref(), &self.options.params())
            }

            fn named_parameters(&self) -> Vec<(String, Tensor)> {
                let mut p = vec![("weight".to_string(), self.weight.clone())];
                if let Some(b) = &self.bias {
                    p.push(("bias".to_string(), b.clone()));
                }
                p
            }

            fn describe(&self) -> String {
                let o = &self.options;
                let mut s = format!(
                    "Conv{}d({}, {}, kernel_size={}, stride={}",
                    $n,
                    self.in_channels(),
                    self.out_channels(),
                    tuple(&self.kernel_size()),
                    tuple(&o.stride)
                );
                match o.padding {
                    Padding::Valid => s.push_str(", padding=valid"),
                    Padding::Same => s.push_str(", padding=same"),
                    Padding::Explicit(p) if p.iter().any(|&v| v > 0) => {
                        s.push_str(&format!(", padding={}", tuple(&p)))
                    }
                    Padding::Explicit(_) => {}
                }
                if o.dilation.iter().any(|&d| d != 1) {
                    s.push_str(&format!(", dilation={}", tuple(&o.dilation)));
                }
                if o.groups != 1 {
                    s.push_str(&format!(", groups={}", o.groups));
                }
                if self.bias.is_none() {
                    s.push_str(", bias=False");
                }
                s.push(')');
                s
            }
        }
    };
}

conv_module!(1, conv1d);
conv_module!(2, conv2d);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_init_bound_and_description() {
        crate::manual_seed(1);
        let conv = Conv2d::with_options(
            4,
            8,
            (3, 5),
            Conv2dOptions::new().stride(2).padding(1).groups(2),
        )
        .unwrap();
        assert_eq!(conv.weight.dims(), &[8, 2, 3, 5]);
        // fan_in = 2·3·5 = 30
        let bound = 1.0 / 30f32.sqrt();
        let w = conv.weight.to_vec();
        assert!(w.iter().all(|v| v.abs() <= bound));
        assert!(w.iter().any(|v| v.abs() > 0.8 * bound));
        assert!(conv
            .bias
            .as_ref()
            .unwrap()
            .to_vec()
            .iter()
            .all(|v| v.abs() <= bound));
        assert_eq!(
            conv.describe(),
            "Conv2d(4, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), groups=2)"
        );
        let c1 = Conv1d::new(1, 2, 3).unwrap();
        assert_eq!(c1.describe(), "Conv1d(1, 2, kernel_size=(3,), stride=(1,))");
        let names: Vec<String> = c1.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
    }

    #[test]
    fn bad_hyper_parameters_and_tensors_are_errors() {
        assert!(Conv2d::new(3, 0, 3).is_err());
        assert!(Conv2d::new(3, 4, 0).is_err());
        assert!(
            Conv1d::from_tensors(Tensor::zeros([2, 3, 3, 3]), None, Default::default()).is_err()
        );
        let c = Conv1d::from_tensors(
            Tensor::ones([2, 3, 2]),
            Some(Tensor::zeros([2])),
            Default::default(),
        )
        .unwrap();
        assert_eq!(c.forward(&Tensor::ones([1, 3, 4])).to_vec(), vec![6.0; 6]);
        assert!(c.options.bias);
        let no_bias =
            Conv1d::from_tensors(Tensor::ones([2, 3, 2]), None, Default::default()).unwrap();
        assert!(!no_bias.options.bias);
        assert!(no_bias.describe().ends_with(", bias=False)"));
    }

    #[test]
    fn option_errors_name_the_layer_the_parameter_and_the_value() {
        let msg = |r: Result<Conv2d>| r.err().expect("an error").to_string();
        let e = msg(Conv2d::with_options(
            3,
            4,
            3,
            Conv2dOptions::new().groups(2),
        ));
        assert_eq!(
            e,
            "invalid Conv2d groups: in_channels (3) must be divisible by groups (2)"
        );
        let e = msg(Conv2d::new(3, 0, 3));
        assert_eq!(e, "invalid Conv2d out_channels: must be at least 1, got 0");
        let e = msg(Conv2d::new(3, 4, (3, 0)));
        assert_eq!(
            e,
            "invalid Conv2d kernel_size: must be positive, got [3, 0]"
        );
        let opts = Conv2dOptions::new().stride(2).padding(Padding::Same);
        let e = msg(Conv2d::with_options(3, 4, 3, opts));
        assert!(
            e.starts_with("invalid Conv2d padding: padding='same' is not supported for strided convolutions (stride [2, 2])"),
            "{e}"
        );
        let e = Conv1d::with_options(1, 1, 2, Conv1dOptions::new().stride(0))
            .err()
            .expect("an error")
            .to_string();
        assert_eq!(e, "invalid Conv1d stride: must be positive, got [0]");
    }

    #[test]
    fn bias_is_an_option_and_the_output_size_follows_the_formula() {
        crate::manual_seed(2);
        let conv = Conv2d::with_options(
            2,
            3,
            (3, 2),
            Conv2dOptions::new()
                .stride((2, 1))
                .padding((1, 0))
                .dilation((1, 2))
                .bias(false),
        )
        .unwrap();
        assert!(conv.bias.is_none());
        assert_eq!(conv.named_parameters().len(), 1);
        // H_out = ⌊(7 + 2·1 − 1·(3 − 1) − 1)/2 + 1⌋ = 4, W_out = ⌊(6 + 0 − 2·(2 − 1) − 1)/1 + 1⌋ = 4
        assert_eq!(
            conv.forward(&Tensor::zeros([1, 2, 7, 6])).dims(),
            &[1, 3, 4, 4]
        );
    }
}
