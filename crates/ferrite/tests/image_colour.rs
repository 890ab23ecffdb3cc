//! Colour images (issue #17): telling colour files from gray ones (pixel by pixel, so an RGB
//! file of gray pixels is gray), loading a folder in the colour mode its images need, and
//! per-channel statistics for normalising with the training images' mean and deviation.

use std::path::{Path, PathBuf};

use ferrite::data::{any_color_image, is_color_image, ChannelStats, ColorMode, ImageOptions};
use ferrite::Tensor;
use image::{GrayImage, Luma, Rgb, RgbImage, Rgba, RgbaImage};

/// A fresh, empty folder for one test.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ferrite-image-colour-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/data/images")
        .join(name)
}

/// Writes a `w × h` RGB PNG of one colour at `path` (creating its folder).
fn solid_rgb(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    RgbImage::from_pixel(w, h, Rgb(rgb)).save(path).unwrap();
}

#[test]
fn colour_is_a_colour_file_with_a_pixel_whose_channels_differ() {
    let dir = temp_dir("detect");
    let gray = dir.join("gray.png");
    GrayImage::from_fn(4, 4, |x, y| Luma([(x * 60 + y) as u8]))
        .save(&gray)
        .unwrap();
    // A grayscale picture saved as RGB: every pixel has r = g = b.
    let gray_rgb = dir.join("gray_rgb.png");
    RgbImage::from_fn(4, 4, |x, _| Rgb([x as u8 * 50; 3]))
        .save(&gray_rgb)
        .unwrap();
    // One pixel of colour among gray ones.
    let one_pixel = dir.join("one_pixel.png");
    let mut img = RgbImage::from_pixel(4, 4, Rgb([9, 9, 9]));
    img.put_pixel(3, 2, Rgb([9, 9, 10]));
    img.save(&one_pixel).unwrap();
    // Alpha does not make colour; red does.
    let gray_alpha = dir.join("gray_alpha.png");
    RgbaImage::from_fn(2, 2, |x, _| Rgba([70, 70, 70, x as u8 * 100]))
        .save(&gray_alpha)
        .unwrap();
    let red_alpha = dir.join("red_alpha.png");
    RgbaImage::from_pixel(2, 2, Rgba([200, 0, 0, 255]))
        .save(&red_alpha)
        .unwrap();
    assert!(!is_color_image(&gray).unwrap());
    assert!(!is_color_image(&gray_rgb).unwrap());
    assert!(is_color_image(&one_pixel).unwrap());
    assert!(!is_color_image(&gray_alpha).unwrap());
    assert!(is_color_image(&red_alpha).unwrap());
    // The library's fixtures: a.png is RGB with red, green and blue pixels, b.png gray.
    assert!(is_color_image(fixture("classes/cat/a.png")).unwrap());
    assert!(!is_color_image(fixture("classes/cat/b.png")).unwrap());

    assert!(!any_color_image(&[gray.clone(), gray_rgb.clone(), gray_alpha.clone()]).unwrap());
    assert!(any_color_image(&[gray.clone(), gray_rgb.clone(), one_pixel.clone()]).unwrap());
    assert!(!any_color_image(&[]).unwrap());

    // A file that is no image is an error naming it, not a panic.
    let broken = dir.join("notes.png");
    std::fs::write(&broken, "not a png").unwrap();
    let msg = is_color_image(&broken).unwrap_err().to_string();
    assert!(
        msg.contains(&broken.display().to_string()) && msg.contains("cannot read the image"),
        "{msg}"
    );
    let msg = any_color_image(&[gray, broken.clone()])
        .unwrap_err()
        .to_string();
    assert!(msg.contains(&broken.display().to_string()), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn auto_colour_reads_three_channels_only_when_some_image_is_colour() {
    // cat/a.png is colour: the whole set is read in RGB, exactly as when asked for.
    let auto = ImageOptions::new()
        .auto_color()
        .load_class_folders(fixture("classes"))
        .unwrap();
    let rgb = ImageOptions::new()
        .color(ColorMode::Rgb)
        .load_class_folders(fixture("classes"))
        .unwrap();
    assert_eq!(auto.channels(), 3);
    assert_eq!(auto.images.dims(), &[3, 3, 2, 3]);
    assert_eq!(auto.images.to_vec(), rgb.images.to_vec());

    // A folder of gray files, and of gray pixels stored as RGB, is read as one channel:
    // the same values as reading it in grayscale.
    let dir = temp_dir("auto-gray");
    GrayImage::from_fn(3, 2, |x, y| Luma([(x * 80 + y * 10) as u8]))
        .save(dir.join("dark/a.png").tap_dir())
        .unwrap();
    RgbImage::from_fn(3, 2, |x, _| Rgb([200 - x as u8 * 30; 3]))
        .save(dir.join("light/b.png").tap_dir())
        .unwrap();
    let auto = ImageOptions::new()
        .auto_color()
        .load_class_folders(&dir)
        .unwrap();
    let gray = ImageOptions::new().load_class_folders(&dir).unwrap();
    assert_eq!(auto.channels(), 1);
    assert_eq!(auto.images.to_vec(), gray.images.to_vec());
    assert_eq!(
        auto.images.get(1).to_vec()[..3],
        [200. / 255., 170. / 255., 140. / 255.]
    );

    // Unlabelled images too; and `color` after `auto_color` replaces it.
    let (x, _) = ImageOptions::new()
        .auto_color()
        .load_unlabelled(fixture("classes"))
        .unwrap();
    assert_eq!(x.dims()[1], 3);
    let (x, _) = ImageOptions::new()
        .auto_color()
        .color(ColorMode::Gray)
        .load_unlabelled(fixture("classes"))
        .unwrap();
    assert_eq!(x.dims()[1], 1);

    // A normalisation for one channel is refused once three are found.
    let msg = ImageOptions::new()
        .auto_color()
        .normalize(&[0.5], &[0.25])
        .load_class_folders(fixture("classes"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("needs 3 finite means and 3 positive stds"),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Creates the parent folder of a path, and gives the path back.
trait TapDir {
    fn tap_dir(self) -> Self;
}

impl TapDir for PathBuf {
    fn tap_dir(self) -> Self {
        std::fs::create_dir_all(self.parent().unwrap()).unwrap();
        self
    }
}

#[test]
fn channel_statistics_are_exact_on_hand_made_images() {
    // Four 1x2 RGB images: red 0 or 255, green always 51, blue 0, 0, 255, 255 by image.
    let dir = temp_dir("stats");
    for (i, (r, b)) in [(0u8, 0u8), (255, 0), (0, 255), (255, 255)]
        .iter()
        .enumerate()
    {
        solid_rgb(&dir.join(format!("c/{i}.png")), 2, 1, [*r, 51, *b]);
    }
    let set = ImageOptions::new()
        .auto_color()
        .load_class_folders(&dir)
        .unwrap();
    assert_eq!(set.images.dims(), &[4, 3, 1, 2]);
    let stats = ChannelStats::of(&set.images).unwrap();
    // Red and blue: half 0, half 1, so mean and deviation 1/2 exactly.
    assert_eq!(stats.mean[0], 0.5);
    assert_eq!(stats.std[0], 0.5);
    assert_eq!(stats.mean[2], 0.5);
    assert_eq!(stats.std[2], 0.5);
    // Green is constant at 51/255 (0.2 as f32): its mean is that value, its deviation is
    // replaced by 1 so that normalising only centres it.
    assert_eq!(stats.mean[1], (51f32 / 255.0) as f64);
    assert_eq!(stats.std[1], 1.0);

    // Unequal values: red 0, 51, 102, 255 over the four images (each value twice).
    let dir2 = temp_dir("stats-uneven");
    for (i, r) in [0u8, 51, 102, 255].iter().enumerate() {
        solid_rgb(&dir2.join(format!("c/{i}.png")), 2, 1, [*r, 0, 255]);
    }
    let set2 = ImageOptions::new()
        .color(ColorMode::Rgb)
        .load_class_folders(&dir2)
        .unwrap();
    let stats2 = ChannelStats::of(&set2.images).unwrap();
    let reds: Vec<f64> = [0u8, 51, 102, 255]
        .iter()
        .map(|&v| (v as f32 / 255.0) as f64)
        .collect();
    let mean = reds.iter().sum::<f64>() / 4.0;
    let var = reds.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
    assert!((stats2.mean[0] - mean).abs() < 1e-15, "{:?}", stats2.mean);
    assert!(
        (stats2.std[0] - var.sqrt()).abs() < 1e-15,
        "{:?}",
        stats2.std
    );
    // 0, 0.2, 0.4, 1: mean 0.4, variance (0.16 + 0.04 + 0 + 0.36) / 4 = 0.14.
    assert!((stats2.mean[0] - 0.4).abs() < 1e-7);
    assert!((stats2.std[0] - 0.14f64.sqrt()).abs() < 1e-7);
    assert_eq!((stats2.mean[1], stats2.std[1]), (0.0, 1.0));
    assert_eq!((stats2.mean[2], stats2.std[2]), (1.0, 1.0));

    // Normalising after loading is bit for bit normalising while decoding.
    let after = stats2.normalize(&set2.images).unwrap();
    let (mean_f32, std_f32) = stats2.as_f32();
    let during = ImageOptions::new()
        .color(ColorMode::Rgb)
        .normalize(&mean_f32, &std_f32)
        .load_class_folders(&dir2)
        .unwrap();
    assert_eq!(after.to_vec(), during.images.to_vec());
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&dir2).unwrap();
}

#[test]
fn a_red_image_is_high_on_channel_0_and_low_on_1_and_2_after_unnormalising() {
    let dir = temp_dir("red-blue");
    solid_rgb(&dir.join("red/a.png"), 4, 4, [230, 10, 20]);
    solid_rgb(&dir.join("blue/a.png"), 4, 4, [10, 20, 240]);
    let set = ImageOptions::new()
        .auto_color()
        .size(4, 4)
        .load_class_folders(&dir)
        .unwrap();
    assert_eq!(set.classes, ["blue", "red"]);
    let stats = ChannelStats::of(&set.images).unwrap();
    let normalised = stats.normalize(&set.images).unwrap();
    // Normalised, the red image is above the mean on red, below it on blue.
    let red = normalised.get(1).to_vec();
    assert!(red[..16].iter().all(|&v| v > 0.9), "{red:?}");
    assert!(red[32..].iter().all(|&v| v < -0.9), "{red:?}");
    // Undone, it is red again.
    let planes: Vec<f64> = red
        .chunks(16)
        .enumerate()
        .map(|(k, p)| p[0] as f64 * stats.std[k] + stats.mean[k])
        .collect();
    assert!((planes[0] - 230. / 255.).abs() < 1e-6, "{planes:?}");
    assert!((planes[1] - 10. / 255.).abs() < 1e-6, "{planes:?}");
    assert!((planes[2] - 20. / 255.).abs() < 1e-6, "{planes:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn channel_statistics_refuse_what_they_cannot_use() {
    let msg = ChannelStats::of(&Tensor::zeros([2, 3]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("expected images (N, C, H, W)"), "{msg}");
    let msg = ChannelStats::of(&Tensor::zeros([0, 3, 2, 2]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no pixels"), "{msg}");
    let nan = Tensor::from_vec(vec![0.0, f32::NAN, 0.5, 0.5], [1, 2, 1, 2]);
    let msg = ChannelStats::of(&nan).unwrap_err().to_string();
    assert!(
        msg.contains("channel 0 holds values that are not finite"),
        "{msg}"
    );
    let gray = ChannelStats::of(&Tensor::from_vec(vec![0.0, 1.0], [1, 1, 1, 2])).unwrap();
    assert_eq!(
        (gray.mean.clone(), gray.std.clone()),
        (vec![0.5], vec![0.5])
    );
    let msg = gray
        .normalize(&Tensor::zeros([1, 3, 1, 2]))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("images of 3 channel(s) cannot be normalised with statistics of 1"),
        "{msg}"
    );
}
