//! Batch normalisation layers `BatchNorm1d` and `BatchNorm2d`, with PyTorch's running
//! statistics: in training the batch's statistics normalise and the running ones are updated
//! (`r ← (1 − momentum)·r + momentum·stat`, unbiased variance); in evaluation the running ones
//! normalise.

use super::Module;
use crate::error::{FerriteError, Result};
use crate::Tensor;

/// The hyper-parameters of a batch-norm layer (PyTorch's defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormOptions {
    /// Added to the variance before the square root (1e-5).
    pub eps: f32,
    /// Weight of the newest batch in the running statistics (0.1); `None` averages all
    /// batches seen so far equally (PyTorch's `momentum=None`).
    pub momentum: Option<f32>,
    /// Learn a per-channel scale `weight` and shift `bias` (true).
    pub affine: bool,
    /// Keep running statistics for evaluation (true); without them the batch's statistics are
    /// used in evaluation too.
    pub track_running_stats: bool,
}

impl Default for BatchNormOptions {
    fn default() -> Self {
        BatchNormOptions {
            eps: 1e-5,
            momentum: Some(0.1),
            affine: true,
            track_running_stats: true,
        }
    }
}

impl BatchNormOptions {
    /// Checks the options of layer `name`; errors name the layer, the parameter and the value.
    fn validate(&self, name: &str, num_features: usize) -> Result<()> {
        let bad = |param: &str, message: String| {
            Err(FerriteError::invalid(format!("{name} {param}"), message))
        };
        if num_features == 0 {
            return bad("num_features", "must be at least 1, got 0".into());
        }
        if !(self.eps >= 0.0 && self.eps.is_finite()) {
            return bad(
                "eps",
                format!("must be a non-negative number, got {}", self.eps),
            );
        }
        if let Some(m) = self.momentum {
            if !(0.0..=1.0).contains(&m) {
                return bad("momentum", format!("must be between 0 and 1, got {m}"));
            }
        }
        Ok(())
    }
}

/// The state shared by [`BatchNorm1d`] and [`BatchNorm2d`].
pub struct BatchNormState {
    /// Per-channel scale γ (ones at start), requires grad; `None` without `affine`.
    pub weight: Option<Tensor>,
    /// Per-channel shift β (zeros at start), requires grad; `None` without `affine`.
    pub bias: Option<Tensor>,
    /// Running mean (zeros at start); `None` without `track_running_stats`.
    pub running_mean: Option<Tensor>,
    /// Running variance (ones at start); `None` without `track_running_stats`.
    pub running_var: Option<Tensor>,
    /// Batches seen in training (a one-element tensor, saved with the model as PyTorch does).
    pub num_batches_tracked: Option<Tensor>,
    /// The hyper-parameters.
    pub options: BatchNormOptions,
    training: bool,
}

