//! Property-based fuzz target for the command line (issue #13): random subsets of the real
//! `ferrite train` options with random values (extreme, negative, NaN, huge widths, edge test
//! sizes, zero epochs and batch sizes, unknown devices) on a tiny CSV, and `evaluate` /
//! `predict` against a saved run whose model.json or weights were hand-edited.
//!
//! Every run of the built binary must end within 20 s (a hang is a failure) and either
//! succeed, with no NaN or infinity among the printed numbers and (for `train`) a complete
//! run folder whose metrics are all finite, or fail with exit code 1 or 2, a line starting
//! with `error:` on stderr, no panic and no run folder left behind.
//!
//! 24 cases per target by default; `PROPTEST_CASES=500 cargo test -p ferrite-cli --test
//! fuzz_options` runs longer. Failures are not persisted to files in the repository: every
//! crash found is kept below as a named regression test instead.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

mod support;
use support::ferrite;

/// The proptest configuration: `default_cases` cases unless `PROPTEST_CASES` says otherwise
/// (proptest's own default reads it), and no failure file written into the source tree.
fn config(default_cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    config.failure_persistence = None;
    config
}

/// How long one command may run before it counts as a hang.
const LIMIT: Duration = Duration::from_secs(20);

/// This process's scratch folder, made once.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ferrite-fuzz-options-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        remove_stale_scratch("ferrite-fuzz-options-");
        std::fs::create_dir_all(&dir).expect("create the scratch folder");
        dir
    })
}

