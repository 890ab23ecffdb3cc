//! Creating tensors: constants, ranges, identity, data from the caller, random samples.

use super::{with_rng, Generator, Layout, Shape, Tensor};
use crate::backend::Storage;
use crate::core::{DType, Device};

/// The type and device of a new tensor, PyTorch's `dtype=` and `device=` arguments:
/// float32 on the CPU unless changed.
///
/// ```
/// use ferrite::{DType, Device, Tensor, TensorOptions};
/// let options = TensorOptions::new().dtype(DType::I64).device(Device::Cpu);
/// let t = Tensor::zeros_with([2, 3], options);
/// assert_eq!((t.dtype(), t.dims()), (DType::I64, &[2, 3][..]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorOptions {
    /// The element type (default float32).
    pub dtype: DType,
    /// The device (default [`crate::default_device`], the CPU unless changed).
    pub device: Device,
}

impl Default for TensorOptions {
    fn default() -> Self {
        TensorOptions {
            dtype: DType::F32,
            device: super::default_device(),
        }
    }
}

impl TensorOptions {
    /// float32 on the default device (the CPU unless changed).
    pub fn new() -> TensorOptions {
        TensorOptions::default()
    }

    /// These options with element type `dtype`.
    pub fn dtype(self, dtype: DType) -> TensorOptions {
        TensorOptions { dtype, ..self }
    }

    /// These options with device `device`.
    pub fn device(self, device: Device) -> TensorOptions {
        TensorOptions { device, ..self }
    }
}

impl Tensor {
    /// A tensor of `shape` from row-major `data`. Panics if the lengths differ.
    ///
    /// ```
    /// let t = ferrite::Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]);
    /// assert_eq!(t.dims(), &[2, 2]);
    /// ```
    pub fn from_vec(data: Vec<f32>, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        assert_eq!(
            data.len(),
            shape.numel(),
            "from_vec: {} values do not fill shape {:?}",
            data.len(),
            shape
        );
        Tensor::from_data(data, shape)
    }

    /// A tensor of `shape` copied from a slice.
    pub fn from_slice(data: &[f32], shape: impl Into<Shape>) -> Tensor {
        Tensor::from_vec(data.to_vec(), shape)
    }

    /// A 2-D tensor from rows of equal length.
    pub fn from_rows(rows: &[Vec<f32>]) -> Tensor {
        let cols = rows.first().map_or(0, |r| r.len());
        assert!(
            rows.iter().all(|r| r.len() == cols),
            "from_rows: rows have different lengths"
        );
        Tensor::from_vec(rows.concat(), [rows.len(), cols])
    }

    /// A 0-dimensional tensor holding `value`.
    pub fn scalar(value: f32) -> Tensor {
        Tensor::from_data(vec![value], Shape(vec![]))
    }

    /// A tensor of `shape` filled with `value`.
    pub fn full(shape: impl Into<Shape>, value: f32) -> Tensor {
        Tensor::full_with(shape, value as f64, TensorOptions::default())
    }

    /// A tensor of `shape` filled with `value`, of the type and on the device `options` name
    /// (PyTorch's `torch.full(shape, value, dtype=..., device=...)`).
    ///
    /// ```
    /// use ferrite::{DType, Device, Tensor, TensorOptions};
    /// let t = Tensor::full_with([2], 0.1, TensorOptions::new().dtype(DType::F64));
    /// assert_eq!(t.dtype(), DType::F64);
    /// assert_eq!(t.device(), Device::Cpu);
    /// assert_eq!(t.to_vec_f64(), vec![0.1, 0.1]);
    /// ```
    pub fn full_with(shape: impl Into<Shape>, value: f64, options: TensorOptions) -> Tensor {
        let shape = shape.into();
        let storage = Storage::full(shape.numel(), value, options.dtype, options.device);
        Tensor::from_storage(storage, Layout::contiguous(shape))
    }

    /// Zeros of `shape`.
    pub fn zeros(shape: impl Into<Shape>) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// Zeros of `shape` with `options`' type and device.
    pub fn zeros_with(shape: impl Into<Shape>, options: TensorOptions) -> Tensor {
        Tensor::full_with(shape, 0.0, options)
    }

    /// Ones of `shape`.
    pub fn ones(shape: impl Into<Shape>) -> Tensor {
        Tensor::full(shape, 1.0)
    }

    /// Ones of `shape` with `options`' type and device.
    pub fn ones_with(shape: impl Into<Shape>, options: TensorOptions) -> Tensor {
        Tensor::full_with(shape, 1.0, options)
    }

