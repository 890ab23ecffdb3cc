//! The `ferrite` command line: train, evaluate and predict on built-in examples or your own
//! data, benchmark against PyTorch, and walk through backpropagation by hand.

// Standard output may be a pipe that closes early (`ferrite train iris | head -1`). std's
// println! panics then, which would abandon the run half-way; these shadow it (textual macro
// scope covers the modules below) so that output to a closed pipe is dropped and the run
// completes. Errors still go to stderr.
//
// In an MPI job (`mpirun -np N ferrite train`) only rank 0 prints: the other ranks run the
// same program on the same data, and would repeat every line.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if ferrite::distributed::is_primary() {
            let _ = writeln!(std::io::stdout(), $($arg)*);
        }
    }};
}
macro_rules! print {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if ferrite::distributed::is_primary() {
            let _ = write!(std::io::stdout(), $($arg)*);
        }
    }};
}
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        if ferrite::distributed::is_primary() {
            std::eprintln!($($arg)*);
        }
    }};
}

mod bench;
mod classify;
mod custom;
mod distributed;
mod examples;
mod explain;
mod run_dir;
mod scan_progress;
mod spec;
mod tabular;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

use tabular::{OptimizerChoice, Task};

/// Ferrite: train, evaluate and benchmark deep-learning models.
#[derive(Parser)]
#[command(name = "ferrite", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a built-in example (see `ferrite examples`), or a model on your own CSV or images.
    Train(Box<TrainArgs>),
    /// Score a trained model on its held-out split, on a new CSV file, or (image-folder
    /// models) on a folder of class sub-folders.
    Evaluate {
        /// The run folder `ferrite train` wrote.
        run_dir: PathBuf,
        /// A CSV with the training's feature columns and target column.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// A folder with one sub-folder of images per class (some of the model's classes or
        /// all), for image-folder models: scored with the run's preprocessing.
        #[arg(long, value_name = "DIR", conflicts_with = "csv")]
        images: Option<PathBuf>,
        /// Extra markers of a missing value in --csv, besides empty, NA, NaN and null
        /// (comma-separated, repeatable; added to those recorded at training).
        #[arg(long, requires = "csv", value_name = "LIST")]
        na_values: Vec<String>,
        /// The field separator of --csv: one character, or `tab` (default: the one recorded
        /// at training, else detected from the header among , ; tab |).
        #[arg(long, requires = "csv")]
        delimiter: Option<String>,
        /// Where to compute: cpu, wgpu or wgpu:N (see `ferrite devices`).
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Predict new data with a trained model and its training preprocessing: CSV rows for
    /// table models (and pixel-row image models), image files for image-folder models.
    Predict {
        /// The run folder `ferrite train` wrote.
        run_dir: PathBuf,
        /// A CSV with the training's feature (or pixel) columns.
        #[arg(long, conflicts_with = "images")]
        csv: Option<PathBuf>,
        /// An image file, or a folder of them (sub-folders included), for image models.
        #[arg(long)]
        images: Option<PathBuf>,
        /// Where to write the predictions (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Extra markers of a missing value in --csv, besides empty, NA, NaN and null
        /// (comma-separated, repeatable; added to those recorded at training).
        #[arg(long, requires = "csv", value_name = "LIST")]
        na_values: Vec<String>,
        /// The field separator of --csv: one character, or `tab` (default: the one recorded
        /// at training, else detected from the header among , ; tab |).
        #[arg(long, requires = "csv")]
        delimiter: Option<String>,
        /// Where to compute: cpu, wgpu or wgpu:N (see `ferrite devices`).
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// List the devices Ferrite can compute on: the CPU and every GPU adapter wgpu finds.
    Devices,
    /// List the built-in examples.
    Examples,
    /// Time the reference workloads (same names and work as shared/bench/torch_reference.py).
    Bench {
        /// Print one JSON line per workload (the default prints a table).
        #[arg(long)]
        json: bool,
        /// Where to run them: cpu, wgpu or wgpu:N.
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Workloads to run (default: all).
        workloads: Vec<String>,
    },
    /// Explain a computation step by step.
    Explain {
        #[command(subcommand)]
        topic: ExplainTopic,
    },
}

#[derive(Subcommand)]
enum ExplainTopic {
    /// The course's 2-2-2 sigmoid network: forward pass, every chain-rule factor, one SGD step.
    Backprop {
        /// Inputs i1,i2.
        #[arg(long, value_delimiter = ',', num_args = 1.., allow_negative_numbers = true)]
        inputs: Option<Vec<f64>>,
        /// Targets o1,o2.
        #[arg(long, value_delimiter = ',', num_args = 1.., allow_negative_numbers = true)]
        targets: Option<Vec<f64>>,
        /// Weights w1..w8.
        #[arg(long, value_delimiter = ',', num_args = 1.., allow_negative_numbers = true)]
        weights: Option<Vec<f64>>,
        /// Biases b1 (hidden), b2 (output).
        #[arg(long, value_delimiter = ',', num_args = 1.., allow_negative_numbers = true)]
        biases: Option<Vec<f64>>,
        /// Learning rate.
        #[arg(long, allow_negative_numbers = true)]
        lr: Option<f64>,
    },
}

/// Options of `ferrite train`.
#[derive(Args)]
struct TrainArgs {
    /// A built-in example (breast-cancer, air-quality, defects, gold, iris, digits, fashion-mnist,
    /// mnist).
    example: Option<String>,
    /// Train on this CSV file (with --target).
    #[arg(long, conflicts_with_all = ["example", "images"])]
    csv: Option<PathBuf>,
    /// The column to predict (with --csv).
    #[arg(long, requires = "csv")]
    target: Option<String>,
    /// Extra markers of a missing value in --csv, besides empty, NA, NaN and null
    /// (comma-separated, repeatable: --na-values '?,-'); recorded for evaluate and predict.
    #[arg(long, requires = "csv", value_name = "LIST")]
    na_values: Vec<String>,
    /// The field separator of --csv: one character, or `tab` (default: detected from the
    /// header among , ; tab |, comma on ties); recorded for evaluate and predict.
    #[arg(long, requires = "csv")]
    delimiter: Option<String>,
    /// classification or regression (default: guessed from the target column).
    #[arg(long, value_parser = ["classification", "regression"])]
    task: Option<String>,
    /// linear (least squares), logistic, or mlp:W1,W2,... (hidden widths).
    #[arg(long, default_value = "mlp:64,32")]
    model: String,
    /// Train on a folder of images: one sub-folder per class, or images listed in --labels.
    #[arg(long, conflicts_with = "example")]
    images: Option<PathBuf>,
    /// A CSV naming each image (column `image`) and its class (column `label`), for --images.
    #[arg(long, requires = "images")]
    labels: Option<PathBuf>,
    /// Score the trained --images model on this folder (one sub-folder per class, the
    /// training's classes or some of them) instead of a split cut from --images, which then
    /// all goes to training and validation; recorded for `ferrite evaluate`.
    #[arg(long, value_name = "DIR")]
    test_images: Option<PathBuf>,
    /// Image side length in pixels (images are resized), for --images.
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Channels to read --images with: 1 (grayscale) or 3 (colour); default 3 when any
    /// training image is colour, else 1. Recorded for evaluate and predict.
    #[arg(long, value_enum, value_name = "1|3")]
    channels: Option<custom::Channels>,
    /// MiB of decoded --images kept in memory; images beyond it are decoded again from
    /// their files every epoch, so a folder larger than memory trains in bounded memory
    /// (default: half the free memory; 0: decode every batch).
    #[arg(long, value_name = "MIB")]
    cache_mb: Option<u64>,
    /// Passes over the training data.
    #[arg(long)]
    epochs: Option<usize>,
    /// Rows or images per step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Learning rate.
    #[arg(long)]
    lr: Option<f32>,
    /// sgd, momentum or adam.
    #[arg(long, value_enum, default_value_t = OptimizerChoice::Adam)]
    optimizer: OptimizerChoice,
    /// Fraction of rows held out for testing.
    #[arg(long, default_value_t = 0.2)]
    test_size: f64,
    /// Seed of splits, initialisation and shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// 0: quiet, 1: a progress bar per epoch, 2: one line per epoch.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    verbose: u8,
    /// A quick setting of a built-in example (fewer epochs), for smoke tests.
    #[arg(long)]
    fast: bool,
    /// The folder of a built-in example's data files, for examples whose data does not ship
    /// with Ferrite (fashion-mnist: default /usr/share/datasets/fashion-mnist, where Debian's
    /// dataset-fashion-mnist package installs it; mnist: default ~/.local/share/ferrite/mnist,
    /// or $XDG_DATA_HOME/ferrite/mnist, a folder you fill with MNIST's four IDX files).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["csv", "images"])]
    data: Option<PathBuf>,
    /// The run folder to write (default: runs/NAME-TIMESTAMP).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where to train: cpu, wgpu (the first GPU adapter) or wgpu:N (see `ferrite devices`).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Replace the run folder given by --out if it exists (without it, an existing folder is
    /// refused, so no earlier run is lost).
    #[arg(long, requires = "out")]
    overwrite: bool,
    /// Clip the gradients' global 2-norm to this value before every step (a remedy for a
    /// diverging loss).
    #[arg(long)]
    clip_grad_norm: Option<f32>,
}

/// Makes `name` (cpu, wgpu, wgpu:N) the device every tensor of this run is made on, after
/// checking that it can be used here.
fn use_device(name: &str) -> anyhow::Result<ferrite::Device> {
    let device: ferrite::Device = name
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--device: {e}"))?;
    device
        .check_available()
        .map_err(|e| anyhow::anyhow!("--device {name}: {e}"))?;
    ferrite::set_default_device(device);
    Ok(device)
}

fn list_devices() -> anyhow::Result<()> {
    println!("cpu      the CPU (default)");
    let adapters = ferrite::wgpu_adapters();
    if adapters.is_empty() {
        println!(
            "(no GPU adapter: install the GPU's driver, or Mesa's software Vulkan driver: apt-get install mesa-vulkan-drivers libvulkan1)"
        );
    }
    for a in adapters {
        let mut extras = Vec::new();
        if a.shader_f16 {
            extras.push("f16");
        }
        if a.shader_f64 {
            extras.push("f64");
        }
        println!(
            "{:<8} {} ({}, {}{}{})",
            format!("wgpu:{}", a.index),
            a.name,
            a.backend,
            a.device_type,
            if extras.is_empty() { "" } else { ", " },
            extras.join(", ")
        );
    }
    Ok(())
}

fn train(args: TrainArgs) -> anyhow::Result<()> {
    use_device(&args.device)?;
    if args.batch_size == 0 {
        anyhow::bail!("--batch-size must be at least 1");
    }
    if let Some(lr) = args.lr {
        if !(lr > 0.0 && lr.is_finite()) {
            anyhow::bail!("--lr must be a positive number, got {lr}");
        }
    }
    if !(args.test_size > 0.0 && args.test_size < 1.0) {
        anyhow::bail!(
            "--test-size must be between 0 and 1, got {}",
            args.test_size
        );
    }
    if args.epochs == Some(0) {
        anyhow::bail!("--epochs must be at least 1");
    }
    if let Some(c) = args.clip_grad_norm {
        if !(c > 0.0 && c.is_finite()) {
            anyhow::bail!("--clip-grad-norm must be a positive number, got {c}");
        }
    }
    // Only rank 0 writes the run folder (the only rank without a distributed job).
    if ferrite::distributed::is_primary() {
        run_dir::RunDir::check_destination(args.out.as_deref(), args.overwrite)?;
    }
    let run_dir = if let Some(csv) = &args.csv {
        let target = args
            .target
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("--csv needs --target COLUMN"))?;
        let task = match args.task.as_deref() {
            Some("regression") => Some(Task::Regression),
            Some(_) => None,
            None => None,
        };
        custom::train_csv(&custom::CsvTraining {
            csv: csv.clone(),
            target: target.to_string(),
            task,
            classification: args.task.as_deref() == Some("classification"),
            model: custom::ModelChoice::parse(&args.model)?,
            epochs: args.epochs.unwrap_or(100),
            batch_size: args.batch_size,
            lr: args.lr,
            optimizer: args.optimizer,
            test_size: args.test_size,
            seed: args.seed,
            verbose: args.verbose,
            out: args.out.clone(),
            clip_grad_norm: args.clip_grad_norm,
            reading: tabular::CsvReading::from_args(&args.na_values, args.delimiter.as_deref())?,
        })?
    } else if let Some(dir) = &args.images {
        custom::train_images(&custom::ImageFolderTraining {
            dir: dir.clone(),
            labels: args.labels.clone(),
            size: args.size,
            channels: args.channels,
            epochs: args.epochs.unwrap_or(20),
            batch_size: args.batch_size,
            lr: args.lr.unwrap_or(1e-3),
            optimizer: args.optimizer,
            test_size: args.test_size,
            test_images: args.test_images.clone(),
            seed: args.seed,
            verbose: args.verbose,
            out: args.out.clone(),
            clip_grad_norm: args.clip_grad_norm,
            cache_mb: args.cache_mb,
        })?
    } else {
        let Some(name) = &args.example else {
            anyhow::bail!("name an example (see `ferrite examples`), or give --csv FILE --target COLUMN, or --images DIR");
        };
        let example = examples::find(name)?;
        let opts = examples::ExampleOptions {
            seed: args.seed,
            verbose: args.verbose,
            epochs: args.epochs,
            fast: args.fast,
            out: args.out.clone(),
            data: args.data.clone(),
        };
        (example.run)(&opts)?
    };
    println!("\nrun folder: {}", run_dir.display());
    Ok(())
}

