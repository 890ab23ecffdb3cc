//! Pooling layers: `MaxPool2d`, `AvgPool2d` and `AdaptiveAvgPool2d` (PyTorch's names and
//! defaults: the stride is the window unless given).

use super::Module;
use crate::error::Result;
use crate::tensor::{Pool2dOptions, Size};
use crate::Tensor;

fn pair(v: [usize; 2]) -> String {
    if v[0] == v[1] {
        v[0].to_string()
    } else {
        format!("({}, {})", v[0], v[1])
    }
}

/// Max pooling over 2-D windows; the gradient goes to each window's maximum.
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
        options.validate(true)?;
        Ok(MaxPool2d { options })
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.max_pool2d(&self.options)
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
        options.validate(false)?;
        Ok(AvgPool2d { options })
    }
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.avg_pool2d(&self.options)
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
/// ```
/// use ferrite::nn::{AdaptiveAvgPool2d, Module};
/// use ferrite::Tensor;
/// let gap = AdaptiveAvgPool2d::new(1);
/// assert_eq!(gap.forward(&Tensor::ones([2, 8, 7, 9])).dims(), &[2, 8, 1, 1]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct AdaptiveAvgPool2d {
    /// Output height and width.
    pub output_size: [usize; 2],
}

impl AdaptiveAvgPool2d {
    /// Pools to `output_size`.
    pub fn new(output_size: impl Into<Size<2>>) -> Self {
        AdaptiveAvgPool2d {
            output_size: output_size.into().0,
        }
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
}