    /// The type and device of `self`, for making tensors like it.
    pub fn options(&self) -> TensorOptions {
        TensorOptions {
            dtype: self.dtype(),
            device: self.device(),
        }
    }

    /// Zeros with the shape, type and device of `self`.
    pub fn zeros_like(&self) -> Tensor {
        self.full_like(0.0)
    }

    /// Ones with the shape, type and device of `self`.
    pub fn ones_like(&self) -> Tensor {
        self.full_like(1.0)
    }

    /// `value` with the shape, type and device of `self`.
    pub fn full_like(&self, value: f32) -> Tensor {
        Tensor::full_with(self.shape().clone(), value as f64, self.options())
    }

    /// `start, start + step, ...` below `end` (PyTorch's `arange`).
    pub fn arange(start: f32, end: f32, step: f32) -> Tensor {
        assert!(step != 0.0, "arange: step must be non-zero");
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        let data: Vec<f32> = (0..n).map(|i| start + i as f32 * step).collect();
        Tensor::from_data(data, [n])
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive.
    pub fn linspace(start: f32, end: f32, steps: usize) -> Tensor {
        let data: Vec<f32> = match steps {
            0 => vec![],
            1 => vec![start],
            _ => {
                let step = (end - start) / (steps - 1) as f32;
                // Like PyTorch, fill the second half from the end so both endpoints are exact.
                let half = steps / 2;
                (0..steps)
                    .map(|i| {
                        if i < half {
                            start + step * i as f32
                        } else {
                            end - step * (steps - 1 - i) as f32
                        }
                    })
                    .collect()
            }
        };
        Tensor::from_data(data, [steps])
    }

    /// The n×n identity matrix.
    pub fn eye(n: usize) -> Tensor {
        let mut data = vec![0.0; n * n];
        for i in 0..n {
            data[i * n + i] = 1.0;
        }
        Tensor::from_data(data, [n, n])
    }

    /// Uniform samples in [0, 1) from the global generator.
    pub fn rand(shape: impl Into<Shape>) -> Tensor {
        with_rng(|g| Tensor::rand_with(shape, g))
    }

    /// Standard normal samples from the global generator.
    pub fn randn(shape: impl Into<Shape>) -> Tensor {
        with_rng(|g| Tensor::randn_with(shape, g))
    }

    /// Uniform samples in [0, 1) from `gen`.
    pub fn rand_with(shape: impl Into<Shape>, gen: &mut Generator) -> Tensor {
        Tensor::uniform_with(shape.into(), 0.0, 1.0, gen)
    }

    /// Standard normal samples from `gen`.
    pub fn randn_with(shape: impl Into<Shape>, gen: &mut Generator) -> Tensor {
        let shape = shape.into();
        let storage = Storage::normal(shape.numel(), 0.0, 1.0, gen, super::default_device());
        Tensor::from_storage(storage, Layout::contiguous(shape))
    }

    /// Uniform samples in [low, high) from the global generator.
    pub fn uniform(shape: impl Into<Shape>, low: f32, high: f32) -> Tensor {
        with_rng(|g| Tensor::uniform_with(shape.into(), low, high, g))
    }

    /// Uniform samples in [low, high) from `gen`, drawn in order and stored row-major.
    fn uniform_with(shape: Shape, low: f32, high: f32, gen: &mut Generator) -> Tensor {
        let storage = Storage::uniform(shape.numel(), low, high, gen, super::default_device());
        Tensor::from_storage(storage, Layout::contiguous(shape))
    }

    /// A random permutation of `0..n`, from the global generator.
    pub fn randperm(n: usize) -> Vec<usize> {
        with_rng(|g| g.permutation(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_identity() {
        assert_eq!(Tensor::arange(0.0, 5.0, 2.0).to_vec(), vec![0., 2., 4.]);
        assert_eq!(
            Tensor::linspace(0.0, 1.0, 5).to_vec(),
            vec![0., 0.25, 0.5, 0.75, 1.0]
        );
        assert_eq!(Tensor::eye(2).to_vec(), vec![1., 0., 0., 1.]);
        assert_eq!(Tensor::full([2], 3.0).to_vec(), vec![3., 3.]);
    }

    #[test]
    fn seeding_makes_samples_reproducible() {
        crate::manual_seed(3);
        let a = Tensor::randn([4]).to_vec();
        crate::manual_seed(3);
        let b = Tensor::randn([4]).to_vec();
        assert_eq!(a, b);
        let u = Tensor::rand([1000]).to_vec();
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = u.iter().sum::<f32>() / 1000.0;
        assert!((mean - 0.5).abs() < 0.05);
    }
}
