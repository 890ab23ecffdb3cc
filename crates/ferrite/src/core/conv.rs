//! The sizes of a convolution, the same on every device.

/// The sizes of one convolution, checked by the tensor-level entry point (`Tensor::conv2d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Images in the batch.
    pub batch: usize,
    /// Input channels (all groups).
    pub in_channels: usize,
    /// Output channels (all groups).
    pub out_channels: usize,
    /// Channel groups: group `g` sees input channels `g·cin/groups ..` only.
    pub groups: usize,
    /// Input height and width.
    pub in_size: [usize; 2],
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Steps between output positions.
    pub stride: [usize; 2],
    /// Zero rows on top and zero columns on the left (the bottom/right amount follows from
    /// `out_size`; `'same'` padding may put one more there).
    pub pad: [usize; 2],
    /// Spacing between kernel taps.
    pub dilation: [usize; 2],
    /// Output height and width.
    pub out_size: [usize; 2],
}

impl ConvGeometry {
    /// Input channels per group.
    pub fn group_in(&self) -> usize {
        self.in_channels / self.groups
    }

    /// Output channels per group.
    pub fn group_out(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Rows of a group's `col` matrix: `cin/groups · kh · kw`.
    pub fn col_rows(&self) -> usize {
        self.group_in() * self.kernel[0] * self.kernel[1]
    }

    /// Output positions per image and channel.
    pub fn out_plane(&self) -> usize {
        self.out_size[0] * self.out_size[1]
    }

    /// Input positions per image and channel.
    pub fn in_plane(&self) -> usize {
        self.in_size[0] * self.in_size[1]
    }

    /// A 1x1 kernel at stride 1 without padding reads the input as its own `col` matrix.
    pub fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.pad == [0, 0]
    }
}
