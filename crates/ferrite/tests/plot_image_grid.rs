//! The image grid: the PNG has the documented size, every image is drawn where
//! `image_bounds` says, the right way up, in grey or colour, and the misclassified grid shows
//! only the missed images (at most 36) captioned with their class names.

use ferrite::plot::{Figure, ImageGrid};
use ferrite::Tensor;

/// Renders `grid` to a PNG file and decodes it, checking the file's size against `size()`.
/// The file is kept in `$FERRITE_KEEP_PLOTS` when set, to look at.
fn render(grid: &ImageGrid, name: &str) -> image::RgbImage {
    let keep = std::env::var_os("FERRITE_KEEP_PLOTS").map(std::path::PathBuf::from);
    let dir = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("ferrite-image-grid-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    grid.save(&path).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), grid.size(), "{name}.png size");
    if keep.is_none() {
        std::fs::remove_file(&path).unwrap();
    }
    img
}

/// Every pixel of image `k`'s drawn area, as `[r, g, b]`.
fn drawn(img: &image::RgbImage, grid: &ImageGrid, k: usize) -> Vec<[u8; 3]> {
    let (l, t, r, b) = grid.image_bounds(k).unwrap();
    (t..b)
        .flat_map(|y| (l..r).map(move |x| (x, y)))
        .map(|(x, y)| img.get_pixel(x, y).0)
        .collect()
}

/// Grayscale `(n, 1, side, side)` images, image `i` filled with `levels[i]`.
fn flat_gray(levels: &[f32], side: usize) -> Tensor {
    let data = levels
        .iter()
        .flat_map(|&v| std::iter::repeat_n(v, side * side))
        .collect();
    Tensor::from_vec(data, [levels.len(), 1, side, side])
}

#[test]
fn gray_images_are_drawn_in_their_levels_framed_and_the_right_way_up() {
    // Black, white and mid-grey 4x4 images, then one whose top-left quarter is white.
    let mut data = flat_gray(&[0.0, 1.0, 0.5], 4).to_vec();
    let mut quarter = vec![0.0f32; 16];
    for (r, c) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        quarter[r * 4 + c] = 1.0;
    }
    data.extend(quarter);
    let images = Tensor::from_vec(data, [4, 1, 4, 4]);
    let grid = ImageGrid::new("levels", &images, &["black", "white", "grey", "quarter"]).unwrap();
    assert_eq!(grid.len(), 4);
    assert_eq!(grid.size(), (4 * 200, 40 + 164));
    let img = render(&grid, "gray");
    // A 4x4 image fills the 128-pixel square, centred in its 200-pixel cell.
    assert_eq!(
        grid.image_bounds(1),
        Some((200 + 36, 46, 200 + 36 + 128, 46 + 128))
    );
    assert_eq!(grid.image_bounds(4), None);
    assert!(drawn(&img, &grid, 0).iter().all(|p| *p == [0, 0, 0]));
    assert!(drawn(&img, &grid, 1).iter().all(|p| *p == [255, 255, 255]));
    assert!(drawn(&img, &grid, 2).iter().all(|p| *p == [128, 128, 128]));
    // The white image shows on the white page: its frame is grey.
    let (l, t, _, _) = grid.image_bounds(1).unwrap();
    assert_eq!(img.get_pixel(l - 1, t + 10).0, [150, 150, 150]);
    assert_eq!(img.get_pixel(l + 10, t - 1).0, [150, 150, 150]);
    // Row 0 is at the top, column 0 at the left: 32-pixel blocks per image pixel.
    let (l, t, _, _) = grid.image_bounds(3).unwrap();
    assert_eq!(img.get_pixel(l, t).0, [255, 255, 255]);
    assert_eq!(img.get_pixel(l + 63, t + 63).0, [255, 255, 255]);
    assert_eq!(img.get_pixel(l + 64, t + 10).0, [0, 0, 0]);
    assert_eq!(img.get_pixel(l + 10, t + 64).0, [0, 0, 0]);
    assert_eq!(img.get_pixel(l + 127, t + 127).0, [0, 0, 0]);
}

#[test]
fn three_channel_images_are_drawn_in_colour() {
    // Pure red and pure blue 3x3 images.
    let mut data = Vec::new();
    for rgb in [[1.0f32, 0.0, 0.0], [0.0, 0.0, 1.0]] {
        for v in rgb {
            data.extend(std::iter::repeat_n(v, 9));
        }
    }
    let images = Tensor::from_vec(data, [2, 3, 3, 3]);
    let grid = ImageGrid::new("colour", &images, &["red", "blue"]).unwrap();
    let img = render(&grid, "colour");
    // 3 pixels on 128: blocks of 42 or 43 pixels, covering the square exactly.
    assert_eq!(grid.image_bounds(0), Some((36, 46, 36 + 128, 46 + 128)));
    assert!(drawn(&img, &grid, 0).iter().all(|p| *p == [255, 0, 0]));
    assert!(drawn(&img, &grid, 1).iter().all(|p| *p == [0, 0, 255]));
}

