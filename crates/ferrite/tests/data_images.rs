//! Image loading: the elpv64 solar-cell images against pixel statistics from an independent PNG
//! decoder (tools/golden_data.py), tiny RGB/gray fixtures with known pixels, class folders,
//! normalisation, resizing, augmentation through a loader, and unreadable images; malformed
//! folders and labels files (issue #13): empty class folders, numeric labels as classes,
//! messages naming the file, line, column and value, and sizes that cannot fit in memory.

use std::path::PathBuf;
use std::time::Instant;

use ferrite::data::{
    available_memory, Augmentation, Augmented, ColorMode, DataLoader, Dataset, ImageOptions,
};
use ferrite::FerriteError;
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(name)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/data")
        .join(name)
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

#[test]
fn elpv64_loads_all_2624_images_with_the_reference_pixels() {
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("golden.json")).unwrap()).unwrap();
    let g = &golden["elpv64"];
    let start = Instant::now();
    let set = ImageOptions::new()
        .load_with_labels(
            data("elpv64/images"),
            data("elpv64/labels.csv"),
            "image",
            "defect_probability",
        )
        .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(set.images.dims(), &[2624, 1, 64, 64]);
    assert!(elapsed.as_secs_f32() < 20.0, "decoding took {elapsed:?}");
    let px = set.images.to_vec();
    let n = px.len() as f64;
    let mean = px.iter().map(|&v| v as f64).sum::<f64>() / n;
    let std = (px.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(
        (mean - g["pixel_mean"].as_f64().unwrap()).abs() < 1e-6,
        "{mean}"
    );
    assert!(
        (std - g["pixel_std"].as_f64().unwrap()).abs() < 1e-6,
        "{std}"
    );
    let row0: Vec<f32> = g["first_image_row0"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert!(close(&px[..64], &row0, 1e-6));
    let defective = set.labels.ge_scalar(0.5).sum().item() as u64;
    assert_eq!(defective, g["defective"].as_u64().unwrap());
    assert!(set.label_encoder.is_none(), "numeric labels stay numbers");

    // Text labels are encoded: cell_type mono/poly.
    let by_type = ImageOptions::new()
        .size(16, 16)
        .load_with_labels(
            data("elpv64/images"),
            data("elpv64/labels.csv"),
            "image",
            "cell_type",
        )
        .unwrap();
    assert_eq!(by_type.images.dims(), &[2624, 1, 16, 16]);
    assert_eq!(
        by_type.label_encoder.unwrap().classes(),
        &["mono".to_string(), "poly".to_string()]
    );
    let mono = by_type.labels.eq_scalar(0.0).sum().item() as u64;
    assert_eq!(mono, g["mono"].as_u64().unwrap());
}

#[test]
fn rgb_and_gray_pixels_are_scaled_to_unit_range_in_channel_planes() {
    // a.png is 2x3 RGB: red, green, blue / black, white, (51, 102, 153); b.png is gray.
    let set = ImageOptions::new()
        .color(ColorMode::Rgb)
        .size(2, 3)
        .load_class_folders(fixture("images/classes"))
        .unwrap();
    assert_eq!(set.images.dims(), &[3, 3, 2, 3]);
    assert_eq!(set.labels.to_vec(), vec![0., 0., 1.]);
    assert_eq!(
        set.label_encoder.unwrap().classes(),
        &["cat".to_string(), "dog".to_string()]
    );
    let a = set.images.get(0).to_vec();
    let red = &a[0..6];
    let green = &a[6..12];
    let blue = &a[12..18];
    assert!(close(red, &[1., 0., 0., 0., 1., 0.2], 1e-6), "{red:?}");
    assert!(close(green, &[0., 1., 0., 0., 1., 0.4], 1e-6), "{green:?}");
    assert!(close(blue, &[0., 0., 1., 0., 1., 0.6], 1e-6), "{blue:?}");
    // The gray image is repeated on the three channels.
    let b = set.images.get(1).to_vec();
    assert!(close(&b[..6], &[0., 0.2, 0.4, 0.6, 0.8, 1.], 1e-6) && b[..6] == b[6..12]);
    // c.png is a.png upside down.
    assert!(close(
        &set.images.get(2).to_vec()[..6],
        &[0., 1., 0.2, 1., 0., 0.],
        1e-6
    ));

    // Grayscale of the RGB image uses the luma weights (0.2126 R + 0.7152 G + 0.0722 B in `image`).
    let gray = ImageOptions::new()
        .load_class_folders(fixture("images/classes"))
        .unwrap();
    assert_eq!(gray.images.dims(), &[3, 1, 2, 3]);
    let g = gray.images.get(0).to_vec();
    assert!(
        close(&g[..2], &[54. / 255., 182. / 255.], 1.5 / 255.),
        "{g:?}"
    );
}

#[test]
fn normalisation_resizing_and_a_labels_file() {
    let flat = fixture("images/flat");
    let set = ImageOptions::new()
        .normalize(&[0.5], &[0.25])
        .load_with_labels(&flat, flat.join("labels.csv"), "file", "kind")
        .unwrap();
    assert_eq!(set.images.dims(), &[3, 1, 2, 3]);
    assert_eq!(set.labels.to_vec(), vec![0., 1., 0.]); // round, square, round
                                                       // x.png holds 0, 0.2, .., 1: normalised (v - 0.5) / 0.25.
    assert!(close(
        &set.images.get(0).to_vec(),
        &[-2., -1.2, -0.4, 0.4, 1.2, 2.],
        1e-5
    ));
    // Upsampling keeps values in [0, 1] at the size asked.
    let big = ImageOptions::new()
        .size(5, 7)
        .load_with_labels(&flat, flat.join("labels.csv"), "file", "kind")
        .unwrap();
    assert_eq!(big.images.dims(), &[3, 1, 5, 7]);
    let px = big.images.to_vec();
    assert!(px.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(ImageOptions::new()
        .normalize(&[0.5, 0.5], &[1., 1.])
        .load_class_folders(fixture("images/classes"))
        .is_err());
}

#[test]
fn unreadable_images_and_bad_label_files_are_errors_naming_the_file() {
    let flat = fixture("images/flat");
    let err = ImageOptions::new().size(2, 3).load_with_labels(
        &flat,
        flat.join("broken_labels.csv"),
        "file",
        "kind",
    );
    match err {
        Err(e @ FerriteError::Data { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("broken.png") && msg.contains("line 3"),
                "{msg}"
            );
        }
        other => panic!("expected a Data error, got {other:?}"),
    }
    let msg = ImageOptions::new()
        .load_with_labels(&flat, flat.join("labels.csv"), "file", "class")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("labels.csv:1") && msg.contains("no column named \"class\""),
        "{msg}"
    );
    // Without a size, images of different sizes cannot be stacked; with one they are resized.
    let mixed = flat.join("mixed_sizes.csv");
    let msg = ImageOptions::new()
        .load_with_labels(&flat, &mixed, "file", "kind")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("big.png") && msg.contains("4x4") && msg.contains("3x2"),
        "{msg}"
    );
    let resized = ImageOptions::new()
        .size(2, 3)
        .load_with_labels(&flat, &mixed, "file", "kind")
        .unwrap();
    // big.png is a constant 128: resizing keeps the constant.
    assert!(close(
        &resized.images.get(1).to_vec(),
        &[128. / 255.; 6],
        1e-6
    ));
    // A file listed but absent is reported by its path.
    let msg = ImageOptions::new()
        .load_with_labels(&flat, data("elpv64/labels.csv"), "image", "cell_type")
        .unwrap_err();
    assert!(
        matches!(msg, FerriteError::Data { .. }) && msg.to_string().contains("cell0001.png"),
        "{msg}"
    );
    assert!(ImageOptions::new()
        .load_class_folders(fixture("no_such_folder"))
        .is_err());
}