/// Refuses train options that the chosen mode would silently ignore (`given`: the options
/// typed on the command line, by their argument ids).
fn refuse_unused_options(args: &TrainArgs, given: &[String]) -> anyhow::Result<()> {
    let (mode, unused): (String, &[&str]) = if args.csv.is_some() {
        (
            "--csv".into(),
            &["size", "fast", "test_images", "channels", "cache_mb"],
        )
    } else if args.images.is_some() && args.test_images.is_some() {
        // The test images are the given folder: no test split is cut.
        (
            "--images with --test-images".into(),
            &["model", "task", "fast", "test_size"],
        )
    } else if args.images.is_some() {
        ("--images".into(), &["model", "task", "fast"])
    } else {
        let name = args.example.as_deref().unwrap_or("");
        // Only the examples whose data does not ship with Ferrite read --data.
        let reads_data = examples::find(name).is_ok_and(|e| e.reads_data);
        let unused: &[&str] = &[
            "model",
            "batch_size",
            "lr",
            "optimizer",
            "test_size",
            "size",
            "task",
            "clip_grad_norm",
            "test_images",
            "channels",
            "cache_mb",
            "data",
        ];
        let unused = if reads_data {
            &unused[..unused.len() - 1]
        } else {
            unused
        };
        (format!("the built-in example {name}"), unused)
    };
    let ignored: Vec<String> = unused
        .iter()
        .filter(|id| given.iter().any(|g| g == *id))
        .map(|id| format!("--{}", id.replace('_', "-")))
        .collect();
    if ignored.is_empty() {
        return Ok(());
    }
    let why = if args.csv.is_none() && args.images.is_none() {
        ": it runs its own fixed protocol (its models, split and optimizer, so that its numbers \
         match the course) and takes only --epochs, --fast, --seed, --verbose, --out and --device \
         (and --data, for the examples whose data does not ship with Ferrite: fashion-mnist and \
         mnist). To choose the rest, train on its data with --csv FILE --target COLUMN (see \
         data/README.md)"
    } else {
        ", so it would ignore them"
    };
    anyhow::bail!("{mode} does not use {}{why}", ignored.join(", "))
}