/// Removes the scratch folders of earlier runs whose process has ended (they cannot clean up
/// after themselves: statics are never dropped). Only where `/proc` tells which processes live.
fn remove_stale_scratch(prefix: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(prefix)
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A fresh path in the scratch folder (that does not exist yet).
fn fresh(stem: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    scratch().join(format!("{stem}-{}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// What one run of the binary did.
struct Outcome {
    /// The exit code; `None` when a signal ended it (a kill after [`LIMIT`] included).
    code: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

/// Runs `ferrite ARGS` in the scratch folder (so a default `runs/` never lands in the
/// repository), with output to files (no pipe to fill up) and a kill after [`LIMIT`].
fn run_ferrite(args: &[String]) -> Outcome {
    let base = fresh("out");
    let (out_path, err_path) = (base.with_extension("stdout"), base.with_extension("stderr"));
    let mut child = ferrite()
        .args(args)
        .current_dir(scratch())
        .env("FERRITE_NUM_THREADS", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("start ferrite");
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for ferrite") {
            break status;
        }
        if start.elapsed() > LIMIT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for ferrite");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    let outcome = Outcome {
        code: status.code(),
        stdout: read(&out_path),
        stderr: read(&err_path),
        timed_out,
    };
    let _ = std::fs::remove_file(out_path);
    let _ = std::fs::remove_file(err_path);
    outcome
}

/// True when `text` shows a NaN or an infinity as a number.
fn shows_non_finite(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| ["nan", "inf", "infinity"].contains(&w.to_ascii_lowercase().as_str()))
}

/// The outcome is a success without non-finite numbers or a clear failure.
fn check_outcome(args: &[String], o: &Outcome) -> Result<(), TestCaseError> {
    let shown = || {
        format!(
            "ferrite {}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            o.stdout,
            o.stderr
        )
    };
    prop_assert!(!o.timed_out, "ran past {:?} (a hang):\n{}", LIMIT, shown());
    prop_assert!(o.code.is_some(), "ended by a signal:\n{}", shown());
    prop_assert!(
        !o.stderr.contains("panicked") && o.code != Some(101),
        "panicked:\n{}",
        shown()
    );
    if o.code == Some(0) {
        prop_assert!(
            !shows_non_finite(&o.stdout),
            "a non-finite number printed as a result:\n{}",
            shown()
        );
    } else {
        prop_assert!(
            o.stderr.lines().any(|l| l.starts_with("error:")),
            "failed without an `error:` line:\n{}",
            shown()
        );
    }
    Ok(())
}

/// Every number in a JSON value is finite (serde_json writes NaN as null; null counts too).
fn all_finite(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => false,
        serde_json::Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
        serde_json::Value::Object(m) => m.values().all(all_finite),
        serde_json::Value::Array(a) => a.iter().all(all_finite),
        _ => true,
    }
}

// ---------------------------------------------------------------------------------------
// Fixtures: tiny CSV files, and a run trained on each once.

/// A 24-row CSV: `x1`, `x2` and a numeric `y` (regression) or text `kind` (3 classes).
fn tiny_csv(classes: bool) -> &'static Path {
    static REG: OnceLock<PathBuf> = OnceLock::new();
    static CLS: OnceLock<PathBuf> = OnceLock::new();
    let cell = if classes { &CLS } else { &REG };
    cell.get_or_init(|| {
        let path = scratch().join(if classes { "kinds.csv" } else { "values.csv" });
        let mut text = String::from(if classes { "x1,x2,kind\n" } else { "x1,x2,y\n" });
        for i in 0..24 {
            let (a, b) = ((i as f32 * 0.37).sin(), (i as f32 * 0.11).cos());
            let target = if classes {
                ["rose", "tulip", "iris"][i % 3].to_string()
            } else {
                format!("{}", 2.0 * a - b)
            };
            text.push_str(&format!("{a},{b},{target}\n"));
        }
        std::fs::write(&path, text).unwrap();
        path
    })
}

/// A run folder trained on [`tiny_csv`], made once.
fn saved_run(classes: bool) -> &'static Path {
    static REG: OnceLock<PathBuf> = OnceLock::new();
    static CLS: OnceLock<PathBuf> = OnceLock::new();
    let cell = if classes { &CLS } else { &REG };
    cell.get_or_init(|| {
        let out = scratch().join(if classes { "run-kinds" } else { "run-values" });
        let target = if classes { "kind" } else { "y" };
        let args: Vec<String> = ["train", "--csv"]
            .iter()
            .map(|s| s.to_string())
            .chain([
                tiny_csv(classes).display().to_string(),
                "--target".into(),
                target.into(),
                "--model".into(),
                "mlp:8".into(),
                "--epochs".into(),
                "3".into(),
                "--verbose".into(),
                "0".into(),
                "--out".into(),
                out.display().to_string(),
            ])
            .collect();
        let o = run_ferrite(&args);
        assert_eq!(
            o.code,
            Some(0),
            "training the fixture run failed:\n{}\n{}",
            o.stdout,
            o.stderr
        );
        out
    })
}

// ---------------------------------------------------------------------------------------
// `ferrite train` with random options.

/// Values clap reads as whole numbers (the extremes included), then ones it refuses.
const INTEGERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "64",
    "1000000",
    "18446744073709551615",
];
const BAD_INTEGERS: &[&str] = &["-1", "18446744073709551616", "1e3", "abc", "", "NaN", " 2"];
/// Values clap reads as numbers (NaN and the infinities included), then ones it refuses.
const FLOATS: &[&str] = &[
    "0",
    "1e-17",
    "0.5",
    "0.2",
    "0.01",
    "1",
    "0.99999",
    "1.0000001",
    "-0.2",
    "NaN",
    "inf",
    "-inf",
    "1e308",
    "1e-308",
    "1e39",
    "-0",
    "1e-45",
];
const BAD_FLOATS: &[&str] = &["abc", "", "0x1p-3", "1,5"];
const MODELS: &[&str] = &[
    "linear",
    "logistic",
    "mlp:4",
    "mlp:4,2",
    "mlp:0",
    "mlp:",
    "mlp:,",
    "mlp:4,,2",
    "mlp:-1",
    "mlp:18446744073709551615",
    "mlp:99999999999",
    "mlp:1000000,1000000",
    "mlp:512",
    "mlp:abc",
    "cnn",
    "MLP:4",
    "mlp:4 ,2",
    "mlp:1,1,1,1,1,1,1,1",
];
const DEVICES: &[&str] = &[
    "cpu", "wgpu:99", "gpu", "cuda", "", "wgpu:-1", "cpu:0", "wgpu:x",
];

