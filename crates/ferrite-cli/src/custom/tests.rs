//! Tests of the command line's own table training helpers.

use super::{csv_text, ModelChoice};

#[test]
fn predictions_with_commas_quotes_and_newlines_keep_their_columns() {
    // Once written by hand: a label "a,b" gave a ragged row.
    let records = vec![
        vec!["label".to_string(), "p_a,b".to_string()],
        vec!["a,b".to_string(), "0.5".to_string()],
        vec!["say \"hi\"\nthere".to_string(), "0.25".to_string()],
    ];
    let text = csv_text(&records).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    let back: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(back, records);
}

#[test]
fn model_choices_parse_and_reject_nonsense() {
    assert_eq!(
        ModelChoice::parse("mlp:8,4").unwrap(),
        ModelChoice::Mlp(vec![8, 4])
    );
    assert_eq!(ModelChoice::parse("linear").unwrap(), ModelChoice::Linear);
    assert!(ModelChoice::parse("mlp:8,x").is_err());
    assert!(ModelChoice::parse("forest").is_err());
}
