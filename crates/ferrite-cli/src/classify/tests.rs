//! Tests of the image-classifier records: sources, test splits and test folders.

use super::{HeldOut, ImagePreprocessing, ImageSource};
use ferrite::Tensor;
use std::path::{Path, PathBuf};

/// The images of `dir` as `model` reads them, whole, with the model's class indices.
fn load_folder(model: &ImagePreprocessing, dir: &Path) -> anyhow::Result<(Tensor, Tensor)> {
    let folder = model.folder_images(dir, 0)?;
    let y = folder.labels();
    let n = y.len();
    Ok((folder.to_tensor()?, Tensor::from_vec(y, [n])))
}

/// The held-out images of `run`, whole.
fn test_split(run: &ImagePreprocessing) -> anyhow::Result<(Tensor, Tensor)> {
    Ok(match run.held_out()? {
        HeldOut::Tensors(x, y) => (x, y),
        HeldOut::Folder(folder) => {
            let y = folder.labels();
            let n = y.len();
            (folder.to_tensor()?, Tensor::from_vec(y, [n]))
        }
    })
}

/// A fresh folder holding copies of the library's 3x2 test PNGs at `files` (relative
/// path, fixture name), plus a labels CSV when given.
fn folder(name: &str, files: &[(&str, &str)], labels: Option<&str>) -> PathBuf {
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ferrite/tests/fixtures/data/images");
    let dir = std::env::temp_dir().join(format!("ferrite-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (relative, fixture) in files {
        let to = dir.join(relative);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(fixtures.join(fixture), to).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    if let Some(text) = labels {
        std::fs::write(dir.join("labels.csv"), text).unwrap();
    }
    dir
}

fn source(dir: &Path, labels: bool, size: usize) -> ImageSource {
    ImageSource::Folder {
        dir: dir.to_path_buf(),
        labels: labels.then(|| dir.join("labels.csv")),
        image_column: "image".into(),
        label_column: "label".into(),
        size,
        positive_threshold: None,
    }
}

#[test]
fn numeric_labels_are_the_classes_that_occur_and_a_changed_set_is_refused() {
    // Labels 1 and 2 once made three classes, class 0 without images.
    let files = [("x.png", "flat/x.png"), ("y.png", "flat/y.png")];
    let dir = folder("numeric", &files, Some("image,label\nx.png,2\ny.png,1\n"));
    let (x, y, names) = source(&dir, true, 8).load().unwrap();
    assert_eq!(x.dims(), &[2, 1, 8, 8]);
    assert_eq!(y.to_vec(), vec![1., 0.]);
    assert_eq!(names.unwrap(), ["1", "2"]);
    // A run whose recorded classes differ from the data's is not scored.
    let run = ImagePreprocessing::new(source(&dir, true, 8), vec!["1".into(), "3".into()], vec![0]);
    let msg = test_split(&run).unwrap_err().to_string();
    assert!(
        msg.contains("its classes are 1, 2 but the model was trained on 1, 3"),
        "{msg}"
    );
    let same =
        ImagePreprocessing::new(source(&dir, true, 8), vec!["1".into(), "2".into()], vec![1]);
    assert_eq!(test_split(&same).unwrap().1.to_vec(), vec![0.]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn another_folder_is_read_as_the_models_classes_with_its_preprocessing() {
    // A model trained like `defects`: a labels file, a threshold, classes named
    // functional (0) and defective (1).
    let training = folder("trained-on", &[("x.png", "flat/x.png")], None);
    let model = ImagePreprocessing::new(
        ImageSource::Folder {
            dir: training.clone(),
            labels: Some(training.join("labels.csv")),
            image_column: "image".into(),
            label_column: "defect_probability".into(),
            size: 8,
            positive_threshold: Some(0.5),
        },
        vec!["functional".into(), "defective".into()],
        vec![0],
    );
    // The folder's sorted classes (defective, functional) are the model's 1 and 0.
    let files = [
        ("defective/a.png", "classes/cat/a.png"),
        ("defective/b.png", "classes/cat/b.png"),
        ("functional/c.png", "classes/dog/c.png"),
    ];
    let dir = folder("other", &files, None);
    let (x, y) = load_folder(&model, &dir).unwrap();
    assert_eq!(x.dims(), &[3, 1, 8, 8]);
    assert_eq!(y.to_vec(), vec![1., 1., 0.]);
    // Recorded as the run's test folder, it is the test split.
    let with_folder = model.clone().with_test_folder(dir.clone());
    assert!(with_folder.test_rows.is_empty());
    assert_eq!(
        test_split(&with_folder).unwrap().1.to_vec(),
        vec![1., 1., 0.]
    );
    // A class the model does not know is named, with its folder.
    std::fs::create_dir_all(dir.join("cracked")).unwrap();
    std::fs::copy(dir.join("functional/c.png"), dir.join("cracked/c.png")).unwrap();
    let msg = load_folder(&model, &dir).unwrap_err().to_string();
    assert!(
        msg.contains(&format!(
            "the class folder(s) {} are not classes of the model, which knows functional, defective",
            dir.join("cracked").display()
        )),
        "{msg}"
    );
    // Pixel rows of a CSV have no folder to read.
    let csv = ImageSource::CsvPixels {
        csv: "digits.csv".into(),
        target: "digit".into(),
        scale: 1.0,
        side: 8,
    };
    let msg = csv.class_folders(&dir).unwrap_err().to_string();
    assert!(
        msg.contains("this run was trained on pixel rows of a CSV (digits.csv)"),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&training).unwrap();
}

#[test]
fn records_without_channels_read_one_unnormalised_channel_and_new_ones_round_trip() {
    use ferrite::data::{ChannelStats, ColorMode};
    // A record written before colour images: no channels, mean or std.
    let old = serde_json::json!({
        "kind": "image",
        "data": {"source": "folder", "dir": "d", "labels": null, "image_column": "image",
                 "label_column": "label", "size": 8, "positive_threshold": null},
        "classes": ["cat", "dog"],
        "test_rows": [0],
    });
    let pre: ImagePreprocessing = serde_json::from_value(old).unwrap();
    assert_eq!(pre.channels, 1);
    assert_eq!(pre.color().unwrap(), ColorMode::Gray);
    assert_eq!(pre.stats().unwrap(), None);
    // A colour record keeps its channels and statistics through model.json.
    let stats = ChannelStats {
        mean: vec![0.25, 0.5, 0.125],
        std: vec![0.5, 1.0, 0.25],
    };
    let colour = pre.clone().with_channels(3).with_stats(&stats);
    let text = serde_json::to_value(&colour).unwrap();
    assert_eq!(text["channels"], 3);
    assert_eq!(text["mean"], serde_json::json!([0.25, 0.5, 0.125]));
    let back: ImagePreprocessing = serde_json::from_value(text).unwrap();
    assert_eq!(back.color().unwrap(), ColorMode::Rgb);
    assert_eq!(back.stats().unwrap(), Some(stats.clone()));
    // The class folders of the fixtures (cat/a.png is colour) read with 3 channels,
    // normalised with the record's statistics.
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ferrite/tests/fixtures/data/images");
    let model = ImagePreprocessing::new(
        source(&fixtures.join("flat"), false, 8),
        vec!["cat".into(), "dog".into()],
        vec![],
    );
    let normalised = model.clone().with_channels(3).with_stats(&stats);
    let (x, y) = load_folder(&normalised, &fixtures.join("classes")).unwrap();
    assert_eq!(x.dims(), &[3, 3, 8, 8]);
    assert_eq!(y.to_vec(), vec![0., 0., 1.]);
    let (raw, _) = load_folder(&model.with_channels(3), &fixtures.join("classes")).unwrap();
    assert_eq!(x.to_vec(), stats.normalize(&raw).unwrap().to_vec());
    // Edited records are errors naming the field.
    let msg = pre
        .clone()
        .with_channels(2)
        .color()
        .unwrap_err()
        .to_string();
    assert!(msg.contains("the preprocessing's channels is 2"), "{msg}");
    let mut short = colour.clone();
    short.std.pop();
    let msg = short.stats().unwrap_err().to_string();
    assert!(msg.contains("for each of its 3 channel(s)"), "{msg}");
}

#[test]
fn an_empty_class_folder_is_no_class_and_an_impossible_size_names_the_option() {
    let files = [
        ("cat/a.png", "classes/cat/a.png"),
        ("dog/c.png", "classes/dog/c.png"),
    ];
    let dir = folder("empty-class", &files, None);
    std::fs::create_dir_all(dir.join("zebra")).unwrap();
    let (_, y, names) = source(&dir, false, 8).load().unwrap();
    assert_eq!(y.to_vec(), vec![0., 1.]);
    assert_eq!(names.unwrap(), ["cat", "dog"]);
    let size = u32::MAX as usize;
    let msg = source(&dir, false, size).load().unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "--size {size}: 2 image(s) of {size}x{size} pixels"
        )) && msg.contains("choose a smaller size"),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
