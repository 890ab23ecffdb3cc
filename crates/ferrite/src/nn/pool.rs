//! Pooling layers: `MaxPool2d`, `AvgPool2d` and `AdaptiveAvgPool2d` (PyTorch's names and
//! defaults: the stride is the window unless given).

use super::Module;
use crate::error::{FerriteError, Result};
use crate::tensor::{Pool2dParams, Size};
use crate::Tensor;

/// The hyper-parameters of [`MaxPool2d`] and [`AvgPool2d`]: window, stride (the window by
/// default), padding, dilation, rounding and the average's divisor, with PyTorch's defaults,
/// built with chained setters and checked when the layer is built.
///
/// ```
/// use ferrite::nn::{MaxPool2d, Module, Pool2dOptions};
/// use ferrite::Tensor;
/// let x = Tensor::arange(0.0, 16.0, 1.0).reshape([1, 1, 4, 4]);
/// let pool = MaxPool2d::with_options(Pool2dOptions::new(3).stride(2).ceil_mode(true)).unwrap();
/// assert_eq!(pool.forward(&x).dims(), &[1, 1, 2, 2]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dOptions {
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

impl Pool2dOptions {
    /// A `kernel` window at stride `kernel`, no padding, floor rounding.
    pub fn new(kernel: impl Into<Size<2>>) -> Self {
        Self::from_params(Pool2dParams::new(kernel))
    }

    /// The same values as the functional op's arguments, so PyTorch's defaults are written
    /// once (in `Pool2dParams::new`).
    fn from_params(p: Pool2dParams) -> Self {
        Pool2dOptions {
            kernel: p.kernel,
            stride: p.stride,
            padding: p.padding,
            dilation: p.dilation,
            ceil_mode: p.ceil_mode,
            count_include_pad: p.count_include_pad,
            divisor_override: p.divisor_override,
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

    /// The arguments of the functional ops ([`Tensor::max_pool2d`], [`Tensor::avg_pool2d`]).
    pub fn params(&self) -> Pool2dParams {
        Pool2dParams {
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            ceil_mode: self.ceil_mode,
            count_include_pad: self.count_include_pad,
            divisor_override: self.divisor_override,
        }
    }

    /// The functional op's checks (PyTorch's messages) as an error naming the layer.
    fn validate(&self, layer: &str, max: bool) -> Result<()> {
        self.params().validate(max).map_err(|e| match e {
            FerriteError::InvalidArgument { name, message } => {
                FerriteError::invalid(format!("{layer} {name}"), message)
            }
            other => other,
        })
    }
}

fn pair(v: [usize; 2]) -> String {
    if v[0] == v[1] {
        v[0].to_string()
    } else {
        format!("({}, {})", v[0], v[1])
    }
}

/// Max pooling over 2-D windows; the gradient goes to each window's maximum.
///
/// # Shape
///
/// - Input: `(N, C, H_in, W_in)` or unbatched `(C, H_in, W_in)`.
/// - Output: `(N, C, H_out, W_out)` or `(C, H_out, W_out)`, where
///   `H_out = ⌊(H_in + 2·padding[0] − dilation[0]·(kernel[0] − 1) − 1) / stride[0] + 1⌋`
///   (`⌈…⌉` with `ceil_mode`, less one when that last window would start in the right
///   padding), and `W_out` likewise with index 1; the stride defaults to the kernel.
///
/// ```
/// use ferrite::nn::{MaxPool2d, Module};
/// use ferrite::Tensor;
/// let pool = MaxPool2d::new(2).unwrap();
/// let x = Tensor::from_vec(vec![1., 2., 3., 4.], [1, 1, 2, 2]);
/// assert_eq!(pool.forward(&x).to_vec(), vec![4.0]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d {
    /// Window, stride, padding, dilation and rounding.
    pub options: Pool2dOptions,
}

impl MaxPool2d {
    /// A `kernel` window at stride `kernel`.
    pub fn new(kernel: impl Into<Size<2>>) -> Result<Self> {
        Self::with_options(Pool2dOptions::new(kernel))
    }

    /// A layer with all options; padding larger than half the dilated window is an error.
    pub fn with_options(options: Pool2dOptions) -> Result<Self> {
        options.validate("MaxPool2d", true)?;
        Ok(MaxPool2d { options })
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.max_pool2d(&self.options.params())
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    fn describe(&self) -> String {
        let o = &self.options;
        format!(
            "MaxPool2d(kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={})",
            pair(o.kernel),
            pair(o.effective_stride()),
            pair(o.padding),
            pair(o.dilation),
            if o.ceil_mode { "True" } else { "False" }
        )
    }
}

/// Average pooling over 2-D windows.
///
/// # Shape
///
/// - Input: `(N, C, H_in, W_in)` or unbatched `(C, H_in, W_in)`.
/// - Output: `(N, C, H_out, W_out)` or `(C, H_out, W_out)`, where
///   `H_out = ⌊(H_in + 2·padding[0] − kernel[0]) / stride[0] + 1⌋` (`⌈…⌉` with `ceil_mode`,
///   less one when that last window would start in the right padding), and `W_out` likewise;
///   the stride defaults to the kernel.
///
/// ```
/// use ferrite::nn::{AvgPool2d, Module};
/// use ferrite::Tensor;
/// let pool = AvgPool2d::new(2).unwrap();
/// let x = Tensor::from_vec(vec![1., 2., 3., 4.], [1, 1, 2, 2]);
/// assert_eq!(pool.forward(&x).to_vec(), vec![2.5]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct AvgPool2d {
    /// Window, stride, padding, rounding and divisor.
    pub options: Pool2dOptions,
}

impl AvgPool2d {
    /// A `kernel` window at stride `kernel`.
    pub fn new(kernel: impl Into<Size<2>>) -> Result<Self> {
        Self::with_options(Pool2dOptions::new(kernel))
    }

