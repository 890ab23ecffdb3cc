//! `ferrite train --images` decodes its images batch by batch on a loader worker and keeps
//! them decoded only up to `--cache-mb` (issue #17): with no cache at all it trains the same
//! model, bit for bit, as with every image cached; every file is checked before training; the
//! first decode and the epochs report their images per second at verbose 2.

use std::path::Path;
use std::process::Output;

mod support;
use support::{ferrite, json, stderr, stdout, temp_dir, write_class};

fn train(dir: &Path, out: &Path, extra: &[&str]) -> Output {
    ferrite()
        .arg("train")
        .arg("--images")
        .arg(dir)
        .args(["--size", "8", "--epochs", "3", "--batch-size", "8"])
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn without_a_cache_the_same_model_is_trained_bit_for_bit() {
    let root = temp_dir("same");
    let data = root.join("data");
    write_class(&data, "dark", 20, 1);
    write_class(&data, "light", 20, 2);
    let (cached, uncached, tiny) = (
        root.join("cached"),
        root.join("uncached"),
        root.join("tiny"),
    );
    for (out, extra) in [
        (&cached, &["--verbose", "0"][..]),
        (&uncached, &["--verbose", "0", "--cache-mb", "0"][..]),
        (&tiny, &["--verbose", "0", "--cache-mb", "1"][..]),
    ] {
        let o = train(&data, out, extra);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    }
    let weights = std::fs::read(cached.join("model.safetensors")).unwrap();
    assert_eq!(
        weights,
        std::fs::read(uncached.join("model.safetensors")).unwrap()
    );
    assert_eq!(
        weights,
        std::fs::read(tiny.join("model.safetensors")).unwrap()
    );
    let metrics = json(&cached.join("metrics.json"));
    assert_eq!(metrics, json(&uncached.join("metrics.json")));
    // The task is easy: a working network separates dark from light.
    assert!(metrics["accuracy"].as_f64().unwrap() >= 0.9, "{metrics}");
    // Every epoch's losses and accuracies (all but the last column, the seconds).
    let history = |run: &Path| -> Vec<String> {
        std::fs::read_to_string(run.join("history.csv"))
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect()
    };
    assert_eq!(history(&cached), history(&uncached));
    assert_eq!(history(&cached).len(), 4);
    // `evaluate` re-scores the held-out images (decoded batch by batch) to the same accuracy.
    let e = ferrite().arg("evaluate").arg(&uncached).output().unwrap();
    assert!(e.status.success(), "{}", stderr(&e));
    let accuracy = format!("accuracy {:.4}", metrics["accuracy"].as_f64().unwrap());
    assert!(stdout(&e).contains(&accuracy), "{}", stdout(&e));
}

#[test]
fn verbose_two_reports_images_per_second_for_the_decode_and_every_epoch() {
    let root = temp_dir("rate");
    let data = root.join("data");
    write_class(&data, "dark", 10, 3);
    write_class(&data, "light", 10, 4);
    let o = train(&data, &root.join("run"), &["--verbose", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // 20 images: 4 test, 3 validation and 13 training images, these counted twice (two
    // passes for the statistics).
    let decoded = format!("{}: 33 images decoded in ", data.display());
    let line = out
        .lines()
        .find(|l| l.starts_with(&decoded))
        .unwrap_or_else(|| panic!("no decode line in\n{out}"));
    assert!(line.ends_with(" images/s)"), "{line}");
    let epochs: Vec<&str> = out.lines().filter(|l| l.starts_with("Epoch ")).collect();
    assert_eq!(epochs.len(), 3, "{out}");
    for l in epochs {
        let rate: f64 = l
            .split(" - ")
            .find_map(|part| part.strip_suffix(" samples/s"))
            .unwrap_or_else(|| panic!("no rate in {l:?}"))
            .parse()
            .unwrap();
        assert!(rate > 0.0 && rate.is_finite(), "{l}");
    }
}

#[test]
fn an_unreadable_image_is_refused_before_training_and_nothing_is_written() {
    let root = temp_dir("broken");
    let data = root.join("data");
    write_class(&data, "dark", 10, 5);
    write_class(&data, "light", 10, 6);
    let bad = data.join("light/07.png");
    std::fs::write(&bad, b"\x89PNG not really").unwrap();
    let out = root.join("run");
    let o = train(&data, &out, &["--verbose", "2", "--cache-mb", "0"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&bad.display().to_string()) && err.contains("cannot read the image"),
        "{err}"
    );
    assert!(
        !stdout(&o).contains("Epoch 1/"),
        "trained before checking: {}",
        stdout(&o)
    );
    assert!(!out.exists());
}
