//! `ImageFolder` (issue #17): images decoded batch by batch with a bounded cache give, bit
//! for bit, what loading the whole folder gives: the same pixels, the same normalisation,
//! the same per-channel statistics and the same shuffled batches; the cache never holds more
//! than its budget; an unreadable file is an error naming it before training starts.

use std::path::PathBuf;

use ferrite::data::{
    ChannelStats, ColorMode, DataLoader, Dataset, ImageFolder, ImageOptions, TensorDataset,
};
use image::{Rgb, RgbImage};

/// A fresh, empty folder for one test.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ferrite-image-folder-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `per_class` colour images of `w × h` (some of another size, to be resized) in each of
/// three class folders, with pixel values that differ from image to image.
fn colour_folder(name: &str, per_class: usize, w: u32, h: u32) -> PathBuf {
    let root = temp_dir(name);
    for (c, class) in ["cat", "dog", "owl"].iter().enumerate() {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let (iw, ih) = if i % 5 == 0 { (w + 3, h + 1) } else { (w, h) };
            let seed = (c * 97 + i * 13) as u32;
            RgbImage::from_fn(iw, ih, |x, y| {
                Rgb([
                    ((x * 31 + y * 7 + seed) % 256) as u8,
                    ((x * 3 + y * 17 + 2 * seed) % 256) as u8,
                    ((x + y + 5 * seed) % 256) as u8,
                ])
            })
            .save(dir.join(format!("{i:03}.png")))
            .unwrap();
        }
    }
    root
}

fn options() -> ImageOptions {
    ImageOptions::new().color(ColorMode::Rgb).size(6, 5)
}

/// Every sample of `dataset` in order, features then targets.
fn gathered(dataset: &impl Dataset) -> (Vec<f32>, Vec<f32>) {
    let indices: Vec<usize> = (0..dataset.len()).collect();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    dataset.gather(&indices, &mut x, &mut y);
    (x, y)
}

#[test]
fn decoding_batch_by_batch_gives_the_loaded_folder_bit_for_bit() {
    let root = colour_folder("same", 8, 5, 6);
    let eager = options().load_class_folders(&root).unwrap();
    let list = options().list_class_folders(&root).unwrap();
    assert_eq!(list.classes, ["cat", "dog", "owl"]);
    assert_eq!(list.paths, eager.paths);
    for budget in [0u64, 4 * 90 * 5, u64::MAX] {
        let folder = options().folder(&list).unwrap().cache_memory(budget);
        assert_eq!((folder.channels(), folder.size()), (3, (6, 5)));
        let (x, y) = gathered(&folder);
        assert_eq!(x, eager.images.to_vec(), "budget {budget}");
        assert_eq!(y, eager.labels.to_vec());
        // A second pass (from the cache where it holds the image) is the same.
        assert_eq!(gathered(&folder).0, x);
        assert_eq!(folder.to_tensor().unwrap().to_vec(), x);
    }
}

#[test]
fn statistics_and_normalisation_equal_those_of_the_loaded_tensor() {
    let root = colour_folder("stats", 7, 5, 6);
    let eager = options().load_class_folders(&root).unwrap();
    let folder = options()
        .folder(&options().list_class_folders(&root).unwrap())
        .unwrap();
    // A subset, as the training split is.
    let picked = [0usize, 3, 4, 9, 10, 15, 20];
    let view = folder.subset(&picked);
    let tensor = eager.images.index_select(0, &picked);
    let stats = view.channel_stats(&|_| {}).unwrap();
    let expected = ChannelStats::of(&tensor).unwrap();
    assert_eq!(stats, expected);
    // Not a trivial statistic: three distinct channels.
    assert!(
        stats.mean[0] != stats.mean[1] && stats.std[2] > 0.05,
        "{stats:?}"
    );
    let (mean, std) = stats.as_f32();
    let (x, y) = gathered(&view.normalized(&mean, &std));
    assert_eq!(x, expected.normalize(&tensor).unwrap().to_vec());
    assert_eq!(y, eager.labels.index_select(0, &picked).to_vec());
    // Loading with the options' normalisation gives the same values too.
    let normalised = options().normalize(&mean, &std);
    let through_options = normalised
        .folder(&normalised.list_class_folders(&root).unwrap())
        .unwrap()
        .subset(&picked);
    assert_eq!(gathered(&through_options).0, x);
}

#[test]
fn progress_counts_every_image_of_both_statistics_passes() {
    let root = colour_folder("progress", 4, 5, 6);
    let folder = options()
        .folder(&options().list_class_folders(&root).unwrap())
        .unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    folder
        .channel_stats(&|done| seen.lock().unwrap().push(done))
        .unwrap();
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.last(), Some(&24), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    let checked = std::sync::atomic::AtomicUsize::new(0);
    folder
        .check(&|done| checked.store(done, std::sync::atomic::Ordering::Relaxed))
        .unwrap();
    assert_eq!(checked.into_inner(), 12);
}