#[test]
fn augmented_batches_are_seeded_and_differ_from_the_originals() {
    let set = ImageOptions::new()
        .load_class_folders(fixture("images/classes"))
        .unwrap();
    let aug = Augmentation::new()
        .horizontal_flip(0.5)
        .vertical_flip(0.5)
        .rotation(10.)
        .shift(0.2)
        .random_crop(0.8);
    let epoch = |seed| {
        let ds = Augmented::new(set.dataset(), aug.clone(), seed).unwrap();
        assert_eq!(ds.len(), 3);
        let mut loader = DataLoader::new(ds, 2).unwrap();
        loader
            .iter()
            .flat_map(|(x, _)| x.to_vec())
            .collect::<Vec<f32>>()
    };
    let (a, b, c) = (epoch(1), epoch(1), epoch(2));
    assert_eq!(a, b, "same seed, same augmented data");
    assert_ne!(a, c, "another seed, other transformations");
    assert_ne!(a, set.images.to_vec(), "the images were transformed");
    assert!(a
        .iter()
        .all(|v| v.is_finite() && (-1e-6..=1.0 + 1e-6).contains(v)));
}

#[test]
fn unlabelled_images_load_from_a_folder_tree_or_one_file_in_sorted_order() {
    // The class-folder fixture read as unlabelled images: every file of every sub-folder,
    // sorted by path, the same pixels as the labelled load.
    let options = ImageOptions::new().color(ColorMode::Rgb).size(2, 3);
    let labelled = options
        .load_class_folders(fixture("images/classes"))
        .unwrap();
    let (images, paths) = options.load_unlabelled(fixture("images/classes")).unwrap();
    assert_eq!(paths, labelled.paths);
    assert_eq!(images.to_vec(), labelled.images.to_vec());
    let (one, one_path) = options.load_unlabelled(&labelled.paths[2]).unwrap();
    assert_eq!(one.dims(), &[1, 3, 2, 3]);
    assert_eq!(one_path, vec![labelled.paths[2].clone()]);
    assert_eq!(one.to_vec(), labelled.images.get(2).to_vec());
    let missing = options.load_unlabelled(fixture("images/no_such_folder"));
    assert!(matches!(missing, Err(FerriteError::Io { .. })));
}

