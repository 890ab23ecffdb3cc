//! Model files: safetensors exchanged with PyTorch (fixtures from tools/golden_safetensors.py),
//! the JSON card, atomic saves, and clear errors for bad files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferrite::nn::Module;
use ferrite::train::{
    card_path, load_model, load_state_dict, read_safetensors, save_model, save_state_dict,
    serialize_state_dict, state_dict, ModelCard,
};
use ferrite::{FerriteError, Tensor};

/// PyTorch's `Sequential(Linear(4, 8), ReLU(), Linear(8, 3))`, with its state-dict names.
struct Mlp {
    w0: Tensor,
    b0: Tensor,
    w2: Tensor,
    b2: Tensor,
}

impl Mlp {
    fn zeros() -> Mlp {
        Mlp {
            w0: Tensor::zeros([8, 4]).requires_grad(),
            b0: Tensor::zeros([8]).requires_grad(),
            w2: Tensor::zeros([3, 8]).requires_grad(),
            b2: Tensor::zeros([3]).requires_grad(),
        }
    }

    /// Element j of the k-th tensor is 0.5 * sin(0.37 j + k) (what the Python check expects).
    fn known_values() -> Mlp {
        let m = Mlp::zeros();
        for (k, (_, t)) in m.named_parameters().iter().enumerate() {
            let values: Vec<f32> = (0..t.numel())
                .map(|j| 0.5 * (0.37f32 * j as f32 + k as f32).sin())
                .collect();
            t.copy_(&Tensor::from_vec(values, t.dims().to_vec()));
        }
        m
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        let h = (&x.matmul(&self.w0.t()) + &self.b0).relu();
        &h.matmul(&self.w2.t()) + &self.b2
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![
            ("0.weight".into(), self.w0.clone()),
            ("0.bias".into(), self.b0.clone()),
            ("2.weight".into(), self.w2.clone()),
            ("2.bias".into(), self.b2.clone()),
        ]
    }
}

/// A model whose second layer is 4 wide instead of 3 (a shape mismatch).
struct WideMlp(Mlp);

impl Module for WideMlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.0.forward(x)
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut p = self.0.named_parameters();
        p[2].1 = Tensor::zeros([4, 8]);
        p[3].1 = Tensor::zeros([4]);
        p
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("ferrite-model-file-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn model_error_message(e: FerriteError) -> String {
    match e {
        FerriteError::Model { message, .. } => message,
        other => panic!("expected FerriteError::Model, got {other:?}"),
    }
}

#[test]
fn pytorch_file_loads_and_reproduces_pytorch_output() {
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("safetensors_torch_mlp.json")).unwrap(),
    )
    .unwrap();
    let floats = |key: &str| -> Vec<f32> {
        meta[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect()
    };
    let model = Mlp::zeros();
    load_state_dict(
        &model,
        &fixtures().join("safetensors_torch_mlp.safetensors"),
    )
    .unwrap();
    let x = Tensor::from_vec(floats("input"), [5, 4]);
    let got = model.forward(&x).to_vec();
    let expected = floats("output");
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert!((g - e).abs() < 1e-5, "Ferrite {g} vs PyTorch {e}");
    }
}

#[test]
fn ferrite_file_is_byte_identical_to_the_fixture_pytorch_verified() {
    // tools/golden_safetensors.py --verify loads this fixture in PyTorch with
    // load_state_dict(strict=True); here we check that Ferrite still writes exactly it.
    let bytes = serialize_state_dict(&state_dict(&Mlp::known_values())).unwrap();
    let fixture = fixtures().join("safetensors_ferrite_mlp.safetensors");
    if std::env::var_os("FERRITE_UPDATE_FIXTURES").is_some() {
        std::fs::write(&fixture, &bytes).unwrap();
    }
    assert_eq!(
        bytes,
        std::fs::read(&fixture).unwrap(),
        "Ferrite's safetensors output changed"
    );
    // Its header names the tensors as PyTorch does and carries safetensors.torch's metadata.
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    assert_eq!(header["__metadata__"]["format"], "pt");
    assert_eq!(header["0.weight"]["dtype"], "F32");
    assert_eq!(header["0.weight"]["shape"], serde_json::json!([8, 4]));
    assert_eq!(header["2.bias"]["shape"], serde_json::json!([3]));
}

