//! Property-based fuzz targets for every reader of user files (issue #13): the CSV reader
//! ([`CsvOptions::load`]), the image labels reader ([`ImageOptions::load_with_labels`]) and
//! model files (`model.json` + safetensors through [`load_model`]).
//!
//! Each target starts from a valid input, mangles it (deleted and duplicated delimiters,
//! quotes, CRLF, huge numbers, `inf`, `-0`, invalid UTF-8, empty lines, a missing header, a
//! BOM, truncation, a rewritten safetensors header), calls the public loader inside
//! `catch_unwind` and asserts that it does not panic, that an error names the file, and that
//! a success is well formed: shapes agree with the row counts and values are finite (NaN only
//! where missing values are kept on purpose). Unmangled inputs must load to exactly the
//! values written.
//!
//! The case count is 64 per target (about a few seconds in a debug build) unless
//! `PROPTEST_CASES` is set: `PROPTEST_CASES=2000 cargo test -p ferrite --test fuzz_inputs`
//! for a longer run. Failures are not persisted to files in the repository: every crash found
//! is kept below as a named regression test instead.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use ferrite::data::{
    ColorMode, CsvOptions, CsvTable, ImageOptions, ImageSet, LabelEncoder, MissingPolicy,
    TargetKind,
};
use ferrite::nn::{BatchNorm1d, Linear, Module, ReLU, Sequential};
use ferrite::train::{load_model, parse_safetensors, save_model, ModelCard};
use ferrite::Result;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

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

/// This process's scratch folder, made once.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ferrite-fuzz-inputs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        remove_stale_scratch("ferrite-fuzz-inputs-");
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

/// A fresh file name in the scratch folder (tests run on several threads).
fn fresh(stem: &str, ext: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    scratch().join(format!("{stem}-{n}.{ext}"))
}

/// Runs `f`, turning a panic into a test failure that quotes the panic message.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> std::result::Result<T, TestCaseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(no message)".into());
        TestCaseError::fail(format!("{what} panicked: {message}"))
    })
}

/// Checks that an error names the file it is about (by file name; the folder may be long).
fn error_names_file<T>(result: &Result<T>, path: &Path) -> std::result::Result<(), TestCaseError> {
    if let Err(e) = result {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = e.to_string();
        prop_assert!(
            text.contains(&name),
            "the error does not name {name}: {text}"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Byte mutations shared by every target.

/// Pieces of text that readers of tables and JSON trip on.
const TOKENS: &[&[u8]] = &[
    b",",
    b",,",
    b";",
    b"\t",
    b" ",
    b"\"",
    b"\"\"",
    b"'",
    b"\r\n",
    b"\n",
    b"\r",
    b"\n\n",
    b"\r\n\r\n",
    b"1e39",
    b"-1e39",
    b"3.4028236e38",
    b"1e308",
    b"1e-400",
    b"1e-45",
    b"inf",
    b"-inf",
    b"+Infinity",
    b"NaN",
    b"-nan",
    b"-0",
    b"+0",
    b"0x1F",
    b"1_000",
    b"1,5",
    b"NA",
    b"null",
    b"?",
    b"-",
    b".",
    b"e5",
    b"99999999999999999999999999999",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"\0",
    b"\xe2\x80\xa8",
    b"\xd9\xa3",
    b"y",
    b"a",
    b"label",
    b"image",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"true",
    b"[]",
    b"{}",
    b"\\",
    b"\\u0000",
    b"\"\\ud800\"",
];

/// A token: a listed one, a few random bytes, or a very long field.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::sample::select(TOKENS).prop_map(|t| t.to_vec()),
        2 => prop::collection::vec(any::<u8>(), 1..4),
        1 => Just(vec![b'x'; 70_000]),
    ]
}

/// One change to a file's bytes; positions are fractions of the length at that moment.
#[derive(Clone, Debug)]
enum Mutation {
    Insert(Index, Vec<u8>),
    Replace(Index, usize, Vec<u8>),
    Delete(Index, usize),
    Duplicate(Index, usize),
    SetByte(Index, u8),
    Truncate(Index),
    DropFirstLine,
    Bom,
    Crlf,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), token()).prop_map(|(i, t)| Mutation::Insert(i, t)),
        3 => (any::<Index>(), 1..6usize, token()).prop_map(|(i, n, t)| Mutation::Replace(i, n, t)),
        3 => (any::<Index>(), 1..6usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        2 => (any::<Index>(), 1..12usize).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => Just(Mutation::DropFirstLine),
        1 => Just(Mutation::Bom),
        1 => Just(Mutation::Crlf),
    ]
}

/// Applies `mutations` in order to `bytes`.
fn mutate(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
    // A position in 0..=len (inserting at the end is allowed).
    let at = |i: &Index, len: usize| i.index(len + 1);
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Insert(i, t) => {
                let p = at(i, len);
                bytes.splice(p..p, t.iter().copied());
            }
            Mutation::Replace(i, n, t) => {
                let p = at(i, len);
                let end = (p + n).min(len);
                bytes.splice(p..end, t.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let p = at(i, len);
                bytes.drain(p..(p + n).min(len));
            }
            Mutation::Duplicate(i, n) => {
                let p = at(i, len);
                let piece: Vec<u8> = bytes[p..(p + n).min(len)].to_vec();
                bytes.splice(p..p, piece);
            }
            Mutation::SetByte(i, b) => {
                if len > 0 {
                    bytes[i.index(len)] = *b;
                }
            }
            Mutation::Truncate(i) => bytes.truncate(at(i, len)),
            Mutation::DropFirstLine => {
                let end = bytes
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(len, |p| p + 1);
                bytes.drain(..end);
            }
            Mutation::Bom => {
                bytes.splice(0..0, *b"\xef\xbb\xbf");
            }
            Mutation::Crlf => {
                let mut out = Vec::with_capacity(len + len / 8);
                for &b in bytes.iter() {
                    if b == b'\n' {
                        out.push(b'\r');
                    }
                    out.push(b);
                }
                *bytes = out;
            }
        }
    }
}