/// A diverged run's error, with the options that address it: the run saved no model.
fn with_divergence_advice(e: anyhow::Error, lr: Option<f32>) -> anyhow::Error {
    let diverged = e.chain().any(|c| {
        matches!(
            c.downcast_ref(),
            Some(ferrite::FerriteError::Diverged { .. })
        )
    });
    if !diverged {
        return e;
    }
    let smaller = match lr {
        Some(lr) => format!("--lr {}", lr / 10.0),
        None => "a smaller --lr (a tenth of the default)".to_string(),
    };
    let what = e
        .chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ");
    anyhow::anyhow!("{what}. No model was saved; rerun with {smaller}, or add --clip-grad-norm 1.0")
}

fn explain_backprop(
    inputs: Option<Vec<f64>>,
    targets: Option<Vec<f64>>,
    weights: Option<Vec<f64>>,
    biases: Option<Vec<f64>>,
    lr: Option<f64>,
) -> anyhow::Result<()> {
    let mut config = explain::BackpropConfig::default();
    // `--inputs 1,2` and `--inputs 1 2` both give two values; a wrong count is an error,
    // not a panic in the copy.
    let copy = |name: &str, dst: &mut [f64], src: Option<Vec<f64>>| -> anyhow::Result<()> {
        if let Some(v) = src {
            if v.len() != dst.len() {
                anyhow::bail!(
                    "--{name} takes {} numbers (comma- or space-separated), got {}",
                    dst.len(),
                    v.len()
                );
            }
            dst.copy_from_slice(&v);
        }
        Ok(())
    };
    copy("inputs", &mut config.inputs, inputs)?;
    copy("targets", &mut config.targets, targets)?;
    copy("weights", &mut config.weights, weights)?;
    copy("biases", &mut config.biases, biases)?;
    if let Some(lr) = lr {
        config.lr = lr;
    }
    let walkthrough = explain::backprop(&config)?;
    print!("{walkthrough}");
    Ok(())
}