#[test]
fn save_then_load_round_trips_weights_and_card() {
    let dir = scratch("round-trip");
    let path = dir.join("model.safetensors");
    let mut card =
        ModelCard::new(serde_json::json!({"layers": ["Linear(4, 8)", "ReLU", "Linear(8, 3)"]}));
    card.preprocessing = serde_json::json!({"scaler": {"mean": [0.5, 1.5], "std": [2.0, 3.0]}, "labels": ["a", "b", "c"]});
    card.metrics.insert("val_accuracy".into(), 0.9375);
    save_model(&Mlp::known_values(), &card, &path).unwrap();
    assert_eq!(card_path(&path), dir.join("model.json"));

    let loaded = Mlp::zeros();
    let back = load_model(&loaded, &path).unwrap();
    assert_eq!(back, card);
    assert_eq!(back.ferrite_version, env!("CARGO_PKG_VERSION"));
    for ((name, a), (_, b)) in Mlp::known_values()
        .named_parameters()
        .iter()
        .zip(loaded.named_parameters())
    {
        assert_eq!(a.to_vec(), b.to_vec(), "{name}");
    }
    // No temporary file is left beside the model.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["model.json", "model.safetensors"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn failed_save_leaves_the_previous_model_intact() {
    let dir = scratch("atomic");
    let path = dir.join("model.safetensors");
    save_state_dict(&Mlp::known_values(), &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    // A directory where the temporary file would go makes the save fail before the rename.
    let blocker = dir.join(format!(".model.safetensors.tmp-{}", std::process::id()));
    std::fs::create_dir(&blocker).unwrap();
    let err = save_state_dict(&Mlp::zeros(), &path).unwrap_err();
    assert!(matches!(err, FerriteError::Io { .. }), "{err:?}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the old model must survive a failed save"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_corrupt_and_foreign_files_are_model_errors() {
    let dir = scratch("corrupt");
    let good = serialize_state_dict(&state_dict(&Mlp::known_values())).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() - 10].to_vec()),
        ("header-cut", good[..20].to_vec()),
        ("empty", Vec::new()),
        ("garbage-header", {
            let mut b = good.clone();
            b[8..20].copy_from_slice(b"not json at ");
            b
        }),
        (
            "pickle",
            b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nq\x00".to_vec(),
        ),
        ("text", b"weight,bias\n1,2\n".to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.join(format!("{name}.safetensors"));
        std::fs::write(&path, &bytes).unwrap();
        let model = Mlp::known_values();
        let err = load_state_dict(&model, &path).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{name}: {text}");
        let message = model_error_message(err);
        assert!(
            message.contains("not a valid safetensors file"),
            "{name}: {message}"
        );
        // The model is untouched.
        assert_eq!(model.w0.to_vec(), Mlp::known_values().w0.to_vec());
    }
    let missing = load_state_dict(&Mlp::zeros(), &dir.join("absent.safetensors")).unwrap_err();
    assert!(matches!(missing, FerriteError::Io { .. }), "{missing:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes `tensors` as a safetensors file.
fn write_tensors(path: &Path, tensors: Vec<(&str, Tensor)>) {
    let state: Vec<(String, Tensor)> = tensors
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect();
    std::fs::write(path, serialize_state_dict(&state).unwrap()).unwrap();
}

#[test]
fn mismatched_keys_and_shapes_name_the_offending_keys() {
    let dir = scratch("mismatch");
    let m = Mlp::known_values();

    // Missing 2.bias, plus an unexpected key.
    let path = dir.join("keys.safetensors");
    write_tensors(
        &path,
        vec![
            ("0.weight", m.w0.clone()),
            ("0.bias", m.b0.clone()),
            ("2.weight", m.w2.clone()),
            ("fc.extra", m.b2.clone()),
        ],
    );
    let target = Mlp::zeros();
    let message = model_error_message(load_state_dict(&target, &path).unwrap_err());
    assert!(message.contains("missing keys: 2.bias"), "{message}");
    assert!(message.contains("unexpected keys: fc.extra"), "{message}");
    assert_eq!(
        target.w0.to_vec(),
        vec![0.0; 32],
        "nothing is loaded when keys mismatch"
    );

    // Shapes: a 3-class file into a 4-class model.
    let path = dir.join("shapes.safetensors");
    save_state_dict(&m, &path).unwrap();
    let message = model_error_message(load_state_dict(&WideMlp(Mlp::zeros()), &path).unwrap_err());
    assert!(message.contains("size mismatch"), "{message}");
    assert!(
        message.contains("2.weight: the file has shape [3, 8], the model [4, 8]"),
        "{message}"
    );
    assert!(message.contains("2.bias"), "{message}");
    assert!(!message.contains("0.weight"), "{message}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn integer_buffers_from_pytorch_are_read_as_floats() {
    // PyTorch's BatchNorm saves num_batches_tracked as int64.
    let header = r#"{"num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend(7i64.to_le_bytes());
    let dir = scratch("int64");
    let path = dir.join("bn.safetensors");
    std::fs::write(&path, &bytes).unwrap();
    let tensors: BTreeMap<String, Tensor> = read_safetensors(&path).unwrap();
    assert_eq!(tensors["num_batches_tracked"].item(), 7.0);
    assert!(tensors["num_batches_tracked"].dims().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_card_is_a_model_error() {
    let dir = scratch("card");
    let path = dir.join("model.safetensors");
    save_model(
        &Mlp::known_values(),
        &ModelCard::new(serde_json::json!("mlp")),
        &path,
    )
    .unwrap();
    std::fs::write(card_path(&path), "{\"ferrite_version\": 3").unwrap();
    let message = model_error_message(load_model(&Mlp::zeros(), &path).unwrap_err());
    assert!(
        message.contains("not a Ferrite model description"),
        "{message}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