/// A fresh folder under the system's temporary folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("ferrite-images-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// Writes a 3x2 gray PNG of constant `value` at `relative`, creating its folders.
    fn png(&self, relative: &str, value: u8) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_pixel(3, 2, image::Luma([value]))
            .save(&path)
            .unwrap();
        path
    }

    fn file(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn an_empty_class_folder_is_skipped_with_a_warning_wherever_it_sorts() {
    // Once an empty folder sorting first added a phantom class 0, and one sorting last gave
    // more class names than classes (a panic when plotting).
    for empty in ["aaa", "mmm", "zzz"] {
        let dir = Scratch::new(&format!("empty-{empty}"));
        dir.png("b/1.png", 10);
        dir.png("b/2.png", 20);
        dir.png("k/3.png", 30);
        std::fs::create_dir_all(dir.0.join(empty)).unwrap();
        std::fs::create_dir_all(dir.0.join(".git/objects")).unwrap(); // hidden: ignored
        dir.file("k/.DS_Store", "not an image, but hidden");
        let set = ImageOptions::new().load_class_folders(&dir.0).unwrap();
        assert_eq!(set.classes, ["b", "k"], "empty folder {empty}");
        assert_eq!(set.labels.to_vec(), vec![0., 0., 1.]);
        assert_eq!(set.images.dims(), &[3, 1, 2, 3]);
        assert_eq!(
            set.label_encoder.unwrap().classes(),
            &["b".to_string(), "k".to_string()]
        );
        assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
        let warning = &set.warnings[0];
        assert!(
            warning.contains(&dir.0.join(empty).display().to_string())
                && warning.contains("no image files")
                && warning.contains("skipped"),
            "{warning}"
        );
    }
    // A folder of folders says why it holds no images.
    let dir = Scratch::new("nested");
    dir.png("a/1.png", 0);
    dir.png("b/1.png", 0);
    dir.png("train/cat/1.png", 0);
    let set = ImageOptions::new().load_class_folders(&dir.0).unwrap();
    assert_eq!(set.classes, ["a", "b"]);
    assert!(
        set.warnings[0].contains("train") && set.warnings[0].contains("holds 1 folder(s)"),
        "{:?}",
        set.warnings
    );
}

#[test]
fn a_folder_without_images_is_an_error_naming_it_without_a_line() {
    let dir = Scratch::new("no-images");
    std::fs::create_dir_all(dir.0.join("a")).unwrap();
    std::fs::create_dir_all(dir.0.join("b")).unwrap();
    let msg = ImageOptions::new()
        .load_class_folders(&dir.0)
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        format!(
            "{}: none of its 2 sub-folder(s) holds image files; put each class's images \
             directly in its folder (root/<class>/<image>)",
            dir.0.display()
        )
    );
    // Images but no sub-folders: they need a labels file.
    let flat = Scratch::new("flat");
    flat.png("x.png", 0);
    let msg = ImageOptions::new()
        .load_class_folders(&flat.0)
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(&format!("{}: no class sub-folders", flat.0.display()))
            && msg.contains("labels file"),
        "{msg}"
    );
}

