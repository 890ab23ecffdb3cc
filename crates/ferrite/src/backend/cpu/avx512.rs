//! What the AVX-512 kernels (`sgemm`, `conv_direct`, the 2×2 max pool) share: whether this
//! processor runs them, and the lane masks of partial vectors.

use std::arch::x86_64::__mmask16;

/// True when this processor runs the AVX-512 kernels (checked once, then cached by std).
pub fn available() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// The mask of the first `n` of 16 lanes (all of them for `n ≥ 16`).
#[inline]
pub fn lanes(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        (1u16 << n) - 1
    }
}
