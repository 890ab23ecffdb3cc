//! Seeded random data augmentation of `(C, H, W)` images: flips, small rotations, shifts and
//! random crops resized back (torchvision's `RandomHorizontalFlip`, `RandomVerticalFlip`,
//! `RandomRotation`, `RandomAffine(translate)` and `RandomResizedCrop` with a fixed aspect).

use std::sync::Mutex;

use rayon::prelude::*;

use super::Dataset;
use crate::error::{FerriteError, Result};
use crate::{Generator, Tensor};

/// Which random transformations to apply to each image, and how strongly. Each image gets
/// its own draw; geometry is one affine map sampled bilinearly, zero outside the image.
///
/// ```
/// use ferrite::data::Augmentation;
/// use ferrite::{Generator, Tensor};
/// let aug = Augmentation::new().horizontal_flip(1.0);
/// let img = Tensor::from_vec(vec![1., 2., 3., 4.], [1, 1, 2, 2]);
/// let out = aug.apply(&img, &mut Generator::new(0)).unwrap();
/// assert_eq!(out.to_vec(), vec![2., 1., 4., 3.]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Augmentation {
    horizontal_flip: f32,
    vertical_flip: f32,
    max_rotation_degrees: f32,
    max_shift: f32,
    min_crop_scale: f32,
}

impl Default for Augmentation {
    fn default() -> Self {
        Augmentation {
            horizontal_flip: 0.0,
            vertical_flip: 0.0,
            max_rotation_degrees: 0.0,
            max_shift: 0.0,
            min_crop_scale: 1.0,
        }
    }
}

/// One image's random draw.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Draw {
    flip_h: bool,
    flip_v: bool,
    /// Counter-clockwise rotation, radians.
    angle: f32,
    /// Shift right and down, whole pixels.
    shift: (f32, f32),
    /// Side of the crop as a fraction of the image side.
    scale: f32,
    /// Centre of the crop relative to the image centre, pixels.
    crop_offset: (f32, f32),
}

impl Augmentation {
    /// No transformation; add some with the builder methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Mirrors left-right with probability `p`.
    pub fn horizontal_flip(mut self, p: f32) -> Self {
        self.horizontal_flip = p;
        self
    }

    /// Mirrors top-bottom with probability `p`.
    pub fn vertical_flip(mut self, p: f32) -> Self {
        self.vertical_flip = p;
        self
    }

    /// Rotates by an angle drawn uniformly in `[-degrees, degrees]` about the centre.
    pub fn rotation(mut self, degrees: f32) -> Self {
        self.max_rotation_degrees = degrees;
        self
    }

    /// Shifts by whole pixels drawn uniformly in `[-fraction, fraction]` of the width and height.
    pub fn shift(mut self, fraction: f32) -> Self {
        self.max_shift = fraction;
        self
    }

    /// Crops a square-aspect region whose side is a fraction in `[min_scale, 1]` of the image,
    /// at a random place inside it, and resizes it back to the full size.
    pub fn random_crop(mut self, min_scale: f32) -> Self {
        self.min_crop_scale = min_scale;
        self
    }

    /// Checks the settings: probabilities in [0, 1], rotation in [0, 180], shift in [0, 1),
    /// crop scale in (0, 1].
    pub fn validate(&self) -> Result<()> {
        let check = |ok: bool, name: &str, range: &str, v: f32| {
            if ok {
                Ok(())
            } else {
                Err(FerriteError::invalid(
                    name,
                    format!("must be in {range}, got {v}"),
                ))
            }
        };
        let (h, v) = (self.horizontal_flip, self.vertical_flip);
        check((0.0..=1.0).contains(&h), "horizontal_flip", "[0, 1]", h)?;
        check((0.0..=1.0).contains(&v), "vertical_flip", "[0, 1]", v)?;
        let r = self.max_rotation_degrees;
        check(
            (0.0..=180.0).contains(&r),
            "rotation",
            "[0, 180] degrees",
            r,
        )?;
        check(
            (0.0..1.0).contains(&self.max_shift),
            "shift",
            "[0, 1)",
            self.max_shift,
        )?;
        let s = self.min_crop_scale;
        check(s > 0.0 && s <= 1.0, "random_crop", "(0, 1]", s)
    }

    /// A randomly transformed copy of the batch `images` `(N, C, H, W)`, each image drawn
    /// from `gen`. Errors on invalid settings.
    pub fn apply(&self, images: &Tensor, gen: &mut Generator) -> Result<Tensor> {
        self.validate()?;
        assert_eq!(
            images.rank(),
            4,
            "Augmentation::apply: expected (N, C, H, W) images, got {:?}",
            images.dims()
        );
        let mut data = images.to_vec();
        self.augment_in_place(&mut data, &images.dims()[1..], gen);
        Ok(Tensor::from_vec(data, images.dims().to_vec()))
    }

