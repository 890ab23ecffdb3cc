//! Pooling against PyTorch (fixture `fixtures/conv_pool_golden.json` from
//! `tools/golden_conv.py`): max with ceil_mode, padding, dilation and non-square windows;
//! average with and without the padding in the divisor and with a divisor override; adaptive
//! average. Forward and input gradient. Plus the course's 4x4 → 2x2 worked example.

use ferrite::nn::{AvgPool2d, MaxPool2d, Module};
use ferrite::tensor::Pool2dParams;
use ferrite::Tensor;
use serde_json::Value;

mod fixture_support;
use fixture_support::{fixture, tensor};

fn pair(v: &Value) -> (usize, usize) {
    let a = v.as_array().unwrap();
    (
        a[0].as_u64().unwrap() as usize,
        a[1].as_u64().unwrap() as usize,
    )
}

fn assert_close(what: &str, got: &Tensor, want: &Value) {
    let want = tensor(want);
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    for (i, (a, b)) in got.to_vec().iter().zip(want.to_vec()).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 + 1e-5 * b.abs(),
            "{what}[{i}]: ferrite {a}, pytorch {b}"
        );
    }
}

#[test]
fn pooling_forward_and_gradients_match_pytorch() {
    let cases = fixture("conv_pool_golden.json");
    let cases = cases.as_object().unwrap();
    assert_eq!(cases.len(), 7);
    for (name, c) in cases {
        let x = tensor(&c["x"]).requires_grad();
        let y = match c["kind"].as_str().unwrap() {
            "adaptive" => x.adaptive_avg_pool2d(pair(&c["output_size"])),
            kind => {
                let mut o = Pool2dParams::new(pair(&c["kernel"]))
                    .padding(pair(&c["padding"]))
                    .dilation(pair(&c["dilation"]))
                    .ceil_mode(c["ceil_mode"].as_bool().unwrap())
                    .count_include_pad(c["count_include_pad"].as_bool().unwrap());
                if !c["stride"].is_null() {
                    o = o.stride(pair(&c["stride"]));
                }
                if let Some(d) = c["divisor_override"].as_u64() {
                    o = o.divisor_override(d as usize);
                }
                if kind == "max" {
                    x.max_pool2d(&o)
                } else {
                    x.avg_pool2d(&o)
                }
            }
        };
        assert_close(&format!("{name} y"), &y, &c["y"]);
        (&y * &tensor(&c["r"])).sum().backward();
        assert_close(&format!("{name} dx"), &x.grad().unwrap(), &c["gx"]);
    }
}

/// x =
/// ```text
///  1  3 | 2  1
///  4  6 | 5  0
/// ------+------
///  7  2 | 9  4
///  1  8 | 3 11
/// ```
fn four_by_four() -> Tensor {
    Tensor::from_vec(
        vec![
            1., 3., 2., 1., 4., 6., 5., 0., 7., 2., 9., 4., 1., 8., 3., 11.,
        ],
        [1, 1, 4, 4],
    )
}

#[test]
fn course_max_pooling_4x4_to_2x2_and_its_gradient() {
    let x = four_by_four().requires_grad();
    let y = MaxPool2d::new(2).unwrap().forward(&x);
    // max of each 2x2 quadrant: {1,3,4,6} → 6, {2,1,5,0} → 5, {7,2,1,8} → 8, {9,4,3,11} → 11
    assert_eq!(y.to_vec(), vec![6.0, 5.0, 8.0, 11.0]);
    y.sum().backward();
    // the gradient goes to the arg-max of each window only
    let mut want = vec![0.0; 16];
    for i in [5, 6, 13, 15] {
        want[i] = 1.0;
    }
    assert_eq!(x.grad().unwrap().to_vec(), want);
}

#[test]
fn course_average_pooling_4x4_to_2x2_and_its_gradient() {
    let x = four_by_four().requires_grad();
    let y = AvgPool2d::new(2).unwrap().forward(&x);
    // (1+3+4+6)/4 = 3.5, (2+1+5+0)/4 = 2, (7+2+1+8)/4 = 4.5, (9+4+3+11)/4 = 6.75
    assert_eq!(y.to_vec(), vec![3.5, 2.0, 4.5, 6.75]);
    y.sum().backward();
    // every input shares its window's gradient: 1/4
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.25; 16]);
}