/// `--name VALUE` with a value from `good` mostly and from `bad` sometimes.
fn pair(
    name: &'static str,
    good: &'static [&'static str],
    bad: &'static [&'static str],
) -> impl Strategy<Value = Vec<String>> {
    let value = if bad.is_empty() {
        prop::sample::select(good).boxed()
    } else {
        prop_oneof![6 => prop::sample::select(good), 1 => prop::sample::select(bad)].boxed()
    };
    value.prop_map(move |v| vec![name.to_string(), v.to_string()])
}

/// One option and its value (or none for a flag).
fn train_option() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        // Few epochs: a million is honest work, not a hang (20 s would call it one).
        3 => pair("--epochs", &["0", "1", "2", "3"], BAD_INTEGERS),
        2 => pair("--batch-size", INTEGERS, BAD_INTEGERS),
        2 => pair("--seed", INTEGERS, BAD_INTEGERS),
        1 => pair("--verbose", &["0", "1", "2"], &["3", "-1"]),
        3 => pair("--lr", FLOATS, BAD_FLOATS),
        3 => pair("--test-size", FLOATS, BAD_FLOATS),
        2 => pair("--clip-grad-norm", FLOATS, BAD_FLOATS),
        4 => pair("--model", MODELS, &[]),
        2 => pair("--optimizer", &["sgd", "momentum", "adam"], &["rmsprop", ""]),
        2 => pair("--task", &["classification", "regression"], &["x"]),
        2 => pair("--device", DEVICES, &[]),
        1 => Just(vec!["--overwrite".to_string()]),
        // Options that --csv refuses or clap rejects with it.
        1 => prop_oneof![
            pair("--size", INTEGERS, &[]),
            Just(vec!["--fast".to_string()]),
            pair("--labels", &["labels.csv"], &[]),
            pair("--images", &["."], &[]),
            prop::sample::select(&["--", "-x", "--epochs=3=4", "--bogus", "iris"][..])
                .prop_map(|s| vec![s.to_string()]),
        ],
    ]
}

/// A `ferrite train --csv` command: the CSV, a target, random options, a fresh `--out`.
#[derive(Clone, Debug)]
struct TrainCase {
    classes: bool,
    target: &'static str,
    options: Vec<Vec<String>>,
    /// Adds `--epochs 2` unless the options set epochs (100 epochs is the default).
    few_epochs: bool,
}

fn train_case() -> impl Strategy<Value = TrainCase> {
    (
        any::<bool>(),
        prop_oneof![
            8 => Just(None),
            1 => prop::sample::select(vec!["y", "kind", "x1", "nope", ""]).prop_map(Some),
        ],
        prop::collection::vec(train_option(), 0..5),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(classes, target, options, few_epochs)| TrainCase {
            classes,
            // Mostly the CSV's own target column.
            target: target.unwrap_or(if classes { "kind" } else { "y" }),
            options,
            few_epochs,
        })
}