fn run_bench(json: bool, device: &str, names: &[String]) -> anyhow::Result<()> {
    let device = use_device(device)?;
    let workloads = if ferrite::distributed::world_size() > 1 {
        bench::DISTRIBUTED_WORKLOADS
    } else if device == ferrite::Device::Cpu {
        bench::WORKLOADS
    } else {
        bench::GPU_WORKLOADS
    };
    let known: Vec<&str> = workloads.iter().map(|(n, _)| *n).collect();
    if let Some(bad) = names.iter().find(|n| !known.contains(&n.as_str())) {
        anyhow::bail!(
            "unknown workload '{bad}' on {device}; known workloads: {}",
            known.join(", ")
        );
    }
    if !json {
        println!("device: {device} ({})", device.description());
        if ferrite::distributed::world_size() > 1 {
            println!(
                "{} MPI ranks: each training step splits its batch across them",
                ferrite::distributed::world_size()
            );
        }
    }
    ferrite::manual_seed(0);
    for (name, run) in workloads {
        if !names.is_empty() && !names.iter().any(|n| n == name) {
            continue;
        }
        let r = run();
        if json {
            println!("{}", r.json());
        } else {
            println!(
                "{:<28} {:>12.6} s {:>14.1} {}",
                r.workload, r.median_s, r.rate, r.unit
            );
        }
    }
    Ok(())
}