    /// A layer with all options; padding larger than half the window is an error.
    pub fn with_options(options: Pool2dOptions) -> Result<Self> {
        options.validate("AvgPool2d", false)?;
        Ok(AvgPool2d { options })
    }
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.avg_pool2d(&self.options.params())
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    fn describe(&self) -> String {
        let o = &self.options;
        format!(
            "AvgPool2d(kernel_size={}, stride={}, padding={})",
            pair(o.kernel),
            pair(o.effective_stride()),
            pair(o.padding)
        )
    }
}

/// Average pooling to a fixed output size, whatever the input size (used before a linear
/// head so one model takes images of any size).
///
/// # Shape
///
/// - Input: `(N, C, H_in, W_in)` or unbatched `(C, H_in, W_in)`, any non-empty size.
/// - Output: `(N, C, H_out, W_out)` or `(C, H_out, W_out)` with `[H_out, W_out] =
///   output_size`; output cell `i` averages inputs `⌊i·H_in/H_out⌋ .. ⌈(i+1)·H_in/H_out⌉`.
///
/// ```
/// use ferrite::nn::{AdaptiveAvgPool2d, Module};
/// use ferrite::Tensor;
/// let gap = AdaptiveAvgPool2d::new(1).unwrap();
/// assert_eq!(gap.forward(&Tensor::ones([2, 8, 7, 9])).dims(), &[2, 8, 1, 1]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct AdaptiveAvgPool2d {
    /// Output height and width.
    pub output_size: [usize; 2],
}

impl AdaptiveAvgPool2d {
    /// Pools to `output_size`; a zero height or width is an error.
    pub fn new(output_size: impl Into<Size<2>>) -> Result<Self> {
        let output_size = output_size.into().0;
        if output_size.contains(&0) {
            return Err(FerriteError::invalid(
                "AdaptiveAvgPool2d output_size",
                format!("must be at least 1 in each dimension, got {output_size:?}"),
            ));
        }
        Ok(AdaptiveAvgPool2d { output_size })
    }
}

impl Module for AdaptiveAvgPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.adaptive_avg_pool2d(self.output_size)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    fn describe(&self) -> String {
        format!("AdaptiveAvgPool2d(output_size={})", pair(self.output_size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_and_errors() {
        assert_eq!(
            MaxPool2d::new(2).unwrap().describe(),
            "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
        );
        assert_eq!(
            AvgPool2d::new((2, 3)).unwrap().describe(),
            "AvgPool2d(kernel_size=(2, 3), stride=(2, 3), padding=0)"
        );
        assert!(MaxPool2d::with_options(Pool2dOptions::new(2).padding(2)).is_err());
        assert!(AvgPool2d::with_options(Pool2dOptions::new(2).dilation(2)).is_err());
        assert!(MaxPool2d::new(0).is_err());
    }

    #[test]
    fn errors_name_the_layer_the_parameter_and_the_value() {
        let e = MaxPool2d::with_options(Pool2dOptions::new(3).padding(2))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "invalid MaxPool2d padding: pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and dilation=1");
        let e = AvgPool2d::new((2, 0)).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid AvgPool2d kernel_size: must be greater than zero, but got [2, 0]"
        );
        let e = AdaptiveAvgPool2d::new((0, 3)).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid AdaptiveAvgPool2d output_size: must be at least 1 in each dimension, got [0, 3]"
        );
        assert_eq!(AdaptiveAvgPool2d::new(1).unwrap().output_size, [1, 1]);
    }

    #[test]
    fn output_sizes_follow_the_documented_formulas() {
        let x = Tensor::zeros([1, 1, 7, 6]);
        // ⌊(7 + 2 − 2·(3 − 1) − 1)/2 + 1⌋ = 3, ⌊(6 + 2 − 2·2 − 1)/2 + 1⌋ = 2
        let max = MaxPool2d::with_options(Pool2dOptions::new(3).stride(2).padding(1).dilation(2));
        assert_eq!(max.unwrap().forward(&x).dims(), &[1, 1, 3, 2]);
        // ⌈(7 − 2)/2⌉ + 1 = 4 (the last window starts at 6 < 7), ⌈(6 − 2)/2⌉ + 1 = 3
        let avg = AvgPool2d::with_options(Pool2dOptions::new(2).ceil_mode(true)).unwrap();
        assert_eq!(avg.forward(&x).dims(), &[1, 1, 4, 3]);
        let gap = AdaptiveAvgPool2d::new((2, 4)).unwrap();
        assert_eq!(gap.forward(&Tensor::zeros([3, 7, 6])).dims(), &[3, 2, 4]);
    }
}