fn mutations(max: usize) -> impl Strategy<Value = Vec<Mutation>> {
    prop_oneof![
        1 => Just(Vec::new()),
        5 => prop::collection::vec(mutation(), 1..=max),
    ]
}

// ---------------------------------------------------------------------------------------
// The CSV reader.

/// Labels that are not missing-value spellings and have no surrounding blanks.
const LABELS: &[&str] = &[
    "rose", "tulip", "1", "2", "x y", "q\"uote", "a,b", "Ünï", "-0",
];

/// A finite f32: mostly ordinary, sometimes extreme.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -100.0f32..100.0,
        1 => any::<f32>().prop_filter("finite", |v| v.is_finite()),
        1 => prop::sample::select(vec![0.0f32, -0.0, 1e18, -1e30, 3.4e38, 1e-40, f32::MIN_POSITIVE]),
    ]
}

/// A valid table: feature columns `a`, `b`, ... and a target `y` of numbers or labels.
#[derive(Clone, Debug)]
struct Table {
    features: Vec<Vec<f32>>,
    target: Target,
}

#[derive(Clone, Debug)]
enum Target {
    Numbers(Vec<f32>),
    Labels(Vec<&'static str>),
}

const NAMES: &[&str] = &["a", "b", "c", "d"];

fn table() -> impl Strategy<Value = Table> {
    (1..=4usize, 1..=8usize).prop_flat_map(|(nf, rows)| {
        let features = prop::collection::vec(prop::collection::vec(value(), nf), rows);
        let target = prop_oneof![
            prop::collection::vec(value(), rows).prop_map(Target::Numbers),
            prop::collection::vec(prop::sample::select(LABELS), rows).prop_map(Target::Labels),
        ];
        (features, target).prop_map(|(features, target)| Table { features, target })
    })
}

impl Table {
    /// True when the target labels are some numbers and some text.
    fn mixes_numbers_and_text(&self) -> bool {
        match &self.target {
            Target::Numbers(_) => false,
            Target::Labels(y) => {
                let numbers = y.iter().filter(|l| l.parse::<f32>().is_ok()).count();
                numbers > 0 && numbers < y.len()
            }
        }
    }

    fn names(&self) -> Vec<&'static str> {
        let mut names = NAMES[..self.features[0].len()].to_vec();
        names.push("y");
        names
    }

    /// The table as CSV, written by the `csv` crate (so labels with quotes are quoted).
    fn to_csv(&self, delimiter: u8) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .from_writer(Vec::new());
        w.write_record(self.names()).unwrap();
        for (i, row) in self.features.iter().enumerate() {
            let mut record: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            record.push(match &self.target {
                Target::Numbers(t) => t[i].to_string(),
                Target::Labels(t) => t[i].to_string(),
            });
            w.write_record(&record).unwrap();
        }
        w.into_inner().unwrap()
    }
}

/// One call of the CSV reader: a table, how it is written and mangled, and the options.
#[derive(Clone, Debug)]
struct CsvCase {
    table: Table,
    file_delimiter: u8,
    delimiter: Option<u8>,
    target: Option<&'static str>,
    features: Option<Vec<&'static str>>,
    kind: TargetKind,
    missing: MissingPolicy,
    fit_rows: Option<Vec<usize>>,
    encoder: Option<Vec<&'static str>>,
    /// Extra missing-value markers (`CsvOptions::na_values`).
    na_values: Vec<&'static str>,
    mutations: Vec<Mutation>,
}

