//! Reading the JSON fixtures that the `tools/golden_*.py` scripts write from PyTorch.

use ferrite::Tensor;
use serde_json::Value;

/// The parsed fixture `tests/fixtures/NAME`.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{path}: {e} (regenerate it with the tools/golden_*.py script)")
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON: {e}"))
}

/// A tensor stored as `{"shape": [...], "data": [...]}`.
pub fn tensor(v: &Value) -> Tensor {
    let numbers = |key: &str| -> Vec<f64> {
        v[key]
            .as_array()
            .unwrap_or_else(|| panic!("fixture tensor without {key}: {v}"))
            .iter()
            .map(|d| d.as_f64().expect("a number"))
            .collect()
    };
    let shape: Vec<usize> = numbers("shape").iter().map(|&d| d as usize).collect();
    let data: Vec<f32> = numbers("data").iter().map(|&d| d as f32).collect();
    Tensor::from_vec(data, shape)
}