    /// Transforms each `(C, H, W)` image of the row-major buffer `data` in place.
    fn augment_in_place(&self, data: &mut [f32], chw: &[usize], gen: &mut Generator) {
        let (c, h, w) = (chw[0], chw[1], chw[2]);
        let plane = c * h * w;
        if plane == 0 {
            return;
        }
        // Draw sequentially (reproducible), transform in parallel.
        let draws: Vec<Draw> = (0..data.len() / plane)
            .map(|_| self.draw(gen, h, w))
            .collect();
        data.par_chunks_mut(plane)
            .zip(draws.par_iter())
            .for_each(|(image, draw)| {
                let src = image.to_vec();
                warp(&src, c, h, w, draw, image);
            });
    }

    fn draw(&self, gen: &mut Generator, h: usize, w: usize) -> Draw {
        // Uniform in [-a, a].
        let mut symmetric = |a: f32| {
            if a > 0.0 {
                (2.0 * gen.uniform() - 1.0) * a
            } else {
                0.0
            }
        };
        let angle = symmetric(self.max_rotation_degrees).to_radians();
        let shift = (
            symmetric(self.max_shift * w as f32).round(),
            symmetric(self.max_shift * h as f32).round(),
        );
        let scale = if self.min_crop_scale < 1.0 {
            self.min_crop_scale + (1.0 - self.min_crop_scale) * ((symmetric(1.0) + 1.0) / 2.0)
        } else {
            1.0
        };
        // The crop stays inside the image: its centre moves at most (1 - scale)/2 of a side.
        let crop_offset = (
            symmetric((1.0 - scale) * (w as f32 - 1.0) / 2.0),
            symmetric((1.0 - scale) * (h as f32 - 1.0) / 2.0),
        );
        let flip_h = self.horizontal_flip > 0.0 && gen.uniform() < self.horizontal_flip;
        let flip_v = self.vertical_flip > 0.0 && gen.uniform() < self.vertical_flip;
        Draw {
            flip_h,
            flip_v,
            angle,
            shift,
            scale,
            crop_offset,
        }
    }
}

/// Writes into `out` the image `src` `(c, h, w)` transformed by `d`: crop-and-resize, then
/// rotation, then shift, then flips. Each output pixel q is mapped back to a source point
/// p = (R(-angle)(flip(q) - shift - centre)) · scale + centre + crop_offset, sampled bilinearly.
fn warp(src: &[f32], c: usize, h: usize, w: usize, d: &Draw, out: &mut [f32]) {
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    let (sin, cos) = d.angle.sin_cos();
    for y in 0..h {
        for x in 0..w {
            let qx = if d.flip_h { w - 1 - x } else { x } as f32 - d.shift.0 - cx;
            let qy = if d.flip_v { h - 1 - y } else { y } as f32 - d.shift.1 - cy;
            // Inverse of a counter-clockwise turn in y-down image coordinates.
            let px = (cos * qx - sin * qy) * d.scale + cx + d.crop_offset.0;
            let py = (sin * qx + cos * qy) * d.scale + cy + d.crop_offset.1;
            for k in 0..c {
                out[(k * h + y) * w + x] = bilinear(&src[k * h * w..(k + 1) * h * w], h, w, px, py);
            }
        }
    }
}

/// The bilinear interpolation of the `h × w` plane at (x, y), zero outside the image.
fn bilinear(plane: &[f32], h: usize, w: usize, x: f32, y: f32) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |xi: f32, yi: f32| {
        if xi < 0.0 || yi < 0.0 || xi >= w as f32 || yi >= h as f32 {
            0.0
        } else {
            plane[yi as usize * w + xi as usize]
        }
    };
    let top = if fx == 0.0 {
        at(x0, y0)
    } else {
        at(x0, y0) * (1.0 - fx) + at(x0 + 1.0, y0) * fx
    };
    if fy == 0.0 {
        return top;
    }
    let bottom = if fx == 0.0 {
        at(x0, y0 + 1.0)
    } else {
        at(x0, y0 + 1.0) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0) * fx
    };
    top * (1.0 - fy) + bottom * fy
}

/// A dataset of `(C, H, W)` images whose batches are augmented at random, a new draw every
/// time a sample is read, from a generator seeded once (so runs repeat exactly).
///
/// ```
/// use ferrite::data::{Augmentation, Augmented, DataLoader, TensorDataset};
/// use ferrite::Tensor;
/// let images = Tensor::rand([8, 1, 4, 4]);
/// let ds = TensorDataset::new(images, Tensor::zeros([8]));
/// let aug = Augmentation::new().horizontal_flip(0.5).rotation(10.0).shift(0.1);
/// let mut loader = DataLoader::new(Augmented::new(ds, aug, 0).unwrap(), 4).unwrap();
/// for (x, _) in loader.iter() {
///     assert_eq!(x.dims(), &[4, 1, 4, 4]);
/// }
/// ```
pub struct Augmented<D> {
    inner: D,
    augmentation: Augmentation,
    gen: Mutex<Generator>,
}

impl<D: Dataset> Augmented<D> {
    /// `inner` with `augmentation` drawn from a generator seeded by `seed`. Errors on invalid
    /// settings.
    pub fn new(inner: D, augmentation: Augmentation, seed: u64) -> Result<Self> {
        augmentation.validate()?;
        Ok(Augmented {
            inner,
            augmentation,
            gen: Mutex::new(Generator::new(seed)),
        })
    }