fn csv_case() -> impl Strategy<Value = CsvCase> {
    let delimiter = prop_oneof![6 => Just(b','), 1 => Just(b';'), 1 => Just(b'\t')];
    let option_delimiter = prop_oneof![
        4 => Just(None),
        2 => Just(Some(b',')),
        1 => Just(Some(b';')),
        1 => Just(Some(b'\t')),
    ];
    let target = prop_oneof![
        6 => Just(Some("y")),
        2 => Just(None),
        1 => Just(Some("a")),
        1 => Just(Some("nope")),
    ];
    // Distinct names (a name asked for twice is its own regression test below).
    let features = prop_oneof![
        4 => Just(None),
        2 => prop::sample::subsequence(vec!["a", "b", "c", "d", "y", "zz"], 0..4)
            .prop_shuffle()
            .prop_map(Some),
    ];
    let kind = prop::sample::select(vec![
        TargetKind::Auto,
        TargetKind::Numeric,
        TargetKind::Categorical,
    ]);
    let missing = prop::sample::select(vec![
        MissingPolicy::Refuse,
        MissingPolicy::DropRows,
        MissingPolicy::FillMean,
        MissingPolicy::FillMedian,
        MissingPolicy::Keep,
    ]);
    let fit_rows = prop_oneof![
        3 => Just(None),
        1 => prop::collection::vec(0..12usize, 0..6).prop_map(Some),
    ];
    let encoder = prop_oneof![
        4 => Just(None),
        1 => prop::collection::vec(prop::sample::select(LABELS), 0..4).prop_map(Some),
    ];
    (
        table(),
        delimiter,
        option_delimiter,
        target,
        features,
        kind,
        missing,
        fit_rows,
        (
            encoder,
            prop_oneof![
                3 => Just(Vec::new()),
                1 => prop::sample::subsequence(vec!["?", "-", "x y", "", "1", "rose", " n/a "], 1..3),
            ],
        ),
        mutations(6),
    )
        .prop_map(
            |(table, file_delimiter, delimiter, target, features, kind, missing, fit_rows, (encoder, na_values), mutations)| {
                CsvCase {
                    table,
                    file_delimiter,
                    delimiter,
                    target,
                    features,
                    kind,
                    missing,
                    fit_rows,
                    encoder,
                    na_values,
                    mutations,
                }
            },
        )
}

impl CsvCase {
    fn options(&self) -> CsvOptions {
        let mut o = CsvOptions::new()
            .target_kind(self.kind)
            .missing(self.missing);
        if let Some(t) = self.target {
            o = o.target(t);
        }
        if let Some(f) = &self.features {
            o = o.features(f);
        }
        if let Some(d) = self.delimiter {
            o = o.delimiter(d);
        }
        if let Some(rows) = &self.fit_rows {
            o = o.fit_rows(rows);
        }
        if let Some(labels) = &self.encoder {
            let mut e = LabelEncoder::new();
            e.fit(labels);
            o = o.label_encoder(e);
        }
        if !self.na_values.is_empty() {
            o = o.na_values(&self.na_values);
        }
        o
    }

    /// True when the file is the table as written and the options read it as it is, so the
    /// result must be exactly the table.
    fn is_plain(&self) -> bool {
        self.mutations.is_empty()
            && self.delimiter.unwrap_or(b',') == self.file_delimiter
            && match self.target {
                // Labels that mix numbers and text are refused unless declared categorical
                // (a stray text value in a numeric column is an error since issue #13).
                Some(t) => t == "y" && !self.table.mixes_numbers_and_text(),
                // Without a target, `y` is a feature: only numbers are a valid file then.
                None => matches!(self.table.target, Target::Numbers(_)),
            }
            && self.features.is_none()
            && self.kind == TargetKind::Auto
            && self.fit_rows.is_none()
            && self.encoder.is_none()
            && self.na_values.is_empty()
    }
}

/// Writes, mangles and loads one case; checks what came back.
fn check_csv(case: &CsvCase) -> std::result::Result<(), TestCaseError> {
    let mut bytes = case.table.to_csv(case.file_delimiter);
    mutate(&mut bytes, &case.mutations);
    let path = fresh("table", "csv");
    std::fs::write(&path, &bytes).unwrap();
    let options = case.options();
    let result = no_panic("CsvOptions::load", || options.load(&path))?;
    let _ = std::fs::remove_file(&path);
    error_names_file(&result, &path)?;
    if case.is_plain() {
        let table = result
            .as_ref()
            .map_err(|e| TestCaseError::fail(format!("a valid file was refused: {e}")))?;
        check_plain_table(case, table)?;
    }
    if let Ok(table) = &result {
        check_table(case, table)?;
    }
    Ok(())
}

/// A loaded table agrees with itself: shapes, counts, finite values, valid class indices.
fn check_table(case: &CsvCase, t: &CsvTable) -> std::result::Result<(), TestCaseError> {
    let rows = t.report.rows_kept;
    prop_assert_eq!(t.features.dims(), &[rows, t.feature_names.len()][..]);
    prop_assert!(
        !t.feature_names.is_empty(),
        "a table without feature columns"
    );
    prop_assert_eq!(t.lines.len(), rows);
    prop_assert!(
        t.lines.windows(2).all(|w| w[0] < w[1]),
        "file lines not increasing: {:?}",
        t.lines
    );
    prop_assert_eq!(
        t.report.rows_read,
        rows + t.report.dropped_lines.len(),
        "rows read = kept + dropped"
    );
    for (j, name) in t.feature_names.iter().enumerate() {
        prop_assert!(
            !t.feature_names[..j].contains(name),
            "feature {} twice",
            name
        );
        prop_assert!(
            t.target_name.as_ref() != Some(name),
            "{} is feature and target",
            name
        );
    }
    let keep = case.missing == MissingPolicy::Keep;
    for v in t.features.to_vec() {
        prop_assert!(
            v.is_finite() || (keep && v.is_nan()),
            "feature value {} in an Ok table (policy {:?})",
            v,
            case.missing
        );
    }
    match (&t.target_name, &t.targets) {
        (None, None) => {}
        (Some(_), Some(targets)) => {
            prop_assert_eq!(targets.dims(), &[rows][..]);
            let classes = t.label_encoder.as_ref().map(|e| e.classes().len());
            for v in targets.to_vec() {
                if keep && v.is_nan() {
                    continue;
                }
                prop_assert!(v.is_finite(), "target value {} in an Ok table", v);
                if let Some(k) = classes {
                    prop_assert!(
                        v >= 0.0 && v.fract() == 0.0 && (v as usize) < k,
                        "class index {} with {} classes",
                        v,
                        k
                    );
                }
            }
        }
        (name, targets) => {
            return Err(TestCaseError::fail(format!(
                "target name {name:?} but targets {:?}",
                targets.as_ref().map(|t| t.dims().to_vec())
            )))
        }
    }
    Ok(())
}

