//! State dicts: every parameter and buffer of a model by its PyTorch name, in order, to save,
//! load and compare models.

use crate::error::{FerriteError, Result};
use crate::Tensor;

/// An ordered map from names (`0.weight`, `fc1.bias`, `bn.running_mean`) to tensors, as
/// PyTorch's `state_dict()`. The tensors share storage with the model's (detached).
///
/// ```
/// use ferrite::nn::{Linear, Module, ReLU, Sequential};
/// ferrite::manual_seed(0);
/// let model = Sequential::new().add(Linear::new(4, 3).unwrap()).add(ReLU).add(Linear::new(3, 1).unwrap());
/// let sd = model.state_dict();
/// assert_eq!(sd.keys(), ["0.weight", "0.bias", "2.weight", "2.bias"]);
/// // Loading into a model of another shape reports every offending key.
/// let other = Sequential::new().add(Linear::new(5, 3).unwrap()).add(ReLU);
/// let err = other.load_state_dict(&sd).unwrap_err().to_string();
/// assert!(err.contains("unexpected keys: 2.weight, 2.bias"), "{err}");
/// assert!(err.contains("0.weight: [3, 4] in the state dict, [3, 5] in the model"), "{err}");
/// ```
#[derive(Clone, Default)]
pub struct StateDict {
    entries: Vec<(String, Tensor)>,
}

impl StateDict {
    /// An empty state dict.
    pub fn new() -> StateDict {
        StateDict::default()
    }

    /// Parameters and buffers in PyTorch's order: each buffer right after the last entry of
    /// the same sub-module (the name up to its last dot), so a module's state stays together.
    pub fn from_parts(
        parameters: Vec<(String, Tensor)>,
        buffers: Vec<(String, Tensor)>,
    ) -> StateDict {
        let mut entries: Vec<(String, Tensor)> = parameters
            .into_iter()
            .map(|(n, t)| (n, t.detach()))
            .collect();
        let prefix = |n: &str| {
            n.rsplit_once('.')
                .map_or(String::new(), |(p, _)| p.to_string())
        };
        for (name, t) in buffers {
            let p = prefix(&name);
            let at = entries
                .iter()
                .rposition(|(n, _)| prefix(n) == p)
                .map_or(entries.len(), |i| i + 1);
            entries.insert(at, (name, t.detach()));
        }
        StateDict { entries }
    }

    /// Adds an entry, replacing one of the same name in place.
    pub fn insert(&mut self, name: impl Into<String>, tensor: Tensor) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = tensor,
            None => self.entries.push((name, tensor)),
        }
    }

    /// The tensor stored under `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// The names, in order.
    pub fn keys(&self) -> Vec<&str> {
        self.entries.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = &(String, Tensor)> {
        self.entries.iter()
    }

    /// The total number of scalars stored.
    pub fn numel(&self) -> usize {
        self.entries.iter().map(|(_, t)| t.numel()).sum()
    }
}

impl FromIterator<(String, Tensor)> for StateDict {
    fn from_iter<I: IntoIterator<Item = (String, Tensor)>>(iter: I) -> Self {
        let mut sd = StateDict::new();
        for (n, t) in iter {
            sd.insert(n, t);
        }
        sd
    }
}

impl IntoIterator for StateDict {
    type Item = (String, Tensor);
    type IntoIter = std::vec::IntoIter<(String, Tensor)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl std::fmt::Debug for StateDict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(n, t)| (n, t.dims())))
            .finish()
    }
}

/// Copies `sd` into the model's tensors `targets` (its parameters and buffers). Shape
/// mismatches are always an error; missing and unexpected keys only when `strict`. Nothing
/// is copied unless everything fits.
pub(crate) fn load_into(
    targets: Vec<(String, Tensor)>,
    sd: &StateDict,
    strict: bool,
) -> Result<()> {
    let missing: Vec<String> = targets
        .iter()
        .filter(|(n, _)| sd.get(n).is_none())
        .map(|(n, _)| n.clone())
        .collect();
    let unexpected: Vec<String> = sd
        .iter()
        .filter(|(n, _)| !targets.iter().any(|(m, _)| m == n))
        .map(|(n, _)| n.clone())
        .collect();
    let mismatched: Vec<(String, Vec<usize>, Vec<usize>)> = targets
        .iter()
        .filter_map(|(n, t)| {
            let src = sd.get(n)?;
            (src.dims() != t.dims()).then(|| (n.clone(), src.dims().to_vec(), t.dims().to_vec()))
        })
        .collect();
    if !mismatched.is_empty() || (strict && (!missing.is_empty() || !unexpected.is_empty())) {
        return Err(FerriteError::StateDict {
            missing,
            unexpected,
            mismatched,
        });
    }
    let _guard = crate::no_grad();
    for (name, t) in &targets {
        if let Some(src) = sd.get(name) {
            t.copy_(src);
        }
    }
    Ok(())
}

/// The message of [`FerriteError::StateDict`]: every missing, unexpected and wrong-shape key.
pub fn describe_state_dict_mismatch(
    missing: &[String],
    unexpected: &[String],
    mismatched: &[(String, Vec<usize>, Vec<usize>)],
) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing keys: {}", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        parts.push(format!("unexpected keys: {}", unexpected.join(", ")));
    }
    if !mismatched.is_empty() {
        let shapes: Vec<String> = mismatched
            .iter()
            .map(|(n, src, dst)| format!("{n}: {src:?} in the state dict, {dst:?} in the model"))
            .collect();
        parts.push(format!("size mismatch: {}", shapes.join("; ")));
    }
    format!("error(s) in loading state dict: {}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_follow_their_module() {
        let t = || Tensor::zeros([1]);
        let sd = StateDict::from_parts(
            vec![
                ("0.weight".into(), t()),
                ("0.bias".into(), t()),
                ("1.weight".into(), t()),
            ],
            vec![("0.running_mean".into(), t()), ("2.count".into(), t())],
        );
        assert_eq!(
            sd.keys(),
            [
                "0.weight",
                "0.bias",
                "0.running_mean",
                "1.weight",
                "2.count"
            ]
        );
    }

    #[test]
    fn loading_copies_values_and_strictness_decides_on_extra_keys() {
        let w = Tensor::zeros([2]).requires_grad();
        let targets = vec![("w".to_string(), w.clone())];
        let sd: StateDict = [
            ("w".to_string(), Tensor::from_vec(vec![1.0, 2.0], [2])),
            ("x".to_string(), Tensor::ones([1])),
        ]
        .into_iter()
        .collect();
        let err = load_into(targets.clone(), &sd, true).unwrap_err();
        assert!(
            matches!(&err, FerriteError::StateDict { unexpected, .. } if unexpected == &["x".to_string()])
        );
        assert_eq!(
            w.to_vec(),
            vec![0.0, 0.0],
            "a failed load must change nothing"
        );
        load_into(targets.clone(), &sd, false).unwrap();
        assert_eq!(w.to_vec(), vec![1.0, 2.0]);
        let wrong: StateDict = [("w".to_string(), Tensor::ones([3]))].into_iter().collect();
        let err = load_into(targets, &wrong, false).unwrap_err().to_string();
        assert!(
            err.contains("w: [3] in the state dict, [2] in the model"),
            "{err}"
        );
    }
}