#[test]
fn normalised_images_are_stretched_or_unnormalised() {
    // Values -2 (left half) and 2 (right half), as a normalisation leaves them.
    let row = [-2.0f32, -2.0, 2.0, 2.0];
    let data: Vec<f32> = row.iter().cycle().take(16).copied().collect();
    let images = Tensor::from_vec(data, [1, 1, 4, 4]);
    // Without the statistics each image is stretched to its own minimum and maximum.
    let grid = ImageGrid::new("stretched", &images, &["x"]).unwrap();
    let img = render(&grid, "stretched");
    let (l, t, _, _) = grid.image_bounds(0).unwrap();
    assert_eq!(img.get_pixel(l + 10, t + 10).0, [0, 0, 0]);
    assert_eq!(img.get_pixel(l + 100, t + 10).0, [255, 255, 255]);
    // With them, x · std + mean: -2 · 0.125 + 0.5 = 0.25 and 2 · 0.125 + 0.5 = 0.75.
    let grid = ImageGrid::new("unnormalised", &images, &["x"])
        .unwrap()
        .unnormalize(&[0.5], &[0.125])
        .unwrap();
    let img = render(&grid, "unnormalised");
    assert_eq!(img.get_pixel(l + 10, t + 10).0, [64, 64, 64]);
    assert_eq!(img.get_pixel(l + 100, t + 10).0, [191, 191, 191]);
    let err = ImageGrid::new("x", &images, &["x"])
        .unwrap()
        .unnormalize(&[0.5, 0.5], &[0.1, 0.1])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2 means and 2 deviations for images of 1 channel"),
        "{err}"
    );
    let err = ImageGrid::new("x", &images, &["x"])
        .unwrap()
        .unnormalize(&[0.5], &[0.0])
        .unwrap_err()
        .to_string();
    assert!(err.contains("deviations positive"), "{err}");
}

#[test]
fn the_misclassified_grid_shows_the_first_36_missed_images_with_their_classes() {
    // 40 images: image i is filled with level i / 40; images 0 and 3 are right, the other 38
    // wrong.
    let n = 40;
    let levels: Vec<f32> = (0..n).map(|i| i as f32 / n as f32).collect();
    let images = flat_gray(&levels, 8);
    let y_true: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let mut y_pred: Vec<usize> = y_true.iter().map(|&t| (t + 1) % 3).collect();
    y_pred[0] = y_true[0];
    y_pred[3] = y_true[3];
    let names = ["cat", "dog", "T-shirt/top"];
    let grid = ImageGrid::misclassified("Test images", &images, &y_true, &y_pred, &names).unwrap();
    assert_eq!(grid.len(), ImageGrid::MAX_IMAGES);
    assert_eq!(grid.size(), (6 * 200, 40 + 6 * 164));
    // The first shown is image 1 (true dog, predicted T-shirt/top), then image 2, then 4.
    assert_eq!(grid.captions()[0], "true: dog / pred: T-shirt/top");
    assert_eq!(grid.captions()[1], "true: T-shirt/top / pred: cat");
    assert_eq!(grid.captions()[2], "true: dog / pred: T-shirt/top");
    let img = render(&grid, "misclassified");
    let level = |k: usize| drawn(&img, &grid, k)[0][0];
    assert_eq!(level(0), (255.0f32 / 40.0).round() as u8);
    assert_eq!(level(2), (4.0f32 * 255.0 / 40.0).round() as u8);
    // The last shown is image 37, the 36th missed one.
    assert_eq!(level(35), (37.0f32 * 255.0 / 40.0).round() as u8);
    // The SVG holds the captions and the counts in the title.
    let svg = grid.render_svg().unwrap();
    assert!(
        svg.contains("true: dog / pred: T-shirt/top"),
        "caption missing"
    );
    assert!(
        svg.contains("Test images: 38 of 40 misclassified, the first 36 shown"),
        "title missing"
    );
}

#[test]
fn a_grid_without_misses_says_so_and_bad_inputs_are_errors() {
    let images = flat_gray(&[0.0, 1.0], 4);
    let grid = ImageGrid::misclassified("Test", &images, &[0, 1], &[0, 1], &["a", "b"]).unwrap();
    assert!(grid.is_empty());
    assert_eq!(grid.size(), (3 * 200, 40 + 164));
    let img = render(&grid, "empty");
    // Text is drawn (dark pixels) though there is no image.
    assert!(img.pixels().any(|p| p.0[0] < 100));
    let svg = grid.render_svg().unwrap();
    assert!(svg.contains("every image is classified correctly"));
    assert!(svg.contains("Test: 0 of 2 misclassified"));

    let two_channels = Tensor::zeros([1, 2, 4, 4]);
    let err = ImageGrid::new("x", &two_channels, &["x"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("1 (gray) or 3 (red, green, blue) channels, got shape [1, 2, 4, 4]"),
        "{err}"
    );
    let err = ImageGrid::new("x", &images, &["x"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("1 captions for 2 images"), "{err}");
    let err = ImageGrid::misclassified("x", &images, &[0, 2], &[0, 1], &["a", "b"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("class 2 has no name: 2 class names were given"),
        "{err}"
    );
    let err = ImageGrid::misclassified("x", &images, &[0], &[0, 1], &["a", "b"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("1 true and 2 predicted classes for 2 images"),
        "{err}"
    );
}