/// An unmangled file loads to exactly the values written.
fn check_plain_table(case: &CsvCase, t: &CsvTable) -> std::result::Result<(), TestCaseError> {
    let table = &case.table;
    let n = table.features.len();
    prop_assert_eq!(t.report.rows_kept, n);
    let expected_names: Vec<String> = table.names()[..table.features[0].len()]
        .iter()
        .map(|s| s.to_string())
        .chain(case.target.is_none().then(|| "y".to_string()))
        .collect();
    prop_assert_eq!(&t.feature_names, &expected_names);
    let got = t.features.to_vec2();
    for (i, row) in table.features.iter().enumerate() {
        prop_assert_eq!(&got[i][..row.len()], &row[..], "row {}", i);
    }
    if case.target.is_none() {
        // `y` is read as a feature: numbers as they are (labels would have been refused).
        if let Target::Numbers(y) = &table.target {
            for (i, v) in y.iter().enumerate() {
                prop_assert_eq!(got[i][row_len(table)], *v, "y of row {}", i);
            }
        }
        return Ok(());
    }
    let targets = t.targets.as_ref().unwrap().to_vec();
    match &table.target {
        Target::Numbers(y) => prop_assert_eq!(&targets, y),
        Target::Labels(y) => match &t.label_encoder {
            Some(e) => {
                for (i, label) in y.iter().enumerate() {
                    prop_assert_eq!(&e.classes()[targets[i] as usize], label, "row {}", i);
                }
            }
            None => {
                for (i, label) in y.iter().enumerate() {
                    prop_assert_eq!(targets[i], label.parse::<f32>().unwrap(), "row {}", i);
                }
            }
        },
    }
    Ok(())
}

fn row_len(table: &Table) -> usize {
    table.features[0].len()
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn csv_reader_never_panics_and_loads_only_well_formed_tables(case in csv_case()) {
        check_csv(&case)?;
    }
}

// ---------------------------------------------------------------------------------------
// The labels reader of image folders.

/// A folder of three tiny PNGs, made once: a.png and b.png 2x2 gray, c.png 2x2 RGB.
fn image_folder() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch().join("images");
        std::fs::create_dir_all(&dir).unwrap();
        image::GrayImage::from_raw(2, 2, vec![0, 64, 128, 255])
            .unwrap()
            .save(dir.join("a.png"))
            .unwrap();
        image::GrayImage::from_raw(2, 2, vec![255, 255, 0, 0])
            .unwrap()
            .save(dir.join("b.png"))
            .unwrap();
        image::RgbImage::from_raw(2, 2, vec![255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30])
            .unwrap()
            .save(dir.join("c.png"))
            .unwrap();
        dir
    })
}

/// One call of the labels reader.
#[derive(Clone, Debug)]
struct LabelsCase {
    rows: Vec<(&'static str, &'static str)>,
    extra_column: bool,
    image_column: &'static str,
    label_column: &'static str,
    color: ColorMode,
    size: Option<(usize, usize)>,
    normalize: Option<(Vec<f32>, Vec<f32>)>,
    mutations: Vec<Mutation>,
}

fn labels_case() -> impl Strategy<Value = LabelsCase> {
    let row = (
        prop::sample::select(vec!["a.png", "b.png", "c.png"]),
        prop::sample::select(vec!["cat", "dog", "0", "1", "2", "0.25", "x,y", "-0"]),
    );
    // 1e30 / 1e-30 once overflowed the normalised pixels to infinity (regression test
    // `normalising_to_infinity_is_refused`).
    let stat = prop::sample::select(vec![
        0.5f32,
        0.25,
        0.0,
        -1.0,
        1e-3,
        f32::NAN,
        1e3,
        1e30,
        1e-30,
    ]);
    let normalize = prop_oneof![
        3 => Just(None),
        1 => (1..=3usize).prop_flat_map(move |c| {
            (prop::collection::vec(stat.clone(), c), prop::collection::vec(stat.clone(), c))
        })
        .prop_map(Some),
    ];
    (
        prop::collection::vec(row, 1..=4),
        any::<bool>(),
        prop::sample::select(vec!["image", "image", "image", "label", "file"]),
        prop::sample::select(vec!["label", "label", "label", "image", "class"]),
        prop::sample::select(vec![ColorMode::Gray, ColorMode::Rgb]),
        prop_oneof![2 => Just(None), 1 => (0..4usize, 0..4usize).prop_map(Some)],
        normalize,
        mutations(5),
    )
        .prop_map(
            |(
                rows,
                extra_column,
                image_column,
                label_column,
                color,
                size,
                normalize,
                mutations,
            )| {
                LabelsCase {
                    rows,
                    extra_column,
                    image_column,
                    label_column,
                    color,
                    size,
                    normalize,
                    mutations,
                }
            },
        )
}