#[test]
fn numeric_labels_as_classes_are_the_values_that_occur_in_numeric_order() {
    let dir = Scratch::new("numeric");
    for (i, v) in [10u8, 20, 30, 40, 50].iter().enumerate() {
        dir.png(&format!("{i}.png"), *v);
    }
    // Labels 1 and 2 once added an empty class 0; a label of 100000000 allocated 1e8 classes.
    let labels = dir.file(
        "labels.csv",
        "image,label\n0.png,2\n1.png,1\n2.png,100000000\n3.png,10\n4.png,1.0\n",
    );
    let set = ImageOptions::new()
        .labels_as_classes(true)
        .load_with_labels(&dir.0, &labels, "image", "label")
        .unwrap();
    assert_eq!(set.classes, ["1", "2", "10", "100000000"]); // numeric, not text order
    assert_eq!(set.labels.to_vec(), vec![1., 0., 3., 2., 0.]); // 1.0 is class "1"
    assert!(set.label_encoder.is_none());
    assert!(set.warnings.is_empty());
    // Without it, numbers stay numbers.
    let values = ImageOptions::new()
        .load_with_labels(&dir.0, &labels, "image", "label")
        .unwrap();
    assert_eq!(values.labels.to_vec(), vec![2., 1., 1e8, 10., 1.]);
    assert!(values.classes.is_empty() && values.label_encoder.is_none());
    // Text labels are classes in either mode.
    let text = dir.file(
        "text.csv",
        "image,label\n0.png,poly\n1.png,mono\n2.png,poly\n",
    );
    let set = ImageOptions::new()
        .load_with_labels(&dir.0, &text, "image", "label")
        .unwrap();
    assert_eq!(set.classes, ["mono", "poly"]);
    assert_eq!(set.labels.to_vec(), vec![1., 0., 1.]);
}