impl BatchNormState {
    fn new(name: &str, num_features: usize, options: BatchNormOptions) -> Result<Self> {
        options.validate(name, num_features)?;
        let (affine, track) = (options.affine, options.track_running_stats);
        Ok(BatchNormState {
            weight: affine.then(|| Tensor::ones([num_features]).requires_grad()),
            bias: affine.then(|| Tensor::zeros([num_features]).requires_grad()),
            running_mean: track.then(|| Tensor::zeros([num_features])),
            running_var: track.then(|| Tensor::ones([num_features])),
            num_batches_tracked: track.then(|| Tensor::zeros(())),
            options,
            training: true,
        })
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let o = &self.options;
        let track = o.track_running_stats;
        let use_batch_stats = self.training || !track;
        let mut momentum = 0.0;
        if self.training && track {
            let tracked = self
                .num_batches_tracked
                .as_ref()
                .expect("tracked batch count");
            // In place and outside the graph: the counter is a buffer, not a parameter.
            tracked.add_assign_detached(&tracked.ones_like());
            // momentum=None: cumulative average, the newest batch weighs 1/batches
            momentum = o.momentum.unwrap_or_else(|| 1.0 / tracked.item());
        }
        let (rm, rv) = if track {
            (self.running_mean.as_ref(), self.running_var.as_ref())
        } else {
            (None, None)
        };
        x.batch_norm(
            rm,
            rv,
            self.weight.as_ref(),
            self.bias.as_ref(),
            use_batch_stats,
            momentum,
            o.eps,
        )
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut p = Vec::new();
        if let (Some(w), Some(b)) = (&self.weight, &self.bias) {
            p.push(("weight".to_string(), w.clone()));
            p.push(("bias".to_string(), b.clone()));
        }
        p
    }

    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        let mut b = Vec::new();
        if let (Some(m), Some(v), Some(n)) = (
            &self.running_mean,
            &self.running_var,
            &self.num_batches_tracked,
        ) {
            b.push(("running_mean".to_string(), m.clone()));
            b.push(("running_var".to_string(), v.clone()));
            b.push(("num_batches_tracked".to_string(), n.clone()));
        }
        b
    }

    fn num_features(&self) -> usize {
        self.weight
            .as_ref()
            .or(self.running_mean.as_ref())
            .map_or(0, |t| t.numel())
    }

    fn describe(&self, name: &str, num_features: usize) -> String {
        let o = &self.options;
        let py = |b: bool| if b { "True" } else { "False" };
        let momentum = o.momentum.map_or("None".to_string(), |m| m.to_string());
        format!(
            "{name}({num_features}, eps={}, momentum={momentum}, affine={}, track_running_stats={})",
            o.eps,
            py(o.affine),
            py(o.track_running_stats)
        )
    }
}

macro_rules! batch_norm_layer {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        pub struct $name {
            /// Parameters, running statistics and options.
            pub state: BatchNormState,
            num_features: usize,
        }

        impl $name {
            /// A layer over `num_features` channels with PyTorch's defaults (eps 1e-5,
            /// momentum 0.1, affine, tracking running statistics).
            pub fn new(num_features: usize) -> Result<Self> {
                Self::with_options(num_features, BatchNormOptions::default())
            }

            /// A layer with the given options; zero features, a negative `eps` or a momentum
            /// outside `[0, 1]` are errors.
            pub fn with_options(num_features: usize, options: BatchNormOptions) -> Result<Self> {
                let state = BatchNormState::new(stringify!($name), num_features, options)?;
                Ok($name { state, num_features })
            }

            /// The number of channels.
            pub fn num_features(&self) -> usize {
                self.num_features
            }
        }

        impl Module for $name {
            fn forward(&self, x: &Tensor) -> Tensor {
                let check: fn(&Tensor) = $check;
                check(x);
                assert!(
                    x.dims()[1] == self.num_features,
                    "{}: running_mean should contain {} elements not {} (input shape {:?})",
                    stringify!($name),
                    x.dims()[1],
                    self.num_features,
                    x.dims()
                );
                self.state.forward(x)
            }

            fn named_parameters(&self) -> Vec<(String, Tensor)> {
                self.state.named_parameters()
            }

            fn named_buffers(&self) -> Vec<(String, Tensor)> {
                self.state.named_buffers()
            }

            fn set_training(&mut self, training: bool) {
                self.state.training = training;
            }

            fn is_training(&self) -> bool {
                self.state.training
            }

            fn describe(&self) -> String {
                debug_assert_eq!(self.state.num_features(), self.num_features);
                self.state.describe(stringify!($name), self.num_features)
            }
        }
    };
}