impl LabelsCase {
    fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["image", "label"];
        if self.extra_column {
            header.push("note");
        }
        w.write_record(&header).unwrap();
        for (name, label) in &self.rows {
            let mut record = vec![*name, *label];
            if self.extra_column {
                record.push("n");
            }
            w.write_record(&record).unwrap();
        }
        w.into_inner().unwrap()
    }

    fn options(&self) -> ImageOptions {
        let mut o = ImageOptions::new().color(self.color);
        if let Some((h, w)) = self.size {
            o = o.size(h, w);
        }
        if let Some((mean, std)) = &self.normalize {
            o = o.normalize(mean, std);
        }
        o
    }
}

fn check_labels(case: &LabelsCase) -> std::result::Result<(), TestCaseError> {
    let mut bytes = case.to_csv();
    mutate(&mut bytes, &case.mutations);
    let path = fresh("labels", "csv");
    std::fs::write(&path, &bytes).unwrap();
    let options = case.options();
    let result = no_panic("ImageOptions::load_with_labels", || {
        options.load_with_labels(image_folder(), &path, case.image_column, case.label_column)
    })?;
    let _ = std::fs::remove_file(&path);
    // An error is about the labels file, or about an image it lists (which names the file
    // through "listed on line N of labels-K.csv"), or about an option.
    if let Err(e) = &result {
        let text = e.to_string();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        prop_assert!(
            text.contains(&name) || text.starts_with("invalid "),
            "the error names neither the labels file nor an option: {}",
            text
        );
    }
    if let Ok(set) = &result {
        check_image_set(case, set)?;
    }
    Ok(())
}

