//! What the AVX-512 kernels (`sgemm`, `amx`, `conv_direct`, the 2×2 max pool) share: whether
//! they may run, the lane masks of partial vectors, and a 16×16 transpose.

use super::isa::{isa, Isa};
use std::arch::x86_64::*;

/// True when the AVX-512 kernels may run: the level of [`isa`] (the processor's, unless
/// `FERRITE_ISA` lowers it) is AVX-512 or above, which implies the processor has AVX-512F.
pub(crate) fn available() -> bool {
    isa() >= Isa::Avx512
}

/// The mask of the first `n` of 16 lanes (all of them for `n ≥ 16`).
#[inline]
pub(crate) fn lanes(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        (1u16 << n) - 1
    }
}

/// Transposes a 16×16 block held as 16 row vectors.
///
/// # Safety
/// The processor must have AVX-512F ([`available`]).
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) unsafe fn transpose16(r: &mut [__m512; 16]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_masks_cover_the_first_n_lanes() {
        assert_eq!(lanes(0), 0);
        assert_eq!(lanes(1), 1);
        assert_eq!(lanes(15), 0x7fff);
        assert_eq!(lanes(16), 0xffff);
        assert_eq!(lanes(40), 0xffff);
    }

    #[test]
    fn transpose16_turns_a_block() {
        let block: Vec<f32> = (0..256).map(|v| v as f32).collect();
        let want: Vec<f32> = (0..256).map(|v| ((v % 16) * 16 + v / 16) as f32).collect();
        if !available() {
            // The only fallback is the packing loops of the portable matrix product, which
            // need no transpose; what must hold here is that no kernel claims AVX-512.
            assert!(isa() < Isa::Avx512);
            assert!(!super::super::sgemm::available() && !super::super::conv_direct::available());
            return;
        }
        let mut got = vec![0.0f32; 256];
        // SAFETY: `available()` says the processor has AVX-512F; the buffers hold 256 values.
        unsafe {
            let mut rows = [_mm512_setzero_ps(); 16];
            for (r, row) in rows.iter_mut().enumerate() {
                *row = _mm512_loadu_ps(block.as_ptr().add(16 * r));
            }
            transpose16(&mut rows);
            for (r, row) in rows.iter().enumerate() {
                _mm512_storeu_ps(got.as_mut_ptr().add(16 * r), *row);
            }
        }
        assert_eq!(got, want);
    }
}
