//! Model files: a module's state dict as safetensors with PyTorch's parameter names, and a
//! JSON description beside it (architecture, preprocessing, metrics).
//!
//! A file written here loads in PyTorch with
//! `model.load_state_dict(safetensors.torch.load_file(path))`, and a file saved from PyTorch
//! with `safetensors.torch.save_file(model.state_dict(), path)` loads here
//! (`tools/golden_safetensors.py` checks both directions).
//!
//! Saving writes a temporary file beside the target and renames it over the target, so an
//! interrupted save leaves the previous model intact. Loading checks every key, shape and
//! value (NaN and infinities are refused) before touching the model, so a mismatched or
//! corrupt file leaves the model unchanged. A card with a non-finite metric is not saved.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::error::{FerriteError, Result};
use crate::nn::Module;
use crate::Tensor;

/// The module's parameters and buffers by name (PyTorch's `state_dict()`), parameters first.
pub fn state_dict(model: &dyn Module) -> Vec<(String, Tensor)> {
    let mut entries = model.named_parameters();
    entries.extend(model.named_buffers());
    entries
}

/// A copy of every parameter and buffer, detached from the model (for "restore best weights").
pub fn snapshot_state(model: &dyn Module) -> Vec<(String, Tensor)> {
    state_dict(model)
        .into_iter()
        .map(|(name, t)| (name, t.detach_copy()))
        .collect()
}