/// mimalloc keeps freed pages for reuse, so the large, short-lived tensors of a training
/// step do not fault fresh pages in from the kernel on every step (about a fifth of a step's
/// time with the system allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let matches = Cli::command().get_matches();
    // Which train options the user typed (not defaults), to refuse those a mode ignores.
    let given: Vec<String> = matches
        .subcommand_matches("train")
        .map(|m| {
            m.ids()
                .filter(|id| m.value_source(id.as_str()) == Some(ValueSource::CommandLine))
                .map(|id| id.as_str().to_string())
                .collect()
        })
        .unwrap_or_default();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // Ctrl-C, or mpirun ending the job after another rank failed: no destructor runs then,
    // so the handler removes the unfinished run's staging folder itself.
    let _ = ctrlc::set_handler(|| {
        run_dir::remove_unfinished();
        if let Some((rank, world_size)) = distributed::job() {
            std::eprintln!(
                "ferrite (rank {rank} of {world_size}): stopped by a signal, as mpirun ends the \
                 job when a rank fails (see its message); nothing was saved"
            );
        } else {
            std::eprintln!("ferrite: interrupted; nothing was saved");
        }
        std::process::exit(130);
    });
    let spans_ranks = matches!(cli.command, Command::Train(_) | Command::Bench { .. });
    if let Err(e) = distributed::join(spans_ranks) {
        distributed::fail(&format!("{e:#}"));
    }
    let result = match cli.command {
        Command::Train(args) => {
            let lr = args.lr;
            refuse_unused_options(&args, &given)
                .and_then(|()| train(*args))
                .map_err(|e| with_divergence_advice(e, lr))
        }
        Command::Evaluate {
            run_dir,
            csv,
            images,
            na_values,
            delimiter,
            device,
        } => use_device(&device).and_then(|_| {
            if let Some(dir) = &images {
                return custom::evaluate_images(&run_dir, dir);
            }
            let reading = tabular::CsvReading::from_args(&na_values, delimiter.as_deref())?;
            custom::evaluate(&run_dir, csv.as_deref(), &reading)
        }),
        Command::Predict {
            run_dir,
            csv,
            images,
            out,
            na_values,
            delimiter,
            device,
        } => use_device(&device).and_then(|_| {
            let reading = tabular::CsvReading::from_args(&na_values, delimiter.as_deref())?;
            custom::predict(
                &run_dir,
                csv.as_deref(),
                images.as_deref(),
                out.as_deref(),
                &reading,
            )
        }),
        Command::Devices => list_devices(),
        Command::Examples => {
            for e in examples::EXAMPLES {
                println!("{:<14} {}", e.name, e.about);
            }
            Ok(())
        }
        Command::Bench {
            json,
            device,
            workloads,
        } => run_bench(json, &device, &workloads),
        Command::Explain {
            topic:
                ExplainTopic::Backprop {
                    inputs,
                    targets,
                    weights,
                    biases,
                    lr,
                },
        } => explain_backprop(inputs, targets, weights, biases, lr),
    };
    if let Err(e) = result {
        // The chain of causes on one line, skipping a cause its parent already quotes.
        let mut message = String::new();
        for cause in e.chain() {
            let text = cause.to_string();
            if !message.contains(&text) {
                if !message.is_empty() {
                    message.push_str(": ");
                }
                message.push_str(&text);
            }
        }
        distributed::fail(&message);
    }
}
