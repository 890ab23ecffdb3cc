//! Fields and messages: missing-value spellings, numbers, delimiters, binary files, and how
//! messages name columns and values.

use super::*;

/// The separators tried, in order of preference, when none is given.
pub(super) const CANDIDATE_DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// How many leading bytes are checked for NUL bytes, the sign of a binary file.
pub(super) const BINARY_SNIFF_BYTES: usize = 8192;

/// True for the built-in spellings of a missing value.
pub(super) fn is_default_missing(field: &str) -> bool {
    field.is_empty()
        || ["na", "nan", "null"]
            .iter()
            .any(|m| field.eq_ignore_ascii_case(m))
}

/// `column 3 ("y")`: the 1-based position and the name, as every message names a column.
pub(super) fn column(names: &[String], j: usize) -> String {
    match names.get(j) {
        Some(name) => format!(
            "column {} ({:?})",
            j + 1,
            crate::metrics::report::display_label(name)
        ),
        None => format!("column {}", j + 1),
    }
}

/// A delimiter as it is typed on a command line (`tab` for a tab).
pub(super) fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".to_string(),
        d => (d as char).to_string(),
    }
}

/// A value quoted for a shell command line, e.g. `'?'`.
pub(super) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A numeric field: a number or a missing value.
#[derive(Clone, Copy, Debug)]
pub(super) enum Cell {
    Number(f32),
    Missing,
}

/// How to declare `values` as missing-value markers: the command-line option and the
/// library call (values too long, or with a comma, cannot be listed and are left out).
pub(super) fn na_advice<S: AsRef<str>>(values: &[S]) -> String {
    let markers: Vec<&str> = values
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| !s.is_empty() && s.chars().count() <= 40 && !s.contains(','))
        .take(5)
        .collect();
    if markers.is_empty() {
        return "fix the values in the file, or give the markers with --na-values \
                (CsvOptions::na_values)"
            .to_string();
    }
    let list = markers.join(",");
    let quoted: Vec<String> = markers.iter().map(|m| format!("{m:?}")).collect();
    format!(
        "--na-values {} on the command line, CsvOptions::na_values(&[{}]) in the library",
        shell_quote(&list),
        quoted.join(", ")
    )
}

/// Up to 10 labels, each shortened for display, then how many more there are.
pub(super) fn list_labels<S: AsRef<str>>(labels: &[S]) -> String {
    let shown: Vec<String> = labels
        .iter()
        .take(10)
        .map(|l| format!("{:?}", crate::metrics::report::display_label(l.as_ref())))
        .collect();
    let mut text = shown.join(", ");
    if labels.len() > 10 {
        text += &format!(" and {} more", labels.len() - 10);
    }
    text
}

/// Refuses a binary file: a NUL byte in the first [`BINARY_SNIFF_BYTES`] bytes. (UTF-16 text
/// has them too, and is refused alike: the reader expects UTF-8.)
pub(super) fn check_text(path: &Path, bytes: &[u8]) -> Result<()> {
    let head = &bytes[..bytes.len().min(BINARY_SNIFF_BYTES)];
    if let Some(offset) = head.iter().position(|&b| b == 0) {
        let line = 1 + line_breaks(head, 0, offset);
        return Err(FerriteError::Data {
            path: path.to_path_buf(),
            line,
            message: format!(
                "not a text CSV file: a NUL byte at byte offset {offset}; give a CSV file \
                 saved as UTF-8 text"
            ),
        });
    }
    Ok(())
}

/// The message for a column name not in the header, with what the header looks like when it
/// holds another candidate delimiter (the file is probably separated by that one).
pub(super) fn missing_column_message(name: &str, names: &[String], delimiter: u8) -> String {
    let shown = |n: &String| format!("{:?}", crate::metrics::report::display_label(n));
    let columns: Vec<String> = names.iter().take(20).map(shown).collect();
    let mut text = format!(
        "no column named {:?}; the {} column{} {}{}",
        crate::metrics::report::display_label(name),
        names.len(),
        if names.len() == 1 { " is" } else { "s are" },
        columns.join(", "),
        if names.len() > 20 { ", …" } else { "" }
    );
    let other = CANDIDATE_DELIMITERS
        .iter()
        .copied()
        .filter(|&d| d != delimiter)
        .find(|&d| names.iter().any(|n| n.as_bytes().contains(&d)));
    if let Some(d) = other {
        let header: String = names.join(&(delimiter as char).to_string());
        text += &format!(
            "; the header line is {:?}, split at {:?} but it holds {:?}: if the file is \
             separated by {:?}, give --delimiter {} (CsvOptions::delimiter(b{:?}))",
            crate::metrics::report::display_label(&header),
            delimiter as char,
            d as char,
            d as char,
            shell_quote(&delimiter_name(d)),
            d as char
        );
    }
    text
}

/// Reads a field as a finite f32 or a built-in missing value; the reason otherwise.
pub(super) fn parse_number(text: &str) -> std::result::Result<Cell, String> {
    if is_default_missing(text) {
        return Ok(Cell::Missing);
    }
    match text.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(Cell::Number(v)),
        // Rust parses out-of-range numbers as infinity; `inf` itself is no usable value either.
        Ok(_) => match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Err(format!(
                "the value {} overflows f32 (largest magnitude {:e})",
                crate::metrics::report::display_label(text),
                f32::MAX
            )),
            _ => Err(format!(
                "the value {} is not a finite number",
                crate::metrics::report::display_label(text)
            )),
        },
        Err(_) => Err(format!(
            "the value {:?} is not a number",
            crate::metrics::report::display_label(text)
        )),
    }
}