#[test]
fn labels_file_errors_name_the_line_the_column_and_the_value() {
    let dir = Scratch::new("label-errors");
    for i in 0..4 {
        dir.png(&format!("{i}.png"), 0);
    }
    let load = |name: &str, text: &str, classes: bool| {
        let path = dir.file(name, text);
        ImageOptions::new()
            .labels_as_classes(classes)
            .load_with_labels(&dir.0, &path, "image", "label")
    };
    let at = |name: &str| dir.0.join(name).display().to_string();
    // A stray marker among numbers is an error, not a silent switch to text classes.
    let stray = "image,label\n0.png,0.5\n1.png,0.25\n2.png,?\n3.png,1\n";
    let msg = load("stray.csv", stray, false).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "{}:4: column 2 (\"label\"): \"?\" is not a number, but 3 of the 4 labels are; \
             correct the value or remove the row",
            at("stray.csv")
        )
    );
    // Read as classes, "?" is one more class name.
    let set = load("stray.csv", stray, true).unwrap();
    assert_eq!(set.classes, ["0.25", "0.5", "1", "?"]);
    let msg = load("missing.csv", "image,label\n0.png,a\n1.png,\n", true)
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        format!(
            "{}:3: column 2 (\"label\"): the value is missing; give every image a file name and a label",
            at("missing.csv")
        )
    );
    let msg = load("swapped.csv", "label,image\n,0.png\n", true)
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(&format!("{}:2: column 1 (\"label\")", at("swapped.csv"))),
        "{msg}"
    );
    // A long value is shortened in the message.
    let long = "x".repeat(65_536);
    let msg = load(
        "long.csv",
        &format!("image,label\n0.png,1\n1.png,2\n2.png,{long}\n"),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains(":4: column 2 (\"label\")")
            && msg.contains("(65536 characters)")
            && msg.len() < 300,
        "{}",
        &msg[..msg.len().min(300)]
    );
    // A folder or a device is not a labels file (a device could be read forever).
    let msg = ImageOptions::new()
        .load_with_labels(&dir.0, &dir.0, "image", "label")
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        format!(
            "{}: is not a regular file; give the labels as a CSV file",
            dir.0.display()
        )
    );
    let msg = load("binary.csv", "image,label\n0.png,\0\n", true)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("NUL byte at offset 18"), "{msg}");
}

#[test]
fn an_unreadable_image_is_an_error_naming_it_without_a_line() {
    let dir = Scratch::new("corrupt");
    dir.png("a/1.png", 0);
    dir.png("b/1.png", 0);
    let bad = dir.file("b/notes.png", "this is not a PNG");
    let err = ImageOptions::new().load_class_folders(&dir.0).unwrap_err();
    assert!(matches!(err, FerriteError::Data { line: 0, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}: cannot read the image: ", bad.display()))
            && msg.contains("replace it, or remove it")
            && !msg.contains(":0:"),
        "{msg}"
    );
}

#[test]
fn a_size_that_cannot_fit_in_memory_is_refused_before_decoding() {
    let dir = Scratch::new("size");
    dir.png("a/1.png", 0);
    dir.png("b/1.png", 0);
    let start = Instant::now();
    // More bytes than a u64 counts: refused on every system.
    let huge = u32::MAX as usize;
    let err = ImageOptions::new()
        .size(huge, huge)
        .load_class_folders(&dir.0)
        .unwrap_err();
    assert!(
        matches!(&err, FerriteError::InvalidArgument { name, .. } if name == "size")
            && err.to_string().contains("more bytes than can be counted"),
        "{err}"
    );
    if available_memory().is_some() {
        // 2 images of 10^6 x 10^6 pixels need terabytes.
        let msg = ImageOptions::new()
            .size(1_000_000, 1_000_000)
            .load_class_folders(&dir.0)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("2 image(s) of 1000000x1000000 pixels with 1 channel(s)")
                && msg.contains("GiB of memory is free")
                && msg.contains("choose a smaller size: at most about"),
            "{msg}"
        );
    }
    assert!(start.elapsed().as_secs_f32() < 2.0, "{:?}", start.elapsed());
    for (h, w) in [(0, 8), (8, 0), (huge + 1, 8)] {
        let msg = ImageOptions::new()
            .size(h, w)
            .load_class_folders(&dir.0)
            .unwrap_err()
            .to_string();
        assert!(msg.contains(&format!("got {h}x{w}")), "{msg}");
    }
}