fn check_image_set(case: &LabelsCase, set: &ImageSet) -> std::result::Result<(), TestCaseError> {
    let n = set.paths.len();
    prop_assert!(n > 0, "an image set without images");
    let dims = set.images.dims();
    prop_assert_eq!(dims.len(), 4);
    prop_assert_eq!(dims[0], n);
    prop_assert_eq!(dims[1], case.color.channels());
    if let Some((h, w)) = case.size {
        prop_assert_eq!(&dims[2..], &[h, w][..]);
    }
    prop_assert_eq!(set.labels.dims(), &[n][..]);
    for v in set.images.to_vec() {
        prop_assert!(v.is_finite(), "pixel value {} in an Ok image set", v);
        if case.normalize.is_none() {
            prop_assert!((0.0..=1.0).contains(&v), "pixel {} outside [0, 1]", v);
        }
    }
    let classes = set.label_encoder.as_ref().map(|e| e.classes().len());
    for v in set.labels.to_vec() {
        prop_assert!(v.is_finite(), "label {} in an Ok image set", v);
        if let Some(k) = classes {
            prop_assert!(
                v >= 0.0 && v.fract() == 0.0 && (v as usize) < k,
                "class {} of {}",
                v,
                k
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn labels_reader_never_panics_and_loads_only_well_formed_sets(case in labels_case()) {
        check_labels(&case)?;
    }
}

// ---------------------------------------------------------------------------------------
// Model files: model.json and model.safetensors.

/// The model every case saves and loads: Linear(3, 4), ReLU, Linear(4, 2), BatchNorm1d(2)
/// (parameters and buffers, `num_batches_tracked` included).
fn small_model(seed: u64) -> Sequential {
    ferrite::manual_seed(seed);
    Sequential::new()
        .add(Linear::new(3, 4).unwrap())
        .add(ReLU)
        .add(Linear::new(4, 2).unwrap())
        .add(BatchNorm1d::new(2).unwrap())
}

/// The bytes of a saved model (safetensors, then JSON), made once.
fn saved_model() -> &'static (Vec<u8>, Vec<u8>) {
    static SAVED: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    SAVED.get_or_init(|| {
        let path = scratch().join("saved").join("model.safetensors");
        let mut card = ModelCard::new(serde_json::json!({
            "layers": [{"kind": "linear", "in": 3, "out": 4}, {"kind": "relu"},
                       {"kind": "linear", "in": 4, "out": 2}, {"kind": "batch_norm1d", "features": 2}]
        }));
        card.preprocessing = serde_json::json!({"scaler": {"mean": [0.0, 1.0, 2.0], "std": [1.0, 1.0, 1.0]}});
        card.metrics.insert("val_accuracy".into(), 0.75);
        save_model(&small_model(1), &card, &path).unwrap();
        let weights = std::fs::read(&path).unwrap();
        let json = std::fs::read(path.with_extension("json")).unwrap();
        (weights, json)
    })
}

/// A rewrite of one entry of the safetensors header (the JSON after the 8-byte length).
#[derive(Clone, Debug)]
enum HeaderEdit {
    /// Sets the dtype without changing the data (usually inconsistent).
    Dtype(Index, &'static str),
    /// Reads the same bytes as another dtype, with a shape that fits them.
    Reinterpret(Index, &'static str),
    Shape(Index, Vec<u64>),
    Offsets(Index, u64, u64),
    Remove(Index),
    Rename(Index, &'static str),
    /// Sets the 8-byte header length to this value.
    Length(u64),
    /// Makes a tensor empty with this shape (a zero inserted first) and no data.
    Empty(Index, Vec<u64>),
    /// Writes NaN, an infinity or a huge value into element `Index` of a tensor (F32 data).
    Poison(Index, Index, f32),
}

const DTYPES: &[&str] = &[
    "F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "U64", "BOOL", "F8_E4M3", "X",
];

fn header_edit() -> impl Strategy<Value = HeaderEdit> {
    let big = prop_oneof![
        0..10u64,
        Just(u64::MAX),
        Just(u64::MAX / 4 + 1),
        Just(1 << 32),
        any::<u64>(),
    ];
    prop_oneof![
        (any::<Index>(), prop::sample::select(DTYPES)).prop_map(|(i, d)| HeaderEdit::Dtype(i, d)),
        (
            any::<Index>(),
            prop::sample::select(vec!["F64", "I64", "I32", "F16", "U8"])
        )
            .prop_map(|(i, d)| HeaderEdit::Reinterpret(i, d)),
        (any::<Index>(), prop::collection::vec(big.clone(), 0..4))
            .prop_map(|(i, s)| HeaderEdit::Shape(i, s)),
        (any::<Index>(), big.clone(), big.clone())
            .prop_map(|(i, a, b)| HeaderEdit::Offsets(i, a, b)),
        any::<Index>().prop_map(HeaderEdit::Remove),
        (
            any::<Index>(),
            prop::sample::select(vec!["0.weight", "2.bias", "x", "", "__metadata__"])
        )
            .prop_map(|(i, n)| HeaderEdit::Rename(i, n)),
        big.clone().prop_map(HeaderEdit::Length),
        (any::<Index>(), prop::collection::vec(big, 0..3))
            .prop_map(|(i, s)| HeaderEdit::Empty(i, s)),
        (
            any::<Index>(),
            any::<Index>(),
            prop::sample::select(vec![
                f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::MAX,
                -0.0
            ])
        )
            .prop_map(|(i, j, v)| HeaderEdit::Poison(i, j, v)),
    ]
}

/// Applies header edits to safetensors bytes (those that leave the header parseable).
fn edit_header(bytes: &[u8], edits: &[HeaderEdit]) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut data = bytes[8 + n..].to_vec();
    let mut length = None;
    for edit in edits {
        let keys: Vec<String> = header
            .keys()
            .filter(|k| *k != "__metadata__")
            .cloned()
            .collect();
        if keys.is_empty() {
            break;
        }
        let pick = |i: &Index| keys[i.index(keys.len())].clone();
        match edit {
            HeaderEdit::Dtype(i, d) => header[&pick(i)]["dtype"] = (*d).into(),
            HeaderEdit::Reinterpret(i, d) => {
                let entry = &mut header[&pick(i)];
                let offsets = &entry["data_offsets"];
                let bytes_len = offsets[1]
                    .as_u64()
                    .unwrap_or(0)
                    .saturating_sub(offsets[0].as_u64().unwrap_or(0));
                let size = match *d {
                    "F64" | "I64" => 8,
                    "I32" => 4,
                    "F16" => 2,
                    _ => 1,
                };
                if bytes_len.is_multiple_of(size) {
                    entry["dtype"] = (*d).into();
                    entry["shape"] = serde_json::json!([bytes_len / size]);
                }
            }
            HeaderEdit::Shape(i, s) => header[&pick(i)]["shape"] = serde_json::json!(s),
            HeaderEdit::Offsets(i, a, b) => {
                header[&pick(i)]["data_offsets"] = serde_json::json!([a, b])
            }
            HeaderEdit::Remove(i) => {
                header.remove(&pick(i));
            }
            HeaderEdit::Rename(i, name) => {
                if let Some(v) = header.remove(&pick(i)) {
                    header.insert(name.to_string(), v);
                }
            }
            HeaderEdit::Length(l) => length = Some(*l),
            HeaderEdit::Empty(i, dims) => {
                let mut shape = vec![0];
                shape.extend_from_slice(dims);
                let entry = &mut header[&pick(i)];
                entry["shape"] = serde_json::json!(shape);
                entry["data_offsets"] = serde_json::json!([0, 0]);
            }
            HeaderEdit::Poison(i, j, v) => {
                let entry = &header[&pick(i)];
                let (a, b) = (
                    entry["data_offsets"][0].as_u64().unwrap_or(0) as usize,
                    entry["data_offsets"][1].as_u64().unwrap_or(0) as usize,
                );
                // At least one whole f32 between the offsets (an edited pair may hold less).
                if entry["dtype"] == "F32" && a < b && b - a >= 4 && b <= data.len() {
                    let at = a + 4 * j.index((b - a) / 4);
                    data[at..at + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    let json = serde_json::to_vec(&header).unwrap();
    let mut out = length.unwrap_or(json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.extend_from_slice(&data);
    out
}

/// A random JSON value that a hand-edited model.json might hold.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop::sample::select(vec![
        json!(null),
        json!(true),
        json!(-1),
        json!(0),
        json!(18446744073709551615u64),
        json!(1e308),
        json!(-0.0),
        json!(""),
        json!("x"),
        json!([]),
        json!([1.0]),
        json!({}),
        json!({"mean": [], "std": []}),
    ])
}

/// Sets the value at a path of object keys / array positions in `root` (the path is followed
/// as far as it goes).
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

/// One load of a saved model whose files were mangled.
#[derive(Clone, Debug)]
struct ModelCase {
    header_edits: Vec<HeaderEdit>,
    weight_mutations: Vec<Mutation>,
    json_edits: Vec<(Vec<Index>, serde_json::Value)>,
    json_mutations: Vec<Mutation>,
    /// Load into a model of another shape (Linear(3, 5) first).
    other_shape: bool,
}

fn model_case() -> impl Strategy<Value = ModelCase> {
    (
        prop_oneof![2 => Just(Vec::new()), 1 => prop::collection::vec(header_edit(), 1..4)],
        prop_oneof![2 => Just(Vec::new()), 1 => prop::collection::vec(mutation(), 1..4)],
        prop_oneof![
            2 => Just(Vec::new()),
            1 => prop::collection::vec(
                (prop::collection::vec(any::<Index>(), 0..5), json_value()),
                1..3
            )
        ],
        prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(mutation(), 1..3)],
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(header_edits, weight_mutations, json_edits, json_mutations, other_shape)| ModelCase {
                header_edits,
                weight_mutations,
                json_edits,
                json_mutations,
                other_shape,
            },
        )
}

fn check_model(case: &ModelCase) -> std::result::Result<(), TestCaseError> {
    let (weights, json) = saved_model();
    let mut weights = edit_header(weights, &case.header_edits);
    mutate(&mut weights, &case.weight_mutations);
    let mut card: serde_json::Value = serde_json::from_slice(json).unwrap();
    for (path, value) in &case.json_edits {
        set_at(&mut card, path, value.clone());
    }
    let mut json = serde_json::to_vec_pretty(&card).unwrap();
    mutate(&mut json, &case.json_mutations);

    let dir = fresh("run", "d");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    std::fs::write(&path, &weights).unwrap();
    std::fs::write(dir.join("model.json"), &json).unwrap();

    // The raw reader on its own.
    let parsed = no_panic("parse_safetensors", || parse_safetensors(&weights))?;
    if let Ok(tensors) = &parsed {
        for (name, t) in tensors {
            prop_assert_eq!(
                t.to_vec().len(),
                t.dims().iter().product::<usize>(),
                "{}",
                name
            );
        }
    }

    let model = if case.other_shape {
        ferrite::manual_seed(2);
        Sequential::new()
            .add(Linear::new(3, 5).unwrap())
            .add(ReLU)
            .add(Linear::new(5, 2).unwrap())
            .add(BatchNorm1d::new(2).unwrap())
    } else {
        small_model(2)
    };
    let before: Vec<Vec<f32>> = model.parameters().iter().map(|p| p.to_vec()).collect();
    let loaded = no_panic("load_model", || load_model(&model, &path))?;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = &loaded {
        let text = e.to_string();
        prop_assert!(
            text.contains("model.safetensors") || text.contains("model.json"),
            "the error names neither model file: {}",
            text
        );
        let after: Vec<Vec<f32>> = model.parameters().iter().map(|p| p.to_vec()).collect();
        prop_assert!(
            after == before,
            "a refused load changed the model: {}",
            text
        );
    }
    if let Ok(card) = &loaded {
        prop_assert!(!case.other_shape, "weights of another shape were loaded");
        for (name, t) in model.state_dict().iter() {
            prop_assert!(
                t.to_vec().iter().all(|v| v.is_finite()),
                "{} holds non-finite values after an Ok load",
                name
            );
        }
        for (name, v) in &card.metrics {
            prop_assert!(v.is_finite(), "metric {} = {}", name, v);
        }
        // A card that loads saves and loads back the same.
        let again = fresh("card", "json");
        card.save(&again)
            .map_err(|e| TestCaseError::fail(format!("re-save: {e}")))?;
        let back = ModelCard::load(&again).ok();
        let _ = std::fs::remove_file(&again);
        prop_assert_eq!(back.as_ref(), Some(card));
    }
    let untouched = case.header_edits.is_empty()
        && case.weight_mutations.is_empty()
        && case.json_edits.is_empty()
        && case.json_mutations.is_empty()
        && !case.other_shape;
    if untouched {
        prop_assert!(
            loaded.is_ok(),
            "the saved model did not load: {:?}",
            loaded.err()
        );
        let want: Vec<Vec<f32>> = small_model(1)
            .parameters()
            .iter()
            .map(|p| p.to_vec())
            .collect();
        let got: Vec<Vec<f32>> = model.parameters().iter().map(|p| p.to_vec()).collect();
        prop_assert_eq!(got, want);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn model_files_never_panic_and_load_only_whole_finite_models(case in model_case()) {
        check_model(&case)?;
    }
}

// ---------------------------------------------------------------------------------------
// Regression tests: every crash the targets found, by name.

/// Safetensors bytes holding the given `(name, dtype, shape, data)` tensors.
fn safetensors_bytes(tensors: &[(&str, &str, Vec<u64>, Vec<u8>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in tensors {
        let start = data.len();
        data.extend_from_slice(bytes);
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let json = serde_json::to_vec(&header).unwrap();
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.extend_from_slice(&data);
    out
}

/// The saved model's weights with element `at` of tensor `name` replaced by `value`.
fn saved_weights_with(name: &str, at: usize, value: f32) -> Vec<u8> {
    let (weights, _) = saved_model();
    let n = u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&weights[8..8 + n]).unwrap();
    let start = header[name]["data_offsets"][0].as_u64().unwrap() as usize + 8 + n + 4 * at;
    let mut out = weights.clone();
    out[start..start + 4].copy_from_slice(&value.to_le_bytes());
    out
}

/// Writes a run folder with these weights beside the saved model.json; returns the weights' path.
fn run_with_weights(weights: &[u8]) -> PathBuf {
    let dir = fresh("regression-run", "d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.safetensors"), weights).unwrap();
    std::fs::write(dir.join("model.json"), &saved_model().1).unwrap();
    dir.join("model.safetensors")
}

#[test]
fn a_nan_or_infinite_weight_is_refused_and_the_model_left_unchanged() {
    for value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let path = run_with_weights(&saved_weights_with("2.weight", 3, value));
        let model = small_model(2);
        let before: Vec<Vec<f32>> = model.parameters().iter().map(|p| p.to_vec()).collect();
        let err = load_model(&model, &path).unwrap_err().to_string();
        assert!(
            err.contains("model.safetensors")
                && err.contains("2.weight")
                && err.contains("non-finite"),
            "{err}"
        );
        let after: Vec<Vec<f32>> = model.parameters().iter().map(|p| p.to_vec()).collect();
        assert_eq!(after, before, "a refused file changed the model");
    }
}

#[test]
fn an_f64_weight_beyond_f32_range_is_refused() {
    // 1e300 is finite as f64 but infinite once read as f32.
    let bytes = safetensors_bytes(&[("w", "F64", vec![1], 1e300f64.to_le_bytes().to_vec())]);
    struct One(ferrite::Tensor);
    impl Module for One {
        fn forward(&self, x: &ferrite::Tensor) -> ferrite::Tensor {
            x * &self.0
        }
        fn named_parameters(&self) -> Vec<(String, ferrite::Tensor)> {
            vec![("w".into(), self.0.clone())]
        }
    }
    let model = One(ferrite::Tensor::zeros([1]));
    let tensors = parse_safetensors(&bytes).unwrap();
    let err = ferrite::train::load_tensors_into(&model, &tensors)
        .unwrap_err()
        .to_string();
    assert!(err.contains("w") && err.contains("non-finite"), "{err}");
    assert_eq!(model.0.to_vec(), vec![0.0]);
}

#[test]
fn an_empty_tensor_with_huge_dimensions_does_not_panic() {
    let huge = 1u64 << 40;
    for shape in [vec![0, huge, huge], vec![huge, huge, 0], vec![0, u64::MAX]] {
        let bytes = safetensors_bytes(&[("w", "F32", shape.clone(), Vec::new())]);
        let result = catch_unwind(|| parse_safetensors(&bytes).map(|t| t["w"].dims().to_vec()));
        let result = result.unwrap_or_else(|_| panic!("shape {shape:?} panicked"));
        if let Ok(dims) = result {
            assert_eq!(dims.iter().product::<usize>(), 0);
        }
    }
}

#[test]
fn a_non_finite_metric_is_not_saved_in_a_model_card() {
    let mut card = ModelCard::new(serde_json::json!({"layers": []}));
    card.metrics.insert("val_rmse".into(), f64::NAN);
    let path = fresh("nan-card", "json");
    let err = card.save(&path).unwrap_err().to_string();
    assert!(err.contains("val_rmse") && err.contains("NaN"), "{err}");
    assert!(!path.exists(), "a card with a NaN metric was written");
}

#[test]
fn a_feature_named_twice_is_refused() {
    // Found by csv_reader_never_panics_and_loads_only_well_formed_tables: `features(&["b", "b"])`
    // loaded column b twice (two identical inputs) without a word.
    let path = fresh("twice", "csv");
    std::fs::write(&path, "a,b,y\n1,2,3\n4,5,6\n").unwrap();
    let result = CsvOptions::new()
        .target("y")
        .features(&["b", "b"])
        .load(&path);
    let err = result.map(|t| t.feature_names).unwrap_err().to_string();
    assert!(err.contains("twice.csv") || err.contains("\"b\""), "{err}");
}

#[test]
fn a_lone_carriage_return_starts_a_new_line() {
    // Found by csv_reader_never_panics_and_loads_only_well_formed_tables (CRLF line ends with
    // one `\n` deleted): the csv crate ends a record at a lone `\r`, and a line count of
    // `\n` only put both rows on line 2, so an error on the second named the wrong line.
    let path = fresh("lone-cr", "csv");
    std::fs::write(&path, "a,y\r\n0,1\r2,3\r\n").unwrap();
    let table = CsvOptions::new().target("y").load(&path).unwrap();
    assert_eq!(table.lines, vec![2, 3]);
}

#[test]
fn normalising_to_infinity_is_refused() {
    // Found by labels_reader_never_panics_and_loads_only_well_formed_sets: mean 1e30 and std
    // 1e-30 pass the "positive, finite std" check, and (v - 1e30) / 1e-30 is -inf in every
    // pixel of an Ok image set.
    let path = fresh("labels-inf", "csv");
    std::fs::write(&path, "image,label\na.png,cat\n").unwrap();
    let result = ImageOptions::new()
        .normalize(&[1e30], &[1e-30])
        .load_with_labels(image_folder(), &path, "image", "label");
    match result {
        Err(e) => assert!(e.to_string().contains("normalize"), "{e}"),
        Ok(set) => assert!(
            set.images.to_vec().iter().all(|v| v.is_finite()),
            "non-finite pixels: {:?}",
            set.images.to_vec()
        ),
    }
}
