//! The `ferrite` command line: train, evaluate and predict on built-in examples or your own
//! data, benchmark against PyTorch, and walk through backpropagation by hand.

mod bench;
mod classify;
mod custom;
mod examples;
mod run_dir;
mod spec;
mod tabular;

use clap::{Args, Parser, Subcommand};
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
    Train(TrainArgs),
    /// Score a trained model on its held-out split, or on a new CSV file.
    Evaluate {
        /// The run folder `ferrite train` wrote.
        run_dir: PathBuf,
        /// A CSV with the training's feature columns and target column.
        #[arg(long)]
        csv: Option<PathBuf>,
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
        #[arg(long, value_delimiter = ',', num_args = 2)]
        inputs: Option<Vec<f64>>,
        /// Targets o1,o2.
        #[arg(long, value_delimiter = ',', num_args = 2)]
        targets: Option<Vec<f64>>,
        /// Weights w1..w8.
        #[arg(long, value_delimiter = ',', num_args = 8)]
        weights: Option<Vec<f64>>,
        /// Biases b1 (hidden), b2 (output).
        #[arg(long, value_delimiter = ',', num_args = 2)]
        biases: Option<Vec<f64>>,
        /// Learning rate.
        #[arg(long)]
        lr: Option<f64>,
    },
}

/// Options of `ferrite train`.
#[derive(Args)]
struct TrainArgs {
    /// A built-in example (breast-cancer, air-quality, defects, gold, iris, digits).
    example: Option<String>,
    /// Train on this CSV file (with --target).
    #[arg(long, conflicts_with_all = ["example", "images"])]
    csv: Option<PathBuf>,
    /// The column to predict (with --csv).
    #[arg(long, requires = "csv")]
    target: Option<String>,
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
    /// Image side length in pixels (images are resized), for --images.
    #[arg(long, default_value_t = 32)]
    size: usize,
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
    /// The run folder to write (default: runs/NAME-TIMESTAMP).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where to train: cpu, wgpu (the first GPU adapter) or wgpu:N (see `ferrite devices`).
    #[arg(long, default_value = "cpu")]
    device: String,
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
        })?
    } else if let Some(dir) = &args.images {
        custom::train_images(&custom::ImageFolderTraining {
            dir: dir.clone(),
            labels: args.labels.clone(),
            size: args.size,
            epochs: args.epochs.unwrap_or(20),
            batch_size: args.batch_size,
            lr: args.lr.unwrap_or(1e-3),
            optimizer: args.optimizer,
            test_size: args.test_size,
            seed: args.seed,
            verbose: args.verbose,
            out: args.out.clone(),
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
        };
        (example.run)(&opts)?
    };
    println!("\nrun folder: {}", run_dir.display());
    Ok(())
}

fn explain_backprop(
    inputs: Option<Vec<f64>>,
    targets: Option<Vec<f64>>,
    weights: Option<Vec<f64>>,
    biases: Option<Vec<f64>>,
    lr: Option<f64>,
) -> anyhow::Result<()> {
    let mut config = ferrite::explain::BackpropConfig::default();
    let copy = |dst: &mut [f64], src: Option<Vec<f64>>| {
        if let Some(v) = src {
            dst.copy_from_slice(&v);
        }
    };
    copy(&mut config.inputs, inputs);
    copy(&mut config.targets, targets);
    copy(&mut config.weights, weights);
    copy(&mut config.biases, biases);
    if let Some(lr) = lr {
        config.lr = lr;
    }
    let walkthrough = ferrite::explain::backprop(&config)?;
    print!("{walkthrough}");
    Ok(())
}

fn run_bench(json: bool, device: &str, names: &[String]) -> anyhow::Result<()> {
    let device = use_device(device)?;
    let workloads = if device == ferrite::Device::Cpu {
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
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train(args),
        Command::Evaluate {
            run_dir,
            csv,
            device,
        } => use_device(&device).and_then(|_| custom::evaluate(&run_dir, csv.as_deref())),
        Command::Predict {
            run_dir,
            csv,
            images,
            out,
            device,
        } => use_device(&device).and_then(|_| {
            custom::predict(&run_dir, csv.as_deref(), images.as_deref(), out.as_deref())
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
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
