//! The built-in worked examples, one per file, each training on data Ferrite ships with.

mod air_quality;
mod breast_cancer;
mod defects;
mod digits;
mod fashion_mnist;
pub mod gold;
mod idx_classifier;
mod iris;
mod mnist;

use crate::run_dir::RunDir;
use crate::spec::ModelSpec;
use ferrite::data::Fingerprint;
use ferrite::nn::Module;
use ferrite::train::{save_model, History, ModelCard};
use std::path::{Path, PathBuf};

/// Options every example takes.
#[derive(Clone, Debug)]
pub struct ExampleOptions {
    /// Seed of splits, initialisation and shuffling.
    pub seed: u64,
    /// 0 silent, 1 progress bars, 2 one line per epoch.
    pub verbose: u8,
    /// Overrides the example's number of epochs.
    pub epochs: Option<usize>,
    /// A quick setting (fewer epochs, smaller data) for tests; the bars are scaled.
    pub fast: bool,
    /// Where to write the run (default runs/NAME-TIMESTAMP).
    pub out: Option<PathBuf>,
    /// The folder of an example's data files when they are not shipped with Ferrite
    /// (`--data`; only examples with [`Example::reads_data`] take it).
    pub data: Option<PathBuf>,
}

/// A built-in example: its name, what it does, and how to run it.
pub struct Example {
    /// The name given to `ferrite train`.
    pub name: &'static str,
    /// One line for `ferrite examples`.
    pub about: &'static str,
    /// Runs it and returns the run folder.
    pub run: fn(&ExampleOptions) -> anyhow::Result<PathBuf>,
    /// Whether it reads its data from `--data DIR` (data sets too large to ship).
    pub reads_data: bool,
}

/// Every built-in example.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "breast-cancer",
        about: "diagnose malignant tumours from 30 cell measurements: MLP vs logistic regression, ROC curves",
        run: breast_cancer::run,
        reads_data: false,
    },
    Example {
        name: "air-quality",
        about: "predict ozone from sun, wind and temperature: least squares, gradient descent and an MLP",
        run: air_quality::run,
        reads_data: false,
    },
    Example {
        name: "defects",
        about: "find defective solar cells in electroluminescence images: LeNet-5 vs a Conv-BN-ReLU network",
        run: defects::run,
        reads_data: false,
    },
    Example {
        name: "gold",
        about: "forecast tomorrow's gold price with an LSTM over 5-day windows, against the naive forecast",
        run: gold::run,
        reads_data: false,
    },
    Example { name: "iris", about: "classify iris species from 4 flower measurements with an MLP", run: iris::run, reads_data: false },
    Example {
        name: "digits",
        about: "recognise 8x8 handwritten digits with a small convolutional network",
        run: digits::run,
        reads_data: false,
    },
    Example {
        name: "fashion-mnist",
        about: "recognise 28x28 photos of 10 kinds of clothing (Fashion-MNIST's IDX files, --data DIR) with Conv-BN-ReLU-Pool blocks",
        run: fashion_mnist::run,
        reads_data: true,
    },
    Example {
        name: "mnist",
        about: "recognise 28x28 handwritten digits (LeCun's MNIST IDX files, --data DIR) with the fashion-mnist network",
        run: mnist::run,
        reads_data: true,
    },
];

/// Finds an example by name.
pub fn find(name: &str) -> anyhow::Result<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<&str> = EXAMPLES.iter().map(|e| e.name).collect();
        anyhow::anyhow!(
            "unknown example '{name}'; the examples are: {} (see `ferrite examples`)",
            names.join(", ")
        )
    })
}

/// The folder of the shipped data sets: `$FERRITE_DATA`, else `./data`, else the repository's.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("FERRITE_DATA") {
        return PathBuf::from(d);
    }
    let local = PathBuf::from("data");
    if local.join("README.md").exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("data")
}

/// A shipped data file, or an error saying where it was looked for.
pub fn data_file(name: &str) -> anyhow::Result<PathBuf> {
    let p = data_dir().join(name);
    if !p.exists() {
        anyhow::bail!(
            "data file {} not found; set FERRITE_DATA to the folder of Ferrite's data sets",
            p.display()
        );
    }
    Ok(p)
}

