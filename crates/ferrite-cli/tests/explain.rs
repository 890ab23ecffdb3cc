//! `ferrite explain backprop`: the whole walkthrough, byte for byte, against golden files
//! recorded when the walkthrough still lived in the library (`ferrite::explain`, before #19
//! moved it beside the command line's examples), so that the move changed no printed line.
//!
//! The last line's "largest difference" between the chain rule and autograd is rounding noise
//! (about 1e-17, and it may differ between instruction sets), so it is checked to be small
//! rather than compared.

use std::path::Path;

mod support;
use support::ferrite;

/// The golden file `tests/explain_golden/NAME`.
fn golden(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/explain_golden")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Splits the walkthrough into its text with the autograd difference masked, and that
/// difference.
fn masked(text: &str) -> (String, f64) {
    const MARK: &str = "(largest difference ";
    let at = text
        .find(MARK)
        .unwrap_or_else(|| panic!("no autograd check in\n{text}"))
        + MARK.len();
    let end = at + text[at..].find(')').expect("closing parenthesis");
    let difference: f64 = text[at..end].parse().expect("a number");
    (
        format!("{}DIFFERENCE{}", &text[..at], &text[end..]),
        difference,
    )
}

fn assert_prints(args: &[&str], golden_name: &str) {
    let r = ferrite()
        .args(["explain", "backprop"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{args:?}: {stderr}");
    assert!(stderr.is_empty(), "{args:?} wrote to stderr: {stderr}");
    let (got, got_difference) = masked(&String::from_utf8_lossy(&r.stdout));
    let (want, want_difference) = masked(&golden(golden_name));
    assert!(want_difference < 1e-12, "golden {golden_name}");
    assert!(
        got_difference < 1e-12,
        "{args:?}: difference {got_difference}"
    );
    if got != want {
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(g, w)| g != w)
            .map_or(got.lines().count().min(want.lines().count()), |n| n);
        panic!(
            "{args:?}: line {} differs from {golden_name}:\n got: {:?}\nwant: {:?}",
            line + 1,
            got.lines().nth(line),
            want.lines().nth(line)
        );
    }
}

#[test]
fn the_course_example_prints_the_recorded_walkthrough() {
    assert_prints(&[], "default.txt");
}

#[test]
fn other_numbers_print_the_recorded_walkthrough() {
    assert_prints(
        &[
            "--inputs",
            "1",
            "2",
            "--targets",
            "0.9",
            "0.1",
            "--weights",
            "0.3",
            "0.1",
            "0.8",
            "0.2",
            "0.5",
            "0.7",
            "0.05",
            "0.3",
            "--biases",
            "0.1",
            "0.2",
            "--lr",
            "0.1",
        ],
        "other_numbers.txt",
    );
    assert_prints(
        &["--inputs", "0", "0", "--lr", "0"],
        "zero_inputs_no_step.txt",
    );
}

#[test]
fn values_may_be_comma_separated_and_negative() {
    // The README's form `--inputs a,b` is the same as `--inputs a b`.
    let spaced = ferrite()
        .args(["explain", "backprop", "--inputs", "1", "2", "--lr", "0.1"])
        .output()
        .unwrap();
    let commas = ferrite()
        .args(["explain", "backprop", "--inputs", "1,2", "--lr", "0.1"])
        .output()
        .unwrap();
    assert!(
        commas.status.success(),
        "{}",
        String::from_utf8_lossy(&commas.stderr)
    );
    assert_eq!(commas.stdout, spaced.stdout);
    let negative = ferrite()
        .args([
            "explain", "backprop", "--inputs", "-0.5", "2", "--lr", "0.1",
        ])
        .output()
        .unwrap();
    assert!(
        negative.status.success(),
        "{}",
        String::from_utf8_lossy(&negative.stderr)
    );
    let text = String::from_utf8_lossy(&negative.stdout);
    assert!(text.contains("-0.5"), "{text}");
    // A negative rate is read, and refused by the walkthrough's own check.
    let r = ferrite()
        .args(["explain", "backprop", "--lr", "-0.1"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("must be at least 0, got -0.1"), "{err}");
}

#[test]
fn a_wrong_count_of_values_is_an_error_naming_the_option() {
    let r = ferrite()
        .args(["explain", "backprop", "--weights", "1,2,3"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("--weights takes 8 numbers (comma- or space-separated), got 3"),
        "{err}"
    );
}

#[test]
fn numbers_that_are_not_finite_or_overflow_are_one_line_errors() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["--lr", "nan"],
            "invalid backprop example: every number must be finite, got NaN",
        ),
        (
            &["--lr", "inf"],
            "invalid backprop example: every number must be finite, got inf",
        ),
        (
            &[
                "--inputs",
                "1e308",
                "1e308",
                "--weights",
                "1e308",
                "1e308",
                "1e308",
                "1e308",
                "1e308",
                "1e308",
                "1e308",
                "1e308",
            ],
            "invalid backprop example: the numbers overflow double precision on the way",
        ),
    ];
    for (args, expected) in cases {
        let r = ferrite()
            .args(["explain", "backprop"])
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{args:?}: {err}");
        assert!(r.stdout.is_empty(), "{args:?} printed a walkthrough");
        assert!(
            err.starts_with(&format!("error: {expected}")),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
}