    /// The dataset without augmentation.
    pub fn inner(&self) -> &D {
        &self.inner
    }
}

impl<D: Dataset> Dataset for Augmented<D> {
    fn len(&self) -> usize {
        self.inner.len()
    }

    fn get(&self, index: usize) -> (Tensor, Tensor) {
        let (mut features, mut targets) = (Vec::new(), Vec::new());
        let (xd, yd) = self.gather(&[index], &mut features, &mut targets);
        (
            Tensor::from_vec(features, xd),
            Tensor::from_vec(targets, yd),
        )
    }

    fn gather(
        &self,
        indices: &[usize],
        features: &mut Vec<f32>,
        targets: &mut Vec<f32>,
    ) -> (Vec<usize>, Vec<usize>) {
        let dims = self.inner.gather(indices, features, targets);
        assert_eq!(
            dims.0.len(),
            3,
            "Augmented: samples must be (C, H, W) images, got {:?}",
            dims.0
        );
        let mut gen = self.gen.lock().expect("augmentation generator lock");
        self.augmentation
            .augment_in_place(features, &dims.0, &mut gen);
        dims
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: Draw = Draw {
        flip_h: false,
        flip_v: false,
        angle: 0.0,
        shift: (0.0, 0.0),
        scale: 1.0,
        crop_offset: (0.0, 0.0),
    };

    fn warped(src: &[f32], h: usize, w: usize, d: Draw) -> Vec<f32> {
        let mut out = vec![f32::NAN; src.len()];
        warp(src, src.len() / (h * w), h, w, &d, &mut out);
        out
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4)
    }

    #[test]
    fn flips_rotations_and_shifts_move_pixels_where_expected() {
        let img: Vec<f32> = (0..9).map(|v| v as f32).collect(); // 3x3, rows 0 1 2 / 3 4 5 / 6 7 8
        assert_eq!(warped(&img, 3, 3, IDENTITY), img);
        assert_eq!(
            warped(
                &img,
                3,
                3,
                Draw {
                    flip_v: true,
                    ..IDENTITY
                }
            ),
            vec![6., 7., 8., 3., 4., 5., 0., 1., 2.]
        );
        // A quarter turn counter-clockwise (torchvision's positive angle).
        let turned = warped(
            &img,
            3,
            3,
            Draw {
                angle: std::f32::consts::FRAC_PI_2,
                ..IDENTITY
            },
        );
        assert!(
            close(&turned, &[2., 5., 8., 1., 4., 7., 0., 3., 6.]),
            "{turned:?}"
        );
        // One pixel right and one down, zeros coming in.
        let shifted = warped(
            &img,
            3,
            3,
            Draw {
                shift: (1.0, 1.0),
                ..IDENTITY
            },
        );
        assert_eq!(shifted, vec![0., 0., 0., 0., 0., 1., 0., 3., 4.]);
        // Two channels move together.
        let two: Vec<f32> = (0..8).map(|v| v as f32).collect();
        assert_eq!(
            warped(
                &two,
                2,
                2,
                Draw {
                    flip_h: true,
                    ..IDENTITY
                }
            ),
            vec![1., 0., 3., 2., 5., 4., 7., 6.]
        );
    }

    #[test]
    fn a_half_scale_crop_magnifies_the_region_bilinearly() {
        // A horizontal ramp 0..4: the centred half crop covers x in [0.75, 2.25].
        let img: Vec<f32> = (0..16).map(|i| (i % 4) as f32).collect();
        let out = warped(
            &img,
            4,
            4,
            Draw {
                scale: 0.5,
                ..IDENTITY
            },
        );
        assert!(close(&out[..4], &[0.75, 1.25, 1.75, 2.25]), "{out:?}");
    }

    #[test]
    fn draws_are_seeded_and_within_their_ranges() {
        let aug = Augmentation::new()
            .horizontal_flip(0.5)
            .rotation(15.0)
            .shift(0.1)
            .random_crop(0.8);
        let (mut a, mut b) = (Generator::new(3), Generator::new(3));
        let draws: Vec<Draw> = (0..400).map(|_| aug.draw(&mut a, 20, 30)).collect();
        assert!(
            draws.iter().all(|d| *d == aug.draw(&mut b, 20, 30)),
            "same seed, same draws"
        );
        assert!(draws
            .iter()
            .all(|d| d.angle.abs() <= 15f32.to_radians() && !d.flip_v));
        assert!(draws
            .iter()
            .all(|d| d.shift.0.abs() <= 3.0 && d.shift.1.abs() <= 2.0 && d.shift.0.fract() == 0.0));
        assert!(draws.iter().all(|d| (0.8..=1.0).contains(&d.scale)));
        let flips = draws.iter().filter(|d| d.flip_h).count();
        assert!((150..250).contains(&flips), "about half flipped: {flips}");
        assert!(Augmentation::new().horizontal_flip(1.5).validate().is_err());
        assert!(Augmentation::new().random_crop(0.0).validate().is_err());
    }
}