#[test]
fn the_cache_holds_at_most_its_budget_and_misses_decode_again() {
    let root = colour_folder("budget", 10, 5, 6);
    let list = options().list_class_folders(&root).unwrap();
    let image_bytes = 4 * 3 * 6 * 5;
    // Room for 7 images and a half: 7 are kept.
    let budget = (7 * image_bytes + image_bytes / 2) as u64;
    let folder = options().folder(&list).unwrap().cache_memory(budget);
    folder.check(&|_| {}).unwrap();
    assert_eq!(folder.cached_bytes(), 7 * image_bytes as u64);
    let loaded = gathered(&folder);
    assert_eq!(folder.cached_bytes(), 7 * image_bytes as u64);
    // Every image is still read right: the 23 outside the cache are decoded again.
    assert_eq!(
        loaded.0,
        options().load_class_folders(&root).unwrap().images.to_vec()
    );
    // Subsets share the cache; no budget keeps nothing.
    assert_eq!(folder.subset(&[1, 2]).cached_bytes(), folder.cached_bytes());
    let uncached = options().folder(&list).unwrap();
    uncached.check(&|_| {}).unwrap();
    assert_eq!(uncached.cached_bytes(), 0);
}

#[test]
fn shuffled_batches_on_a_worker_equal_those_of_the_tensor_dataset() {
    let root = colour_folder("loader", 9, 5, 6);
    let eager = options().load_class_folders(&root).unwrap();
    let folder: ImageFolder = options()
        .folder(&options().list_class_folders(&root).unwrap())
        .unwrap()
        .cache_memory(1000);
    let mut lazy = DataLoader::new(folder, 4)
        .unwrap()
        .shuffle(7)
        .num_workers(1);
    let mut whole = DataLoader::new(TensorDataset::new(eager.images, eager.labels), 4)
        .unwrap()
        .shuffle(7);
    for epoch in 0..2 {
        let a: Vec<_> = lazy.iter().map(|(x, y)| (x.to_vec(), y.to_vec())).collect();
        let b: Vec<_> = whole
            .iter()
            .map(|(x, y)| (x.to_vec(), y.to_vec()))
            .collect();
        assert_eq!(a.len(), 7);
        assert_eq!(a, b, "epoch {epoch}");
    }
    let (x, y) = lazy.iter().next().unwrap();
    assert_eq!((x.dims(), y.dims()), (&[4, 3, 6, 5][..], &[4][..]));
}

#[test]
fn an_unreadable_file_is_an_error_naming_it_before_training() {
    let root = colour_folder("broken", 3, 5, 6);
    let bad = root.join("dog/001.png");
    std::fs::write(&bad, b"not a png").unwrap();
    let folder = options()
        .folder(&options().list_class_folders(&root).unwrap())
        .unwrap();
    let e = folder.check(&|_| {}).unwrap_err().to_string();
    assert!(
        e.contains(&bad.display().to_string()) && e.contains("cannot read the image"),
        "{e}"
    );
    let e = folder.channel_stats(&|_| {}).unwrap_err().to_string();
    assert!(e.contains("001.png"), "{e}");
    // The views without it are fine.
    assert!(folder.subset(&[0, 1, 2, 3, 5]).check(&|_| {}).is_ok());
}

#[test]
fn subsets_and_relabelling_pick_images_and_labels_together() {
    let root = colour_folder("views", 2, 5, 6);
    let folder = options()
        .folder(&options().list_class_folders(&root).unwrap())
        .unwrap();
    let view = folder.subset(&[5, 0, 3]);
    assert_eq!(view.labels(), [2., 0., 1.]);
    let names: Vec<&str> = view
        .paths()
        .iter()
        .map(|p| p.strip_prefix(&root).unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names, ["owl/001.png", "cat/000.png", "dog/001.png"]);
    let relabelled = view.relabelled(&[7., 8., 9.]);
    assert_eq!(gathered(&relabelled).1, [7., 8., 9.]);
    assert_eq!(gathered(&relabelled).0, gathered(&view).0);
    assert_eq!(view.subset(&[2]).labels(), [1.]);
    let (x, y) = view.get(1);
    assert_eq!((x.dims(), y.item()), (&[3, 6, 5][..], 0.));
}

#[test]
fn automatic_colour_is_resolved_when_the_folder_is_made() {
    let root = colour_folder("auto", 2, 5, 6);
    let auto = ImageOptions::new().auto_color().size(4, 4);
    let folder = auto
        .folder(&auto.list_class_folders(&root).unwrap())
        .unwrap();
    assert_eq!(folder.channels(), 3);
    let gray = ImageOptions::new().size(4, 4);
    let folder = gray
        .folder(&gray.list_class_folders(&root).unwrap())
        .unwrap();
    assert_eq!(folder.channels(), 1);
    assert_eq!(
        gathered(&folder).0,
        gray.load_class_folders(&root).unwrap().images.to_vec()
    );
}
