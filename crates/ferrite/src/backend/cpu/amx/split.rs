//! The bf16×3 split: every f32 is exactly `hi + mid + lo`, three bf16 values (see the
//! [module](super) for why the six products of the parts give f32 accuracy), in AVX-512
//! vectors and in scalar form.

use std::arch::x86_64::*;

/// Splits 16 f32 lanes into their three bf16 parts, each in the high half of a 32-bit lane
/// (low half zero), and the mask of lanes the tile unit cannot take exactly: ±∞, NaN and
/// subnormals (which it reads as zero). NaN keeps a quiet NaN in `hi`; ±∞ and NaN have zero
/// `mid` and `lo`.
///
/// # Safety
/// The processor must have AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn split(x: __m512) -> ([__m512i; 3], __mmask16) {
    let high = _mm512_set1_epi32(0xffff_0000u32 as i32);
    let bits = _mm512_castps_si512(x);
    let hi = _mm512_and_si512(bits, high);
    let rest = _mm512_sub_ps(x, _mm512_castsi512_ps(hi));
    let mid = _mm512_and_si512(_mm512_castps_si512(rest), high);
    let lo = _mm512_castps_si512(_mm512_sub_ps(rest, _mm512_castsi512_ps(mid)));
    let exponent = _mm512_set1_epi32(0x7f80_0000);
    let biased = _mm512_and_si512(bits, exponent);
    let special = _mm512_cmpeq_epi32_mask(biased, exponent);
    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
    let hi = _mm512_mask_mov_epi32(hi, nan, _mm512_set1_epi32(0x7fc0_0000));
    let zero = _mm512_setzero_si512();
    let subnormal = _mm512_cmpeq_epi32_mask(biased, zero)
        & _mm512_test_epi32_mask(bits, _mm512_set1_epi32(0x007f_ffff));
    let parts = [
        hi,
        _mm512_mask_mov_epi32(mid, special, zero),
        _mm512_mask_mov_epi32(lo, special, zero),
    ];
    (parts, special | subnormal)
}

/// The scalar form of [`split`], as bf16 bit patterns.
pub(super) fn split_scalar(x: f32) -> [u16; 3] {
    if !x.is_finite() {
        let hi = if x.is_nan() {
            0x7fc0
        } else {
            (x.to_bits() >> 16) as u16
        };
        return [hi, 0, 0];
    }
    let hi = f32::from_bits(x.to_bits() & 0xffff_0000);
    let rest = x - hi;
    let mid = f32::from_bits(rest.to_bits() & 0xffff_0000);
    let lo = rest - mid;
    [
        (hi.to_bits() >> 16) as u16,
        (mid.to_bits() >> 16) as u16,
        (lo.to_bits() >> 16) as u16,
    ]
}

/// Per part, lane q: the bf16 pair (depth 2q, depth 2q+1), from the parts of 16 even and
/// 16 odd depths (each in the high halves of its lanes).
///
/// # Safety
/// The processor must have AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn pairs(even: [__m512i; 3], odd: [__m512i; 3]) -> [__m512i; 3] {
    std::array::from_fn(|p| _mm512_or_si512(_mm512_srli_epi32::<16>(even[p]), odd[p]))
}

/// Per part, the bf16 values of 32 consecutive depths in order (lane q holds the pair
/// 2q, 2q+1), from the parts of depths 0..16 and 16..32.
///
/// # Safety
/// The processor must have AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn in_order(first: [__m512i; 3], second: [__m512i; 3]) -> [__m512i; 3] {
    std::array::from_fn(|p| {
        let lo = _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(first[p]));
        let hi = _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(second[p]));
        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
    })
}