batch_norm_layer!(
    /// Batch normalisation of `(N, C)` or `(N, C, L)`: each of the `C` features normalised
    /// over the batch (and positions), then scaled and shifted (PyTorch's `nn.BatchNorm1d`).
    ///
    /// # Shape
    ///
    /// - Input: `(N, C)` or `(N, C, L)`, `C = num_features`.
    /// - Output: the input's shape.
    ///
    /// ```
    /// use ferrite::nn::{BatchNorm1d, Module};
    /// use ferrite::Tensor;
    /// let mut bn = BatchNorm1d::new(2).unwrap();
    /// let x = Tensor::from_vec(vec![1.0, 10.0, 3.0, 30.0], [2, 2]);
    /// let y = bn.forward(&x).to_vec();
    /// // each column becomes (−1, 1) up to eps
    /// assert!((y[0] + 1.0).abs() < 1e-4 && (y[3] - 1.0).abs() < 1e-4);
    /// bn.eval();
    /// assert_eq!(bn.forward(&x).dims(), &[2, 2]);
    /// // one value per channel in training is an error, as in PyTorch
    /// bn.train();
    /// assert!(std::panic::catch_unwind(|| bn.forward(&Tensor::zeros([1, 2]))).is_err());
    /// ```
    BatchNorm1d,
    |x| assert!(x.rank() == 2 || x.rank() == 3, "BatchNorm1d: expected 2D or 3D input (got {}D input)", x.rank())
);

batch_norm_layer!(
    /// Batch normalisation of `(N, C, H, W)`: each channel normalised over the batch and the
    /// image, then scaled and shifted (PyTorch's `nn.BatchNorm2d`).
    ///
    /// # Shape
    ///
    /// - Input: `(N, C, H, W)`, `C = num_features`.
    /// - Output: the input's shape.
    ///
    /// ```
    /// use ferrite::nn::{BatchNorm2d, Module};
    /// use ferrite::Tensor;
    /// ferrite::manual_seed(0);
    /// let bn = BatchNorm2d::new(3).unwrap();
    /// let y = bn.forward(&(Tensor::randn([4, 3, 5, 5]) * 3.0 + 2.0));
    /// let mean = y.mean_dims(&[0, 2, 3], false).to_vec();
    /// assert!(mean.iter().all(|m| m.abs() < 1e-5));
    /// let names: Vec<String> = bn.state_dict().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    /// ```
    BatchNorm2d,
    |x| assert!(x.rank() == 4, "BatchNorm2d: expected 4D input (got {}D input)", x.rank())
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_momentum_and_untracked_statistics() {
        // momentum None: running mean is the plain average of the batch means.
        let bn = BatchNorm1d::with_options(
            1,
            BatchNormOptions {
                momentum: None,
                ..Default::default()
            },
        )
        .unwrap();
        bn.forward(&Tensor::from_vec(vec![1.0, 3.0], [2, 1]));
        bn.forward(&Tensor::from_vec(vec![5.0, 7.0], [2, 1]));
        assert!((bn.state.running_mean.as_ref().unwrap().item() - 4.0).abs() < 1e-6);
        assert_eq!(bn.state.num_batches_tracked.as_ref().unwrap().item(), 2.0);
        // Without running statistics, evaluation still normalises with the batch.
        let mut free = BatchNorm1d::with_options(
            1,
            BatchNormOptions {
                track_running_stats: false,
                affine: false,
                ..Default::default()
            },
        )
        .unwrap();
        free.eval();
        let y = free
            .forward(&Tensor::from_vec(vec![2.0, 4.0], [2, 1]))
            .to_vec();
        assert!((y[0] + 1.0).abs() < 1e-4);
        assert!(free.named_parameters().is_empty() && free.named_buffers().is_empty());
        let e = BatchNorm2d::with_options(
            3,
            BatchNormOptions {
                momentum: Some(1.5),
                ..Default::default()
            },
        )
        .err()
        .expect("an error")
        .to_string();
        assert_eq!(
            e,
            "invalid BatchNorm2d momentum: must be between 0 and 1, got 1.5"
        );
        let e = BatchNorm1d::new(0).err().expect("an error").to_string();
        assert_eq!(
            e,
            "invalid BatchNorm1d num_features: must be at least 1, got 0"
        );
        assert_eq!(
            BatchNorm2d::new(4).unwrap().describe(),
            "BatchNorm2d(4, eps=0.00001, momentum=0.1, affine=True, track_running_stats=True)"
        );
    }
}
