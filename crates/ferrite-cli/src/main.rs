//! The `ferrite` command line.

mod bench;

use clap::{Parser, Subcommand};

/// Ferrite: train, evaluate and benchmark deep-learning models.
#[derive(Parser)]
#[command(name = "ferrite", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Time the reference workloads (same names and work as shared/bench/torch_reference.py).
    Bench {
        /// Print one JSON line per workload (the default prints a table).
        #[arg(long)]
        json: bool,
        /// Workloads to run (default: all).
        workloads: Vec<String>,
    },
}

fn run_bench(json: bool, names: &[String]) -> anyhow::Result<()> {
    let known: Vec<&str> = bench::WORKLOADS.iter().map(|(n, _)| *n).collect();
    if let Some(bad) = names.iter().find(|n| !known.contains(&n.as_str())) {
        anyhow::bail!("unknown workload '{bad}'; known workloads: {}", known.join(", "));
    }
    ferrite::manual_seed(0);
    for (name, run) in bench::WORKLOADS {
        if !names.is_empty() && !names.iter().any(|n| n == name) {
            continue;
        }
        let r = run();
        if json {
            println!("{}", r.json());
        } else {
            println!("{:<28} {:>12.6} s {:>14.1} {}", r.workload, r.median_s, r.rate, r.unit);
        }
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench { json, workloads } => run_bench(json, &workloads),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
