//! The built-in worked examples, one per file, each training on data Ferrite ships with.

mod air_quality;
mod breast_cancer;
mod defects;
mod digits;
pub mod gold;
mod iris;

use crate::run_dir::RunDir;
use crate::spec::ModelSpec;
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
}

/// A built-in example: its name, what it does, and how to run it.
pub struct Example {
    /// The name given to `ferrite train`.
    pub name: &'static str,
    /// One line for `ferrite examples`.
    pub about: &'static str,
    /// Runs it and returns the run folder.
    pub run: fn(&ExampleOptions) -> anyhow::Result<PathBuf>,
}

/// Every built-in example.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "breast-cancer",
        about: "diagnose malignant tumours from 30 cell measurements: MLP vs logistic regression, ROC curves",
        run: breast_cancer::run,
    },
    Example {
        name: "air-quality",
        about: "predict ozone from sun, wind and temperature: least squares, gradient descent and an MLP",
        run: air_quality::run,
    },
    Example {
        name: "defects",
        about: "find defective solar cells in electroluminescence images: LeNet-5 vs a Conv-BN-ReLU network",
        run: defects::run,
    },
    Example {
        name: "gold",
        about: "forecast tomorrow's gold price with an LSTM over 5-day windows, against the naive forecast",
        run: gold::run,
    },
    Example { name: "iris", about: "classify iris species from 4 flower measurements with an MLP", run: iris::run },
    Example {
        name: "digits",
        about: "recognise 8x8 handwritten digits with a small convolutional network",
        run: digits::run,
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
pub fn save_run(
    run: &RunDir,
    model: &dyn Module,
    spec: &ModelSpec,
    preprocessing: serde_json::Value,
    metrics: serde_json::Value,
    history: Option<&History>,
) -> anyhow::Result<()> {
    let mut card = ModelCard::new(spec.to_json());
    card.preprocessing = preprocessing;
    if let Some(obj) = metrics.as_object() {
        for (k, v) in obj {
            if let Some(x) = v.as_f64() {
                card.metrics.insert(k.clone(), x);
            }
        }
    }
    card.extra = serde_json::json!({ "all_metrics": metrics });
    save_model(model, &card, &run.file("model.safetensors"))?;
    run.write_json("metrics.json", &metrics)?;
    if let Some(h) = history {
        h.save_csv(&run.file("history.csv"))?;
    }
    Ok(())
}

/// Scales an epoch count for the fast setting.
pub fn epochs(opts: &ExampleOptions, full: usize, fast: usize) -> usize {
    opts.epochs.unwrap_or(if opts.fast { fast } else { full })
}
