//! Image loading: the elpv64 solar-cell images against pixel statistics from an independent PNG
//! decoder (tools/golden_data.py), tiny RGB/gray fixtures with known pixels, class folders,
//! normalisation, resizing, augmentation through a loader, and unreadable images.

use std::path::PathBuf;
use std::time::Instant;

use ferrite::data::{Augmentation, Augmented, ColorMode, DataLoader, Dataset, ImageOptions};
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
