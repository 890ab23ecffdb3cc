//! Convolutions against PyTorch: outputs and the gradients for input, weight and bias, from
//! `tools/golden_conv.py` (fixture `fixtures/conv_golden.json`): stride 2, padding (numbers and
//! 'same'), dilation, groups, non-square kernels, 1-D and 2-D, batches larger than one.

use ferrite::tensor::{Conv1dParams, Conv2dParams, Padding};
use ferrite::Tensor;
use serde_json::Value;

mod fixture_support;
use fixture_support::{fixture, tensor};

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

fn assert_close(what: &str, got: &Tensor, want: &Value) {
    let want = tensor(want);
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    for (i, (a, b)) in got.to_vec().iter().zip(want.to_vec()).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 + 1e-4 * b.abs(),
            "{what}[{i}]: ferrite {a}, pytorch {b}"
        );
    }
}

#[test]
fn conv_forward_and_gradients_match_pytorch() {
    let cases = fixture("conv_golden.json");
    let cases = cases.as_object().unwrap();
    assert_eq!(cases.len(), 7);
    for (name, c) in cases {
        let x = tensor(&c["x"]).requires_grad();
        let w = tensor(&c["w"]).requires_grad();
        let b = c.get("b").map(|b| tensor(b).requires_grad());
        let (stride, dilation, groups) = (
            usizes(&c["stride"]),
            usizes(&c["dilation"]),
            c["groups"].as_u64().unwrap() as usize,
        );
        let y = if c["dim"] == 1 {
            let padding = match c["padding"].as_str() {
                Some(s) => s.parse().unwrap(),
                None => Padding::Explicit([usizes(&c["padding"])[0]]),
            };
            let o = Conv1dParams {
                stride: [stride[0]],
                padding,
                dilation: [dilation[0]],
                groups,
            };
            x.conv1d(&w, b.as_ref(), &o)
        } else {
            let padding = match c["padding"].as_str() {
                Some(s) => s.parse().unwrap(),
                None => {
                    let p = usizes(&c["padding"]);
                    Padding::Explicit([p[0], p[1]])
                }
            };
            let o = Conv2dParams {
                stride: [stride[0], stride[1]],
                padding,
                dilation: [dilation[0], dilation[1]],
                groups,
            };
            x.conv2d(&w, b.as_ref(), &o)
        };
        assert_close(&format!("{name} y"), &y, &c["y"]);
        (&y * &tensor(&c["r"])).sum().backward();
        assert_close(&format!("{name} dx"), &x.grad().unwrap(), &c["gx"]);
        assert_close(&format!("{name} dw"), &w.grad().unwrap(), &c["gw"]);
        if let Some(b) = b {
            assert_close(&format!("{name} db"), &b.grad().unwrap(), &c["gb"]);
        }
    }
}