/// Copies `state` (as made by [`snapshot_state`]) back into the model's tensors in place.
/// Panics when a name is missing or a shape differs: snapshots come from the same model.
pub fn restore_state(model: &dyn Module, state: &[(String, Tensor)]) {
    let by_name: HashMap<&str, &Tensor> = state.iter().map(|(n, t)| (n.as_str(), t)).collect();
    for (name, target) in state_dict(model) {
        let src = by_name
            .get(name.as_str())
            .unwrap_or_else(|| panic!("restore_state: the snapshot has no tensor named {name}"));
        target.copy_(src);
    }
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same folder, flushed to
/// disk, then renamed over `path` (a rename within one file system replaces it in one step).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| FerriteError::Io { path: p, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io_err(path))
    })();
    if result.is_err() {
        // Best effort: the temporary file is garbage once the save failed.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The safetensors bytes of a state dict: f32 tensors, row-major, little-endian, with the
/// metadata `{"format": "pt"}` that `safetensors.torch.save_file` writes.
pub fn serialize_state_dict(state: &[(String, Tensor)]) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = state
        .iter()
        .map(|(name, t)| {
            let data: Vec<u8> = t.to_vec().iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.clone(), t.dims().to_vec(), data)
        })
        .collect();
    let model_err = |message: String| FerriteError::Model {
        path: PathBuf::new(),
        message,
    };
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (name.as_str(), v))
                .map_err(|e| model_err(format!("tensor {name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| model_err(e.to_string()))
}

/// Saves the model's state dict (parameters and buffers, PyTorch names) to `path` as
/// safetensors, atomically.
///
/// ```no_run
/// # fn demo(model: &dyn ferrite::nn::Module) -> ferrite::Result<()> {
/// ferrite::train::save_state_dict(model, "model.safetensors".as_ref())?;
/// ferrite::train::load_state_dict(model, "model.safetensors".as_ref())?;
/// # Ok(()) }
/// ```
pub fn save_state_dict(model: &dyn Module, path: &Path) -> Result<()> {
    let bytes = serialize_state_dict(&state_dict(model)).map_err(|e| with_path(e, path))?;
    write_atomic(path, &bytes)
}

/// Fills `e`'s path when it is a model error made before the path was known.
fn with_path(e: FerriteError, path: &Path) -> FerriteError {
    match e {
        FerriteError::Model { message, .. } => FerriteError::Model {
            path: path.to_path_buf(),
            message,
        },
        other => other,
    }
}

/// Reads the tensors of a safetensors file as f32, keyed by name. F32 and F64 tensors are
/// read as values; I64 and I32 ones (PyTorch's `num_batches_tracked`) are converted.
pub fn read_safetensors(path: &Path) -> Result<BTreeMap<String, Tensor>> {
    let bytes = std::fs::read(path).map_err(|source| FerriteError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_safetensors(&bytes).map_err(|e| with_path(e, path))
}

/// [`read_safetensors`] on bytes in memory.
pub fn parse_safetensors(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>> {
    let err = |message: String| FerriteError::Model {
        path: PathBuf::new(),
        message,
    };
    let file = SafeTensors::deserialize(bytes).map_err(|e| {
        err(format!(
            "not a valid safetensors file ({e}); the file may be truncated, corrupt, or in another format \
             (PyTorch's torch.save pickles are not supported: save with safetensors.torch.save_file)"
        ))
    })?;
    let mut out = BTreeMap::new();
    for (name, view) in file.tensors() {
        // safetensors accepts an empty tensor of any shape, such as [0, 2^40, 2^40], whose
        // strides would overflow: refuse dimensions that multiply past usize (zeros aside).
        let shape = view.shape();
        if shape
            .iter()
            .filter(|&&d| d > 0)
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .is_none()
        {
            return Err(err(format!(
                "tensor {name} has shape {shape:?}, whose dimensions multiply past the largest \
                 size there is; the file is corrupt"
            )));
        }
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            Dtype::I64 => data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            Dtype::I32 => data
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as f32)
                .collect(),
            other => {
                return Err(err(format!(
                    "tensor {name} has dtype {other:?}; Ferrite reads F32, F64, I64 and I32 \
                     (convert with tensor.float() before saving)"
                )))
            }
        };
        out.insert(name, Tensor::from_vec(values, view.shape().to_vec()));
    }
    Ok(out)
}

/// Loads a safetensors state dict into the model, strictly (PyTorch's `strict=True`): every
/// parameter and buffer must be present with its shape, the file must hold nothing else, and
/// every value must be finite. On any mismatch the model is left unchanged and the error
/// names the offending keys.
pub fn load_state_dict(model: &dyn Module, path: &Path) -> Result<()> {
    let tensors = read_safetensors(path)?;
    load_tensors_into(model, &tensors).map_err(|e| with_path(e, path))
}

/// Copies `tensors` into the model's parameters and buffers by name, strictly and only when
/// every value is finite (see [`load_state_dict`]).
pub fn load_tensors_into(model: &dyn Module, tensors: &BTreeMap<String, Tensor>) -> Result<()> {
    let targets = state_dict(model);
    let mut missing = Vec::new();
    let mut wrong_shape = Vec::new();
    for (name, target) in &targets {
        match tensors.get(name) {
            None => missing.push(name.clone()),
            Some(src) if src.dims() != target.dims() => wrong_shape.push(format!(
                "{name}: the file has shape {:?}, the model {:?}",
                src.dims(),
                target.dims()
            )),
            Some(_) => {}
        }
    }
    let unexpected: Vec<&String> = tensors
        .keys()
        .filter(|k| !targets.iter().any(|(n, _)| n == *k))
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() || !wrong_shape.is_empty() {
        // The same three lists as PyTorch's "Error(s) in loading state_dict".
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing keys: {}", missing.join(", ")));
        }
        if !unexpected.is_empty() {
            parts.push(format!(
                "unexpected keys: {}",
                unexpected
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !wrong_shape.is_empty() {
            parts.push(format!("size mismatch: {}", wrong_shape.join("; ")));
        }
        return Err(FerriteError::Model {
            path: PathBuf::new(),
            message: format!(
                "the state dict does not match the model ({}); was it saved from the same architecture?",
                parts.join("; ")
            ),
        });
    }
    // A NaN or infinite weight (a corrupt file, or a model saved after it diverged) would
    // only surface later as NaN predictions reported as results: refuse it here, before the
    // model is touched.
    for (name, _) in &targets {
        let values = tensors[name].to_vec();
        let bad = values.iter().filter(|v| !v.is_finite()).count();
        if let Some((at, value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(FerriteError::Model {
                path: PathBuf::new(),
                message: format!(
                    "tensor {name} holds {bad} non-finite value(s) (the first, element {at}, is \
                     {value}); the file is corrupt, or the model diverged before it was saved: \
                     train it again (a smaller learning rate usually keeps it finite)"
                ),
            });
        }
    }
    let _no_grad = crate::no_grad();
    for (name, target) in &targets {
        target.copy_(&tensors[name]);
    }
    Ok(())
}

/// What it takes to use a saved model besides its weights: written as JSON beside the
/// safetensors file. The sections that other parts of Ferrite own (the layer list, scaler
/// parameters, label mapping, window size) are free-form JSON values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// The Ferrite version that wrote the file.
    pub ferrite_version: String,
    /// The architecture: layer kinds and sizes, enough to rebuild the model.
    pub architecture: serde_json::Value,
    /// The preprocessing to apply to inputs (scalers, label mapping, window size, ...).
    pub preprocessing: serde_json::Value,
    /// Final metrics by name (`val_accuracy`, `test_rmse`, ...).
    pub metrics: BTreeMap<String, f64>,
    /// Anything else (training options, data set name, ...).
    #[serde(default)]
    pub extra: serde_json::Value,
}

impl ModelCard {
    /// A card for `architecture` stamped with this Ferrite version; other fields empty.
    pub fn new(architecture: serde_json::Value) -> ModelCard {
        ModelCard {
            ferrite_version: env!("CARGO_PKG_VERSION").to_string(),
            architecture,
            preprocessing: serde_json::Value::Null,
            metrics: BTreeMap::new(),
            extra: serde_json::Value::Null,
        }
    }

    /// Writes the card as pretty JSON to `path`, atomically. A NaN or infinite metric is an
    /// error and nothing is written: JSON has no such numbers (it would be saved as `null`
    /// and the card would not load again), and a run with such a metric is no result.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some((name, value)) = self.metrics.iter().find(|(_, v)| !v.is_finite()) {
            return Err(FerriteError::Model {
                path: path.to_path_buf(),
                message: format!(
                    "metric {name} is {value}, not a finite number; a run whose metrics are not \
                     finite is not saved as a model (lower the learning rate or scale the data)"
                ),
            });
        }
        let text = serde_json::to_string_pretty(self).expect("a ModelCard always serialises");
        write_atomic(path, text.as_bytes())
    }

    /// Reads a card written by [`ModelCard::save`].
    pub fn load(path: &Path) -> Result<ModelCard> {
        let text = std::fs::read_to_string(path).map_err(|source| FerriteError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| FerriteError::Model {
            path: path.to_path_buf(),
            message: format!("not a Ferrite model description (JSON): {e}"),
        })
    }
}

/// The path of the JSON card that sits beside a weights file: `model.safetensors` →
/// `model.json`.
pub fn card_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// Saves the weights to `path` (safetensors) and `card` beside them ([`card_path`]).
pub fn save_model(model: &dyn Module, card: &ModelCard, path: &Path) -> Result<()> {
    save_state_dict(model, path)?;
    card.save(&card_path(path))
}

/// Loads the weights at `path` into `model` and returns the card beside them.
pub fn load_model(model: &dyn Module, path: &Path) -> Result<ModelCard> {
    let card = ModelCard::load(&card_path(path))?;
    load_state_dict(model, path)?;
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Affine {
        weight: Tensor,
        bias: Tensor,
    }

    impl Module for Affine {
        fn forward(&self, x: &Tensor) -> Tensor {
            &x.matmul(&self.weight.t()) + &self.bias
        }
        fn named_parameters(&self) -> Vec<(String, Tensor)> {
            vec![
                ("weight".into(), self.weight.clone()),
                ("bias".into(), self.bias.clone()),
            ]
        }
    }

    fn affine(seed: f32) -> Affine {
        Affine {
            weight: Tensor::arange(0., 6., 1.)
                .mul_scalar(seed)
                .reshape([2, 3])
                .requires_grad(),
            bias: Tensor::from_vec(vec![seed, -seed], [2]).requires_grad(),
        }
    }

    #[test]
    fn bytes_round_trip_restores_every_value() {
        let a = affine(0.5);
        let bytes = serialize_state_dict(&state_dict(&a)).unwrap();
        let b = affine(0.0);
        load_tensors_into(&b, &parse_safetensors(&bytes).unwrap()).unwrap();
        assert_eq!(b.weight.to_vec(), vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
        assert_eq!(b.bias.to_vec(), vec![0.5, -0.5]);
    }

    #[test]
    fn snapshot_and_restore_undo_later_changes() {
        let a = affine(1.0);
        let snap = snapshot_state(&a);
        a.weight.copy_(&a.weight.full_like(9.0));
        restore_state(&a, &snap);
        assert_eq!(a.weight.to_vec(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }
}
