//! The sizes of a pooling and the divisor rule of average pooling, the same on every device.

/// The sizes of one pooling, checked by the tensor-level entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeometry {
    /// Number of planes: batch × channels.
    pub planes: usize,
    /// Input height and width.
    pub in_size: [usize; 2],
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Steps between windows.
    pub stride: [usize; 2],
    /// Implicit padding on each side.
    pub pad: [usize; 2],
    /// Spacing between window taps (max pooling only; 1 for average pooling).
    pub dilation: [usize; 2],
    /// Output height and width.
    pub out_size: [usize; 2],
}

impl PoolGeometry {
    /// Input positions per plane.
    pub fn in_plane(&self) -> usize {
        self.in_size[0] * self.in_size[1]
    }

    /// Output positions per plane.
    pub fn out_plane(&self) -> usize {
        self.out_size[0] * self.out_size[1]
    }
}

/// How average pooling divides each window's sum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AvgDivisor {
    /// The window clipped to the padded input `[−p, H + p)` (PyTorch's `count_include_pad=True`).
    IncludePad,
    /// The window clipped to the input (`count_include_pad=False`).
    ExcludePad,
    /// A fixed divisor (`divisor_override`).
    Fixed(usize),
}
