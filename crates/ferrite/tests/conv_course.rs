//! The course's worked convolution numbers, computed by hand: a 3x3 input padded by one to
//! 5x5 and convolved at stride 1 and 2, and a multi-channel convolution summed over channels
//! into one feature map.

use ferrite::nn::{Conv2d, Conv2dOptions, Module};
use ferrite::tensor::{Conv2dParams, Padding};
use ferrite::Tensor;

/// x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]; kernel k = [[1, 0, −1], [1, 0, −1], [1, 0, −1]]
/// (a vertical-edge detector). Padded by one, x is
///
/// ```text
/// 0 0 0 0 0
/// 0 1 2 3 0
/// 0 4 5 6 0
/// 0 7 8 9 0
/// 0 0 0 0 0
/// ```
///
/// and each output is Σ (window ⊙ k) = (left column sum) − (right column sum) of its window.
fn worked_input_and_kernel() -> (Tensor, Tensor) {
    let x = Tensor::arange(1.0, 10.0, 1.0).reshape([1, 1, 3, 3]);
    let k = Tensor::from_vec(
        vec![1.0, 0.0, -1.0, 1.0, 0.0, -1.0, 1.0, 0.0, -1.0],
        [1, 1, 3, 3],
    );
    (x, k)
}

#[test]
fn padded_3x3_at_stride_1() {
    let (x, k) = worked_input_and_kernel();
    let y = x.conv2d(&k, None, &Conv2dParams::new().padding(1));
    // Row 0 windows cover padded rows 0..3: column sums of rows (pad, 1 2 3, 4 5 6):
    //   (0,0): left 0, right 2+5 = 7 → −7;  (0,1): left 1+4 = 5, right 3+6 = 9 → −4;
    //   (0,2): left 2+5 = 7, right 0 → 7.
    // Row 1 (all three rows): (1,0): 0 − (2+5+8) = −15; (1,1): 12 − 18 = −6; (1,2): 15.
    // Row 2 (rows 4 5 6, 7 8 9, pad): (2,0): 0 − (5+8) = −13; (2,1): (4+7) − (6+9) = −4;
    //   (2,2): 5+8 = 13.
    assert_eq!(y.dims(), &[1, 1, 3, 3]);
    assert_eq!(
        y.to_vec(),
        vec![-7.0, -4.0, 7.0, -15.0, -6.0, 15.0, -13.0, -4.0, 13.0]
    );
    // 'same' padding gives the same thing for an odd kernel.
    let same = x.conv2d(&k, None, &Conv2dParams::new().padding(Padding::Same));
    assert_eq!(same.to_vec(), y.to_vec());
}

#[test]
fn padded_3x3_at_stride_2() {
    let (x, k) = worked_input_and_kernel();
    // ⌊(3 + 2 − 3)/2⌋ + 1 = 2 outputs per side: the corners of the stride-1 result.
    let y = x.conv2d(&k, None, &Conv2dParams::new().padding(1).stride(2));
    assert_eq!(y.dims(), &[1, 1, 2, 2]);
    assert_eq!(y.to_vec(), vec![-7.0, 7.0, -13.0, 13.0]);
}

#[test]
fn multi_channel_convolution_sums_over_channels_into_one_map() {
    // Two 3x3 channels, one 2x2 kernel per channel, one output map, bias 1:
    // channel 0 = [[1,2,0],[0,1,3],[2,0,1]] with kernel [[1,0],[0,1]] (main diagonal);
    // channel 1 = [[0,1,1],[1,0,2],[1,1,0]] with kernel [[0,1],[1,0]] (anti-diagonal).
    let x = Tensor::from_vec(
        vec![
            1., 2., 0., 0., 1., 3., 2., 0., 1., /* ch 1 */ 0., 1., 1., 1., 0., 2., 1., 1., 0.,
        ],
        [1, 2, 3, 3],
    );
    let w = Tensor::from_vec(
        vec![1., 0., 0., 1., /* ch 1 */ 0., 1., 1., 0.],
        [1, 2, 2, 2],
    );
    let b = Tensor::from_vec(vec![1.0], [1]);
    // channel 0 (diagonals): [[1+1, 2+3], [0+0, 1+1]] = [[2, 5], [0, 2]]
    // channel 1 (anti-diagonals): [[1+1, 1+0], [0+1, 2+1]] = [[2, 1], [1, 3]]
    // sum + bias: [[5, 7], [2, 6]]
    let conv = Conv2d::from_tensors(w, Some(b), Conv2dOptions::new()).unwrap();
    let y = conv.forward(&x);
    assert_eq!(y.dims(), &[1, 1, 2, 2]);
    assert_eq!(y.to_vec(), vec![5.0, 7.0, 2.0, 6.0]);
}

#[test]
fn output_size_formula_with_dilation() {
    // H = 10, P = 2, D = 3, K = 3, S = 2: ⌊(10 + 4 − 6 − 1)/2⌋ + 1 = 4
    let y = Tensor::zeros([1, 1, 10, 10]).conv2d(
        &Tensor::zeros([1, 1, 3, 3]),
        None,
        &Conv2dParams::new().padding(2).dilation(3).stride(2),
    );
    assert_eq!(y.dims(), &[1, 1, 4, 4]);
}