/// Saves the model (safetensors with PyTorch names + model.json), metrics.json and history.csv.
/// `data` are the files and folders the run was trained and split on: their fingerprints go
/// into model.json, so that `evaluate` refuses them once they change.
pub fn save_run(
    run: &RunDir,
    model: &dyn Module,
    spec: &ModelSpec,
    preprocessing: serde_json::Value,
    metrics: serde_json::Value,
    history: Option<&History>,
    data: &[&Path],
) -> anyhow::Result<()> {
    let broken = non_finite_metrics(&metrics, "");
    if !broken.is_empty() {
        anyhow::bail!(
            "the test metrics are not finite numbers ({}): the model's predictions overflowed or are NaN, \
             so this is not a result and no model was saved; scale the data, or use a smaller --lr",
            broken.join(", ")
        );
    }
    let mut card = ModelCard::new(spec.to_json());
    card.preprocessing = preprocessing;
    if let Some(obj) = metrics.as_object() {
        for (k, v) in obj {
            if let Some(x) = v.as_f64() {
                card.metrics.insert(k.clone(), x);
            }
        }
    }
    let fingerprints = data
        .iter()
        .map(Fingerprint::of)
        .collect::<ferrite::Result<Vec<Fingerprint>>>()?;
    card.extra = serde_json::json!({ "all_metrics": metrics, "data_files": fingerprints });
    save_model(model, &card, &run.file("model.safetensors"))?;
    run.write_json("metrics.json", &metrics)?;
    if let Some(h) = history {
        h.save_csv(&run.file("history.csv"))?;
    }
    Ok(())
}

/// Checks the data files a run recorded (see [`save_run`]) and returns them; a run saved
/// before fingerprints were recorded has none.
pub fn recorded_data(card: &ModelCard) -> anyhow::Result<Vec<Fingerprint>> {
    let Some(list) = card.extra.get("data_files") else {
        return Ok(Vec::new());
    };
    let prints: Vec<Fingerprint> = serde_json::from_value(list.clone())
        .map_err(|e| anyhow::anyhow!("model.json: the recorded data files are malformed: {e}"))?;
    for p in &prints {
        p.verify()?;
    }
    Ok(prints)
}

/// The recorded absolute path of the data file given as `given` at training, so a run
/// evaluates from any working directory; `given` itself when none was recorded.
pub fn resolve_data(prints: &[Fingerprint], given: &Path) -> PathBuf {
    prints
        .iter()
        .find(|p| p.given == given)
        .map_or_else(|| given.to_path_buf(), |p| p.path.clone())
}

/// The names of the metrics that are not finite numbers (JSON turns NaN and infinity into
/// `null`), searching nested objects; `prefix` names the enclosing object.
fn non_finite_metrics(metrics: &serde_json::Value, prefix: &str) -> Vec<String> {
    match metrics {
        serde_json::Value::Null => vec![prefix.to_string()],
        serde_json::Value::Number(n) if !n.as_f64().is_some_and(f64::is_finite) => {
            vec![prefix.to_string()]
        }
        serde_json::Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                non_finite_metrics(v, &name)
            })
            .collect(),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(i, v)| non_finite_metrics(v, &format!("{prefix}[{i}]")))
            .collect(),
        _ => Vec::new(),
    }
}

/// Scales an epoch count for the fast setting.
pub fn epochs(opts: &ExampleOptions, full: usize, fast: usize) -> usize {
    opts.epochs.unwrap_or(if opts.fast { fast } else { full })
}

#[cfg(test)]
mod tests {
    use super::non_finite_metrics;

    #[test]
    fn metrics_that_are_not_numbers_are_named() {
        let m = serde_json::json!({
            "mse": f64::NAN, "r2": 0.5, "per_class": {"cat": {"f1": null, "recall": 1.0}},
            "curve": [0.1, f64::INFINITY]
        });
        assert_eq!(
            non_finite_metrics(&m, ""),
            vec!["curve[1]", "mse", "per_class.cat.f1"]
        );
        assert!(non_finite_metrics(&serde_json::json!({"accuracy": 0.9}), "").is_empty());
    }
}