fn check_train(case: &TrainCase) -> Result<(), TestCaseError> {
    let out = fresh("train-run");
    let mut args: Vec<String> = vec![
        "train".into(),
        "--csv".into(),
        tiny_csv(case.classes).display().to_string(),
        "--target".into(),
        case.target.into(),
        "--verbose".into(),
        "0".into(),
    ];
    if case.few_epochs && !case.options.iter().any(|o| o[0] == "--epochs") {
        args.extend(["--epochs".to_string(), "2".to_string()]);
    }
    args.extend(case.options.iter().flatten().cloned());
    args.extend(["--out".to_string(), out.display().to_string()]);
    let o = run_ferrite(&args);
    check_outcome(&args, &o)?;
    let shown = || {
        format!(
            "ferrite {}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            o.stdout,
            o.stderr
        )
    };
    if o.code == Some(0) {
        for file in ["model.json", "model.safetensors", "metrics.json"] {
            prop_assert!(
                out.join(file).exists(),
                "a successful run has no {}:\n{}",
                file,
                shown()
            );
        }
        let metrics: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).map_err(
                |e| TestCaseError::fail(format!("metrics.json is not JSON ({e}):\n{}", shown())),
            )?;
        prop_assert!(
            all_finite(&metrics),
            "non-finite metrics {}:\n{}",
            metrics,
            shown()
        );
    } else {
        prop_assert!(
            !out.exists(),
            "a failed run left {}:\n{}",
            out.display(),
            shown()
        );
        // Nor a temporary folder or file beside it (a half-written run).
        let stem = out.file_name().unwrap().to_string_lossy().into_owned();
        let leftovers: Vec<String> = std::fs::read_dir(scratch())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| {
                // `train-run-5` in `.train-run-5.tmp-42`, not in `train-run-50`.
                n.match_indices(&stem).any(|(at, _)| {
                    n != &stem && !n[at + stem.len()..].starts_with(|c: char| c.is_ascii_digit())
                })
            })
            .collect();
        prop_assert!(
            leftovers.is_empty(),
            "a failed run left {:?}:\n{}",
            leftovers,
            shown()
        );
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(())
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn train_options_give_a_clean_result_or_a_clear_error(case in train_case()) {
        check_train(&case)?;
    }
}

// ---------------------------------------------------------------------------------------
// `evaluate` and `predict` against a run with a hand-edited model.json or weights.

/// A random JSON value that a hand edit might leave.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop::sample::select(vec![
        json!(null),
        json!(true),
        json!(-1),
        json!(0),
        json!(1),
        json!(18446744073709551615u64),
        json!(1e308),
        json!(-1e308),
        json!(1e-308),
        json!(""),
        json!("x"),
        json!("classification"),
        json!([]),
        json!([0.0]),
        json!([1e30, 1e30]),
        json!({}),
    ])
}

/// Sets the value at a path of object keys / array positions (followed as far as it goes).
fn set_at(node: &mut serde_json::Value, path: &[Index], value: serde_json::Value) {
    let Some((step, rest)) = path.split_first() else {
        *node = value;
        return;
    };
    match node {
        serde_json::Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(step.index(map.len())).unwrap().clone();
            set_at(map.get_mut(&key).unwrap(), rest, value);
        }
        serde_json::Value::Array(items) if !items.is_empty() => {
            let at = step.index(items.len());
            set_at(&mut items[at], rest, value);
        }
        _ => *node = value,
    }
}

/// Removes the entry at a path (an object key or array element), when the path leads to one.
fn remove_at(node: &mut serde_json::Value, path: &[Index]) {
    let Some((step, rest)) = path.split_first() else {
        return;
    };
    match node {
        serde_json::Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(step.index(map.len())).unwrap().clone();
            if rest.is_empty() {
                map.remove(&key);
            } else {
                remove_at(map.get_mut(&key).unwrap(), rest);
            }
        }
        serde_json::Value::Array(items) if !items.is_empty() => {
            let at = step.index(items.len());
            if rest.is_empty() {
                items.remove(at);
            } else {
                remove_at(&mut items[at], rest);
            }
        }
        _ => {}
    }
}

/// One edit of model.json.
#[derive(Clone, Debug)]
enum Edit {
    Set(Vec<Index>, serde_json::Value),
    Remove(Vec<Index>),
    /// Cuts the text at a fraction of its length.
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let path = prop::collection::vec(any::<Index>(), 1..5);
    prop_oneof![
        5 => (path.clone(), json_value()).prop_map(|(p, v)| Edit::Set(p, v)),
        3 => path.prop_map(Edit::Remove),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

/// `evaluate` or `predict` on a copy of a saved run with edits.
#[derive(Clone, Debug)]
struct RunCase {
    classes: bool,
    predict: bool,
    /// `evaluate --csv` (on the training CSV) instead of the recorded split.
    with_csv: bool,
    edits: Vec<Edit>,
    /// Cut the weights file at this fraction of its length.
    truncate_weights: Option<Index>,
}

fn run_case() -> impl Strategy<Value = RunCase> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(edit(), 0..4),
        prop_oneof![6 => Just(None), 1 => any::<Index>().prop_map(Some)],
    )
        .prop_map(
            |(classes, predict, with_csv, edits, truncate_weights)| RunCase {
                classes,
                predict,
                with_csv,
                edits,
                truncate_weights,
            },
        )
}

