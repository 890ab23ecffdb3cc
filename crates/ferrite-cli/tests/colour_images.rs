//! Colour images (`ferrite train --images DIR [--channels 1|3]`, issue #17): a folder with
//! colour images trains a 3-channel model by default, normalised per channel with the
//! training images' statistics, recorded in model.json and used by `predict` and
//! `evaluate`; `--channels 1` reads the same folder in grayscale; a gray folder trains a
//! 1-channel model.
//!
//! The colour folder has two classes, `red` (red 85 or 86) and `blue` (blue 250 to 255),
//! whose luma (`image`'s 0.2126 R + 0.7152 G + 0.0722 B: 18.07 to 18.41, which rounds and
//! truncates to 18) is 18 for every pixel of both: in grayscale the two are the same image,
//! so only colour separates them. The
//! PNGs are written by a small encoder, so that the test needs no image library.

use std::path::Path;
use std::process::Output;

mod support;
use support::{ferrite, json, png, stderr, stdout, temp_dir, Lcg32};

/// Writes `count` 8x8 RGB images of class `red` (red 85 or 86, no green or blue) or `blue`
/// (blue 250..=255) into `root/class/`, each pixel's level drawn from its range: the luma
/// of every pixel of both classes is 18.
fn write_colour_class(root: &Path, class: &str, count: usize, seed: u32) {
    let dir = root.join(class);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Lcg32(seed.wrapping_mul(2_654_435_761).wrapping_add(7));
    for i in 0..count {
        let mut pixels = Vec::with_capacity(64 * 3);
        for _ in 0..64 {
            match class {
                "red" => pixels.extend([85 + rng.below(2) as u8, 0, 0]),
                _ => pixels.extend([0, 0, 250 + rng.below(6) as u8]),
            }
        }
        std::fs::write(dir.join(format!("{i:02}.png")), png(8, 8, 3, &pixels)).unwrap();
    }
}

/// Writes `count` 8x8 gray images of class `dark` (levels 30..70) or `light` (180..220)
/// into `root/class/`; `light` ones are stored as RGB with equal channels (gray pixels in a
/// colour file), `dark` ones as gray PNGs.
fn write_gray_class(root: &Path, class: &str, count: usize, seed: u32) {
    let dir = root.join(class);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Lcg32(seed);
    let base = if class == "dark" { 30 } else { 180 };
    for i in 0..count {
        let levels: Vec<u8> = (0..64).map(|_| (base + rng.below(41)) as u8).collect();
        let file = if class == "dark" {
            png(8, 8, 1, &levels)
        } else {
            let rgb: Vec<u8> = levels.iter().flat_map(|&v| [v, v, v]).collect();
            png(8, 8, 3, &rgb)
        };
        std::fs::write(dir.join(format!("{i:02}.png")), file).unwrap();
    }
}

