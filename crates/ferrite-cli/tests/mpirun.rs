//! `mpirun -np 2 ferrite train ...` (cargo feature `mpi`; `.ci/run` installs Open MPI and runs
//! these): two ranks train the weights of one process with twice the batch, every built-in
//! example and both kinds of custom data train under mpirun, and a rank that dies or hangs
//! ends the job with a message instead of a hang.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{data, entries, succeed, temp_dir, Lcg64};

/// `mpirun -np 2 ferrite ARGS` (as root where CI runs as root, with more ranks than cores
/// allowed), with `env` forwarded to the ranks.
fn mpirun(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "-np", "2"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env_remove("FERRITE_NUM_THREADS");
    for (k, v) in env {
        cmd.env(k, v).args(["-x", k]);
    }
    cmd.arg(env!("CARGO_BIN_EXE_ferrite")).args(args);
    cmd
}

/// `ferrite ARGS`, one process.
fn ferrite(args: &[&str]) -> Command {
    let mut cmd = support::ferrite();
    cmd.args(args);
    cmd
}

/// y = 2a − b + c²/2 + noise, 200 rows.
fn regression_csv(dir: &Path) -> PathBuf {
    let mut text = String::from("a,b,c,y\n");
    let mut rng = Lcg64(12345);
    let mut uniform = || rng.uniform_pm1();
    for _ in 0..200 {
        let (a, b, c) = (uniform(), uniform(), uniform());
        let y = 2.0 * a - b + 0.5 * c * c + 0.05 * uniform();
        text.push_str(&format!("{a:.5},{b:.5},{c:.5},{y:.5}\n"));
    }
    let path = dir.join("reg.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn weights(run: &Path) -> BTreeMap<String, Vec<f32>> {
    ferrite::train::read_safetensors(&run.join("model.safetensors"))
        .unwrap()
        .into_iter()
        .map(|(k, t)| (k, t.to_vec()))
        .collect()
}

#[test]
fn two_ranks_with_batch_8_train_the_weights_of_one_process_with_batch_16() {
    let dir = temp_dir("equivalence");
    let csv = regression_csv(&dir);
    let csv = csv.to_str().unwrap();
    let common = [
        "train",
        "--csv",
        csv,
        "--target",
        "y",
        "--model",
        "mlp:16",
        "--optimizer",
        "momentum",
        "--lr",
        "0.02",
        "--epochs",
        "6",
        "--seed",
        "4",
        "--verbose",
        "0",
    ];
    let two = dir.join("two-ranks");
    let one = dir.join("one-process");
    let out = succeed(mpirun(
        &[
            &common[..],
            &["--batch-size", "8", "--out", two.to_str().unwrap()],
        ]
        .concat(),
        &[],
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Rank 0 prints the run once; rank 1 prints nothing.
    assert_eq!(stdout.matches("run folder:").count(), 1, "{stdout}");
    succeed(ferrite(
        &[
            &common[..],
            &["--batch-size", "16", "--out", one.to_str().unwrap()],
        ]
        .concat(),
    ));
    let (w2, w1) = (weights(&two), weights(&one));
    assert_eq!(w2.keys().collect::<Vec<_>>(), w1.keys().collect::<Vec<_>>());
    let mut largest = 0.0f32;
    for (name, a) in &w2 {
        for (x, y) in a.iter().zip(&w1[name]) {
            largest = largest.max((x - y).abs() / (1.0 + y.abs()));
        }
    }
    assert!(
        largest < 1e-4,
        "two ranks differ from one process by {largest}"
    );
    // And they differ from a run with batch 8 on one process: the ranks did share the work.
    let alone = dir.join("batch-8-alone");
    succeed(ferrite(
        &[
            &common[..],
            &["--batch-size", "8", "--out", alone.to_str().unwrap()],
        ]
        .concat(),
    ));
    let w8 = weights(&alone);
    let apart = w8
        .iter()
        .flat_map(|(n, a)| a.iter().zip(&w1[n]).map(|(x, y)| (x - y).abs()))
        .fold(0.0f32, f32::max);
    assert!(
        apart > 1e-3,
        "batch 8 alone should train other weights ({apart})"
    );
    // Only rank 0 wrote: one run folder, and no rank's scratch folder is left.
    let names = entries(&dir);
    assert_eq!(names.len(), 4, "{names:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_built_in_example_and_custom_images_train_under_mpirun() {
    let dir = temp_dir("examples");
    // fashion-mnist reads Debian's dataset-fashion-mnist, which .ci/run installs.
    let examples = [
        "iris",
        "breast-cancer",
        "air-quality",
        "digits",
        "defects",
        "gold",
        "fashion-mnist",
    ];
    for name in examples {
        let out = dir.join(name);
        let o = out.to_str().unwrap();
        succeed(mpirun(
            &[
                "train",
                name,
                "--fast",
                "--epochs",
                "1",
                "--verbose",
                "0",
                "--out",
                o,
            ],
            &[],
        ));
        assert!(out.join("model.safetensors").is_file(), "{name}");
        let evaluated = succeed(ferrite(&["evaluate", o]));
        assert!(!evaluated.stdout.is_empty(), "{name}");
    }
    // An image folder of two classes, one sub-folder each: 24 solar cells of the shipped
    // ELPV data, sorted by their label (0: good, 1: defective).
    let elpv = data("elpv64");
    let labels = std::fs::read_to_string(elpv.join("labels.csv")).unwrap();
    let images = dir.join("cells");
    let mut taken = BTreeMap::new();
    for line in labels.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let class = match fields[1] {
            "0" => "good",
            "1" => "defective",
            _ => continue,
        };
        let count = taken.entry(class).or_insert(0);
        if *count < 12 {
            *count += 1;
            std::fs::create_dir_all(images.join(class)).unwrap();
            std::fs::copy(
                elpv.join("images").join(fields[0]),
                images.join(class).join(fields[0]),
            )
            .unwrap();
        }
    }
    assert_eq!(taken.values().sum::<i32>(), 24);
    let out = dir.join("images-run");
    succeed(mpirun(
        &[
            "train",
            "--images",
            images.to_str().unwrap(),
            "--size",
            "16",
            "--epochs",
            "2",
            "--verbose",
            "0",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    ));
    assert!(out.join("model.safetensors").is_file());
    succeed(ferrite(&["evaluate", out.to_str().unwrap()]));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The process ids of the ranks of a job writing to `out`, by rank.
fn ranks_of(out: &Path) -> BTreeMap<usize, u32> {
    let mut ranks = BTreeMap::new();
    let needle = out.to_str().unwrap();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains(needle) || cmdline.starts_with("mpirun") {
            continue;
        }
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let rank = String::from_utf8_lossy(&environ).split('\0').find_map(|v| {
            v.strip_prefix("OMPI_COMM_WORLD_RANK=")?
                .parse::<usize>()
                .ok()
        });
        if let Some(rank) = rank {
            ranks.insert(rank, pid);
        }
    }
    ranks
}

/// Starts a long training job into `out` and returns it with rank 1's process id, once both
/// ranks are training.
fn start_long_job(dir: &Path, out: &Path, env: &[(&str, &str)]) -> (Child, u32) {
    let csv = regression_csv(dir);
    let mut job = mpirun(
        &[
            "train",
            "--csv",
            csv.to_str().unwrap(),
            "--target",
            "y",
            "--epochs",
            "100000",
            "--verbose",
            "0",
            "--out",
            out.to_str().unwrap(),
        ],
        env,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start mpirun");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ranks = ranks_of(out);
        if let Some(&pid) = ranks.get(&1).filter(|_| ranks.len() == 2) {
            // Give both ranks time to load the data and enter training.
            std::thread::sleep(Duration::from_secs(2));
            return (job, pid);
        }
        assert!(Instant::now() < deadline, "the ranks did not start");
        if let Ok(Some(status)) = job.try_wait() {
            panic!("the job ended early: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits at most `limit` for `job` and returns its output.
fn finish_within(mut job: Child, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    while job.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = job.kill();
            panic!("the job did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (job.wait_with_output().unwrap(), started.elapsed())
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

#[test]
fn a_killed_rank_ends_the_job_with_a_message_and_no_run_folder() {
    let dir = temp_dir("killed");
    let out = dir.join("run");
    let (job, rank1) = start_long_job(&dir, &out, &[]);
    signal(rank1, "-KILL");
    let (output, took) = finish_within(job, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("rank 1") && stderr.contains("signal 9"),
        "mpirun names the rank that died: {stderr}"
    );
    assert!(
        stderr.contains("ferrite (rank 0 of 2): stopped by a signal"),
        "rank 0 says why it ends: {stderr}"
    );
    assert!(took < Duration::from_secs(30));
    assert!(!out.exists(), "no run folder");
    let left: Vec<String> = entries(&dir)
        .into_iter()
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(left.is_empty(), "staging folders left: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_hung_rank_is_caught_by_the_watchdog() {
    let dir = temp_dir("hung");
    let out = dir.join("run");
    let (job, rank1) = start_long_job(&dir, &out, &[("FERRITE_MPI_TIMEOUT", "2")]);
    signal(rank1, "-STOP");
    let (output, took) = finish_within(job, Duration::from_secs(40));
    signal(rank1, "-KILL");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("rank 0 of 2: no answer from the other ranks for 2 s in all_reduce"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(40));
    assert!(!out.exists(), "no run folder");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn other_commands_are_refused_under_mpirun() {
    let out = mpirun(&["evaluate", "no-such-run"], &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("only `ferrite train` and `ferrite bench` run across MPI ranks"),
        "{stderr}"
    );
}
