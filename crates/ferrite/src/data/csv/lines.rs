//! Line numbers of CSV records, for messages.

use super::*;

/// Finds the 1-based line where each record of a CSV buffer begins, counting newlines once
/// as records come in order.
///
/// The `csv` crate's own line numbers lag behind with CRLF line ends, and its byte offsets
/// there point at the `\n` ending the previous line, so lines are counted up to and including
/// the byte at the record's offset.
pub(crate) struct LineCounter<'a> {
    bytes: &'a [u8],
    counted_to: usize,
    newlines: usize,
}

impl<'a> LineCounter<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            counted_to: 0,
            newlines: 0,
        }
    }

    /// The line of the record at `position` (0 when there is no position).
    pub(crate) fn line(&mut self, position: Option<&csv::Position>) -> usize {
        let Some(p) = position else { return 0 };
        let end = (p.byte() as usize + 1).min(self.bytes.len());
        if end < self.counted_to {
            *self = LineCounter::new(self.bytes);
        }
        self.newlines += line_breaks(self.bytes, self.counted_to, end);
        self.counted_to = end;
        1 + self.newlines
    }
}

/// The line breaks that start in `bytes[from..to]`: `\n`, and `\r` not followed by `\n` (a
/// lone carriage return ends a record for the `csv` crate, so it ends a line here too; the
/// `\r` of `\r\n` is not counted, its `\n` is).
pub(super) fn line_breaks(bytes: &[u8], from: usize, to: usize) -> usize {
    (from..to)
        .filter(|&i| match bytes[i] {
            b'\n' => true,
            b'\r' => bytes.get(i + 1) != Some(&b'\n'),
            _ => false,
        })
        .count()
}

/// A `csv` crate error as a `Data` error at its line.
pub(super) fn csv_error(path: &Path, bytes: &[u8], e: csv::Error) -> FerriteError {
    let line = LineCounter::new(bytes).line(e.position());
    FerriteError::Data {
        path: PathBuf::from(path),
        line,
        message: e.to_string(),
    }
}