/// `ferrite train --images DIR ... --out OUT` on 8x8 images, a few epochs, at verbosity 1
/// (which says how the images are read).
fn train(dir: &Path, out: &Path, extra: &[&str]) -> Output {
    ferrite()
        .arg("train")
        .arg("--images")
        .arg(dir)
        .args([
            "--size",
            "8",
            "--epochs",
            "8",
            "--batch-size",
            "8",
            "--verbose",
            "1",
        ])
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// The recorded preprocessing and the architecture of a run.
fn card(run: &Path) -> (serde_json::Value, serde_json::Value) {
    let card = json(&run.join("model.json"));
    (card["preprocessing"].clone(), card["architecture"].clone())
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn a_colour_folder_trains_a_three_channel_model_that_predict_and_evaluate_use() {
    let root = temp_dir("colour");
    let dir = root.join("images");
    write_colour_class(&dir, "blue", 12, 1);
    write_colour_class(&dir, "red", 12, 2);
    let out = root.join("run");
    let trained = train(&dir, &out, &[]);
    let text = stdout(&trained);
    assert!(trained.status.success(), "{text}\n{}", stderr(&trained));
    assert!(
        text.contains(&format!(
            "{}: colour images, read with 3 channels",
            dir.display()
        )),
        "{text}"
    );
    // Only colour tells red from blue, and 3 channels see it.
    let metrics = json(&out.join("metrics.json"));
    assert_eq!(metrics["accuracy"], 1.0, "{metrics}");
    let (pre, arch) = card(&out);
    assert_eq!(pre["channels"], 3, "{pre}");
    assert_eq!(arch["in_channels"], 3, "{arch}");
    // The statistics of the training images: red is 85 or 86 in about half of them and 0
    // in the rest, green is 0, blue is 250..255 in the others: means near 85.5/510, 0 and
    // 252.5/510.
    let (mean, std) = (floats(&pre["mean"]), floats(&pre["std"]));
    assert_eq!((mean.len(), std.len()), (3, 3), "{pre}");
    assert!((0.10..0.24).contains(&mean[0]), "{mean:?}");
    assert_eq!(mean[1], 0.0);
    assert!((0.30..0.70).contains(&mean[2]), "{mean:?}");
    // Two levels far apart: the deviation is about half their distance; constant green
    // keeps std 1.
    assert!((0.12..0.22).contains(&std[0]), "{std:?}");
    assert_eq!(std[1], 1.0);
    assert!((0.40..0.60).contains(&std[2]), "{std:?}");
    assert!(out.join("misclassified.png").exists());

    // evaluate re-scores the held-out split with the recorded channels and statistics.
    let evaluated = ferrite().arg("evaluate").arg(&out).output().unwrap();
    assert!(evaluated.status.success(), "{}", stderr(&evaluated));
    assert!(
        stdout(&evaluated).contains("held-out images; accuracy 1.0000"),
        "{}",
        stdout(&evaluated)
    );
    // New images: evaluate --images scores them, predict names their classes.
    let new = root.join("new");
    write_colour_class(&new, "blue", 3, 3);
    write_colour_class(&new, "red", 4, 4);
    let scored = ferrite()
        .arg("evaluate")
        .arg(&out)
        .arg("--images")
        .arg(&new)
        .output()
        .unwrap();
    assert!(scored.status.success(), "{}", stderr(&scored));
    assert!(
        stdout(&scored).contains(&format!("7 images in {}; accuracy 1.0000", new.display())),
        "{}",
        stdout(&scored)
    );
    let predicted = ferrite()
        .arg("predict")
        .arg(&out)
        .arg("--images")
        .arg(&new)
        .output()
        .unwrap();
    assert!(predicted.status.success(), "{}", stderr(&predicted));
    let text = stdout(&predicted);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "image,predicted,p_blue,p_red", "{text}");
    assert_eq!(lines.len(), 8, "{text}");
    for line in &lines[1..] {
        let fields: Vec<&str> = line.split(',').collect();
        let class = if fields[0].contains("/blue/") {
            "blue"
        } else {
            "red"
        };
        assert_eq!(fields[1], class, "{line}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn channels_1_reads_a_colour_folder_in_grayscale_where_red_and_blue_look_alike() {
    let root = temp_dir("gray-of-colour");
    let dir = root.join("images");
    write_colour_class(&dir, "blue", 12, 5);
    write_colour_class(&dir, "red", 12, 6);
    let out = root.join("run");
    let trained = train(&dir, &out, &["--channels", "1"]);
    let text = stdout(&trained);
    assert!(trained.status.success(), "{text}\n{}", stderr(&trained));
    assert!(
        text.contains("read in grayscale, 1 channel (--channels 1)"),
        "{text}"
    );
    let (pre, arch) = card(&out);
    assert_eq!(pre["channels"], 1, "{pre}");
    assert_eq!(arch["in_channels"], 1, "{arch}");
    // Every pixel of both classes has luma 18: one channel, constant (std 1).
    let mean = floats(&pre["mean"]);
    assert_eq!(mean.len(), 1, "{pre}");
    assert!((mean[0] - (18f32 / 255.0) as f64).abs() < 1e-12, "{pre}");
    assert_eq!(floats(&pre["std"]), vec![1.0], "{pre}");
    // All images are the same in grayscale: one class is predicted for all of them, so
    // the test split, which holds both classes, is not all right.
    let metrics = json(&out.join("metrics.json"));
    let accuracy = metrics["accuracy"].as_f64().unwrap();
    assert!(accuracy < 1.0, "{metrics}");
    let predicted = ferrite()
        .arg("predict")
        .arg(&out)
        .arg("--images")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(predicted.status.success(), "{}", stderr(&predicted));
    let classes: std::collections::BTreeSet<String> = stdout(&predicted)
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(classes.len(), 1, "{}", stdout(&predicted));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_gray_folder_defaults_to_one_channel_and_old_records_read_as_gray() {
    let root = temp_dir("gray");
    let dir = root.join("images");
    // Gray PNGs and gray pixels stored as RGB: both are grayscale.
    write_gray_class(&dir, "dark", 10, 7);
    write_gray_class(&dir, "light", 10, 8);
    let out = root.join("run");
    let trained = train(&dir, &out, &[]);
    let text = stdout(&trained);
    assert!(trained.status.success(), "{text}\n{}", stderr(&trained));
    assert!(
        text.contains(&format!(
            "{}: grayscale images, read with 1 channel",
            dir.display()
        )),
        "{text}"
    );
    let (pre, arch) = card(&out);
    assert_eq!(pre["channels"], 1, "{pre}");
    assert_eq!(arch["in_channels"], 1, "{arch}");
    let mean = floats(&pre["mean"]);
    assert_eq!(mean.len(), 1);
    // Half the training images near 50/255, half near 200/255.
    assert!((0.35..0.63).contains(&mean[0]), "{mean:?}");
    let accuracy = json(&out.join("metrics.json"))["accuracy"]
        .as_f64()
        .unwrap();
    assert!(accuracy >= 0.75, "{accuracy}");

    // A record written before colour images (no channels, mean or std) reads its images
    // as one unnormalised channel: evaluate runs on it.
    let model_json = out.join("model.json");
    let mut card = json(&model_json);
    for field in ["channels", "mean", "std"] {
        card["preprocessing"].as_object_mut().unwrap().remove(field);
    }
    std::fs::write(&model_json, card.to_string()).unwrap();
    let old = ferrite().arg("evaluate").arg(&out).output().unwrap();
    assert!(old.status.success(), "{}", stderr(&old));
    assert!(
        stdout(&old).contains("held-out images; accuracy"),
        "{}",
        stdout(&old)
    );
    // A record that says 3 channels for a model that takes 1 is refused, not a panic.
    card["preprocessing"]["channels"] = 3.into();
    std::fs::write(&model_json, card.to_string()).unwrap();
    let bad = ferrite()
        .arg("predict")
        .arg(&out)
        .arg("--images")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains(
            "the preprocessing reads images with 3 channel(s) but the model's first layer \
             takes 1"
        ),
        "{}",
        stderr(&bad)
    );
    // And a mean per channel that is missing one is refused.
    card["preprocessing"]["channels"] = 1.into();
    card["preprocessing"]["mean"] = serde_json::json!([0.5, 0.5]);
    card["preprocessing"]["std"] = serde_json::json!([0.2]);
    std::fs::write(&model_json, card.to_string()).unwrap();
    let bad = ferrite().arg("evaluate").arg(&out).output().unwrap();
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("are not one finite mean and one positive std for each of its 1"),
        "{}",
        stderr(&bad)
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn channels_is_1_or_3_and_only_for_images() {
    let root = temp_dir("refused");
    let bad = ferrite()
        .args(["train", "--images", "x", "--channels", "2"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("invalid value '2' for '--channels <1|3>'")
            && stderr(&bad).contains("[possible values: 1, 3]"),
        "{}",
        stderr(&bad)
    );
    let cases: [(&[&str], &str); 2] = [
        (
            &["--csv", "x.csv", "--target", "y", "--channels", "3"],
            "--csv does not use --channels",
        ),
        (
            &["iris", "--channels", "1"],
            "the built-in example iris does not use --channels",
        ),
    ];
    for (args, message) in cases {
        let o = ferrite()
            .arg("train")
            .args(args)
            .arg("--out")
            .arg(root.join("run"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
    }
    assert!(!root.join("run").exists());
    std::fs::remove_dir_all(&root).unwrap();
}
