//! Convolution layers `Conv1d` and `Conv2d`, with PyTorch's weight shape
//! `(out, in/groups, *kernel)` and default initialisation `U(±1/√fan_in)`,
//! `fan_in = in/groups · kernel size`.

use super::{init, Module};
use crate::error::Result;
use crate::tensor::{ConvOptions, Padding, Size};
use crate::Tensor;

/// A convolution layer over `N` spatial dimensions; [`Conv1d`] and [`Conv2d`] are its two
/// uses.
pub struct ConvNd<const N: usize> {
    /// `(out_channels, in_channels/groups, *kernel)`, requires grad.
    pub weight: Tensor,
    /// `(out_channels)`, requires grad; `None` for a layer built with `bias(false)`.
    pub bias: Option<Tensor>,
    /// Stride, padding, dilation and groups.
    pub options: ConvOptions<N>,
}

/// 1-D convolution over `(N, C, L)` (PyTorch's `nn.Conv1d`).
///
/// ```
/// use ferrite::nn::{Conv1d, Module};
/// use ferrite::tensor::Conv1dOptions;
/// use ferrite::Tensor;
/// let conv = Conv1d::with_options(2, 4, 3, Conv1dOptions::new().padding(1), true).unwrap();
/// assert_eq!(conv.weight.dims(), &[4, 2, 3]);
/// assert_eq!(conv.forward(&Tensor::zeros([5, 2, 10])).dims(), &[5, 4, 10]);
/// ```
pub type Conv1d = ConvNd<1>;

/// 2-D convolution over `(N, C, H, W)` (PyTorch's `nn.Conv2d`).
///
/// ```
/// use ferrite::nn::{Conv2d, Module};
/// use ferrite::tensor::{Conv2dOptions, Padding};
/// use ferrite::Tensor;
/// ferrite::manual_seed(0);
/// let conv = Conv2d::new(3, 16, 3).unwrap();
/// assert_eq!(conv.forward(&Tensor::randn([2, 3, 32, 32])).dims(), &[2, 16, 30, 30]);
/// let same = Conv2d::with_options(3, 16, (3, 5), Conv2dOptions::new().padding(Padding::Same), false).unwrap();
/// assert_eq!(same.forward(&Tensor::randn([2, 3, 8, 8])).dims(), &[2, 16, 8, 8]);
/// // Hyper-parameters PyTorch rejects are errors.
/// assert!(Conv2d::with_options(3, 16, 3, Conv2dOptions::new().groups(2), true).is_err());
/// ```
pub type Conv2d = ConvNd<2>;

impl<const N: usize> ConvNd<N> {
    /// A layer with bias and default options (stride 1, no padding), PyTorch's initialisation.
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
            true,
        )
    }

    /// A layer with the given options, with or without bias. Invalid hyper-parameters (zero
    /// sizes, channels not divisible by groups, `'same'` with a stride) are errors.
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Size<N>>,
        options: ConvOptions<N>,
        bias: bool,
    ) -> Result<Self> {
        let kernel = kernel_size.into().0;
        options.validate(in_channels, out_channels, kernel)?;
        let mut dims = vec![out_channels, in_channels / options.groups];
        dims.extend(kernel);
        let weight = Tensor::zeros(dims);
        let bias = bias.then(|| Tensor::zeros([out_channels]));
        // kaiming_uniform(a = √5) for the weight is U(±1/√fan_in); the bias U(±1/√fan_in)
        init::linear_default(&weight, bias.as_ref());
        Ok(ConvNd {
            weight: weight.requires_grad(),
            bias: bias.map(|b| b.requires_grad()),
            options,
        })
    }

    /// A layer over given tensors (made leaves that require grad), e.g. to reproduce a
    /// PyTorch model. The weight must be `(out, in/groups, *kernel)`.
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
        let leaf = |t: Tensor| t.detach().contiguous_owned().requires_grad();
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
                x.$method(&self.weight, self.bias.as_ref(), &self.options)
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
    use crate::tensor::Conv2dOptions;

    #[test]
    fn default_init_bound_and_description() {
        crate::manual_seed(1);
        let conv = Conv2d::with_options(
            4,
            8,
            (3, 5),
            Conv2dOptions::new().stride(2).padding(1).groups(2),
            true,
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
    }
}