/// Copies a run folder's files.
fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn check_run(case: &RunCase) -> Result<(), TestCaseError> {
    let run = fresh("edited-run");
    copy_run(saved_run(case.classes), &run);
    let card_path = run.join("model.json");
    let mut card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&card_path).unwrap()).unwrap();
    let mut cut = None;
    for e in &case.edits {
        match e {
            Edit::Set(path, value) => set_at(&mut card, path, value.clone()),
            Edit::Remove(path) => remove_at(&mut card, path),
            Edit::Truncate(at) => cut = Some(at),
        }
    }
    let mut text = serde_json::to_vec_pretty(&card).unwrap();
    if let Some(at) = cut {
        text.truncate(at.index(text.len() + 1));
    }
    std::fs::write(&card_path, text).unwrap();
    if let Some(at) = &case.truncate_weights {
        let weights = run.join("model.safetensors");
        let bytes = std::fs::read(&weights).unwrap();
        std::fs::write(&weights, &bytes[..at.index(bytes.len())]).unwrap();
    }
    let csv = tiny_csv(case.classes).display().to_string();
    let args: Vec<String> = if case.predict {
        vec![
            "predict".into(),
            run.display().to_string(),
            "--csv".into(),
            csv,
        ]
    } else if case.with_csv {
        vec![
            "evaluate".into(),
            run.display().to_string(),
            "--csv".into(),
            csv,
        ]
    } else {
        vec!["evaluate".into(), run.display().to_string()]
    };
    let o = run_ferrite(&args);
    let _ = std::fs::remove_dir_all(&run);
    check_outcome(&args, &o)
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn evaluate_and_predict_on_an_edited_run_give_a_clean_result_or_a_clear_error(case in run_case()) {
        check_run(&case)?;
    }
}

// ---------------------------------------------------------------------------------------
// Regression tests: every crash the targets found, by name.

/// Runs `ferrite train --csv values.csv --target y --verbose 0 --out NEW EXTRA...` and checks
/// the outcome as the fuzz target does.
fn train_with(extra: &[&str]) -> Outcome {
    let out = fresh("regression-run");
    let mut args: Vec<String> = vec![
        "train".into(),
        "--csv".into(),
        tiny_csv(false).display().to_string(),
        "--target".into(),
        "y".into(),
        "--verbose".into(),
        "0".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = run_ferrite(&args);
    if let Err(e) = check_outcome(&args, &o) {
        panic!("{e}");
    }
    o
}

#[test]
fn the_shell_helpers_see_what_they_should() {
    assert!(shows_non_finite("RMSE NaN"));
    assert!(shows_non_finite("R2 -inf"));
    assert!(!shows_non_finite("information: 0.5, finite"));
    assert!(!all_finite(&serde_json::json!({"r2": null})));
    assert!(all_finite(&serde_json::json!({"r2": 0.5, "name": "x"})));
}

#[test]
fn extreme_option_values_are_refused_with_a_message() {
    for extra in [
        ["--model", "mlp:18446744073709551615"],
        ["--test-size", "1e-17"],
        ["--epochs", "0"],
        ["--batch-size", "0"],
        ["--lr", "NaN"],
        ["--device", "wgpu:99"],
    ] {
        let o = train_with(&extra);
        assert_ne!(o.code, Some(0), "{extra:?} was accepted:\n{}", o.stdout);
    }
}
