//! What the AVX-512 kernels (`sgemm`, `amx`, `conv_direct`, the 2×2 max pool) share: whether
//! this processor runs them, the lane masks of partial vectors, and a 16×16 transpose.

use std::arch::x86_64::*;

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

/// Transposes a 16×16 block held as 16 row vectors.
///
/// # Safety
/// The processor must have AVX-512 ([`available`]).
#[target_feature(enable = "avx512f")]
#[inline]
pub unsafe fn transpose16(r: &mut [__m512; 16]) {
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    let mut u = [_mm512_setzero_ps(); 16];
    for g in 0..4 {
        let (t0, t1) = (_mm512_castps_pd(t[4 * g]), _mm512_castps_pd(t[4 * g + 1]));
        let (t2, t3) = (
            _mm512_castps_pd(t[4 * g + 2]),
            _mm512_castps_pd(t[4 * g + 3]),
        );
        u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    // u[4g + c] holds columns c, c+4, c+8, c+12 (one per 128-bit lane) of rows 4g..4g+4.
    for c in 0..4 {
        let v0 = _mm512_shuffle_f32x4::<0x44>(u[c], u[4 + c]);
        let v1 = _mm512_shuffle_f32x4::<0xEE>(u[c], u[4 + c]);
        let w0 = _mm512_shuffle_f32x4::<0x44>(u[8 + c], u[12 + c]);
        let w1 = _mm512_shuffle_f32x4::<0xEE>(u[8 + c], u[12 + c]);
        r[c] = _mm512_shuffle_f32x4::<0x88>(v0, w0);
        r[c + 4] = _mm512_shuffle_f32x4::<0xDD>(v0, w0);
        r[c + 8] = _mm512_shuffle_f32x4::<0x88>(v1, w1);
        r[c + 12] = _mm512_shuffle_f32x4::<0xDD>(v1, w1);
    }
}
