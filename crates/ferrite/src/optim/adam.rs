//! Adam (with AMSGrad and L2 weight decay) and AdamW (decoupled weight decay).

use super::{build_groups, check, impl_group_access, param_grad, Group, Optimizer, ParamGroup};
use crate::backend::AdamStep;
use crate::error::Result;
use crate::Tensor;

/// Adam's hyper-parameters (PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no
/// weight decay, no AMSGrad).
#[derive(Clone, Copy, Debug)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f32,
    /// Decay rates (β1, β2) of the first and second moments.
    pub betas: (f32, f32),
    /// Added to the denominator for stability.
    pub eps: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    /// Use the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
        }
    }
}

/// AdamW's hyper-parameters: Adam's, with decoupled weight decay defaulting to 1e-2.
#[derive(Clone, Copy, Debug)]
pub struct AdamWConfig {
    /// Learning rate.
    pub lr: f32,
    /// Decay rates (β1, β2) of the first and second moments.
    pub betas: (f32, f32),
    /// Added to the denominator for stability.
    pub eps: f32,
    /// Decoupled decay: `p *= 1 − lr·weight_decay` before each update.
    pub weight_decay: f32,
    /// Use the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
        }
    }
}

/// Per-parameter state: step count and moment buffers on the parameter's device, made on
/// its first step (PyTorch's `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`).
#[derive(Default)]
struct AdamState {
    step: i32,
    moments: Option<Moments>,
}

/// Adam's buffers for one parameter.
struct Moments {
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    /// The running maximum of `exp_avg_sq`, with AMSGrad.
    max_exp_avg_sq: Option<Tensor>,
}

fn check_adam(lr: f32, betas: (f32, f32), eps: f32) -> Result<()> {
    check(lr >= 0.0, "lr", format!("Invalid learning rate: {lr}"))?;
    check(eps >= 0.0, "eps", format!("Invalid epsilon value: {eps}"))?;
    check(
        (0.0..1.0).contains(&betas.0),
        "betas",
        format!("Invalid beta parameter at index 0: {}", betas.0),
    )?;
    check(
        (0.0..1.0).contains(&betas.1),
        "betas",
        format!("Invalid beta parameter at index 1: {}", betas.1),
    )
}

/// One Adam/AdamW step over all groups; `decoupled` selects AdamW's weight decay.
fn adam_step(
    groups: &mut [Group<AdamState>],
    betas: (f32, f32),
    eps: f32,
    amsgrad: bool,
    decoupled: bool,
) {
    let (b1, b2) = betas;
    for group in groups {
        let (lr, wd) = (group.lr, group.weight_decay);
        for (p, st) in group.params.iter().zip(&mut group.state) {
            let Some(grad) = param_grad(p) else { continue };
            let moments = st.moments.get_or_insert_with(|| Moments {
                exp_avg: p.zeros_like(),
                exp_avg_sq: p.zeros_like(),
                max_exp_avg_sq: amsgrad.then(|| p.zeros_like()),
            });
            st.step += 1;
            // Bias corrections in f64, as PyTorch computes them in Python floats.
            let bc1 = 1.0 - (b1 as f64).powi(st.step);
            let bc2 = 1.0 - (b2 as f64).powi(st.step);
            let s = AdamStep {
                beta1: b1,
                beta2: b2,
                eps,
                l2: if decoupled { 0.0 } else { wd },
                step_size: (lr as f64 / bc1) as f32,
                bias_correction2_sqrt: bc2.sqrt() as f32,
                decay_factor: if decoupled { 1.0 - lr * wd } else { 1.0 },
            };
            let g = grad.storage();
            let mut vmax = moments.max_exp_avg_sq.as_ref().map(|t| t.storage_mut());
            p.storage_mut().adam_step(
                p.layout(),
                (&g, grad.layout()),
                &mut moments.exp_avg.storage_mut(),
                &mut moments.exp_avg_sq.storage_mut(),
                vmax.as_deref_mut(),
                s,
            );
        }
    }
}

/// Adam: `g = grad + wd·p; m = β1m + (1−β1)g; v = β2v + (1−β2)g²; v̂ = amsgrad ? max(v̂, v)
/// : v; p −= lr/(1−β1ᵗ) · m / (√v̂/√(1−β2ᵗ) + eps)` (PyTorch's `torch.optim.Adam`).
///
/// ```
/// use ferrite::optim::{Adam, AdamConfig, Optimizer};
/// use ferrite::Tensor;
/// let w = Tensor::from_vec(vec![1.0, -1.0], [2]).requires_grad();
/// let mut opt = Adam::new(vec![w.clone()], AdamConfig { lr: 0.1, ..Default::default() }).unwrap();
/// w.square().sum().backward();
/// opt.step();
/// // The first Adam step moves each weight by lr against the gradient's sign.
/// let v = w.to_vec();
/// assert!((v[0] - 0.9).abs() < 1e-6 && (v[1] + 0.9).abs() < 1e-6);
/// ```
pub struct Adam {
    groups: Vec<Group<AdamState>>,
    config: AdamConfig,
}

impl Adam {
    /// Adam over `params`.
    pub fn new(params: Vec<Tensor>, config: AdamConfig) -> Result<Adam> {
        Adam::with_groups(vec![ParamGroup::new(params)], config)
    }

    /// Adam over parameter groups with their own learning rates or weight decay.
    pub fn with_groups(groups: Vec<ParamGroup>, config: AdamConfig) -> Result<Adam> {
        check_adam(config.lr, config.betas, config.eps)?;
        Ok(Adam {
            groups: build_groups(groups, config.lr, config.weight_decay)?,
            config,
        })
    }
}

impl Optimizer for Adam {
    fn step(&mut self) {
        let c = self.config;
        adam_step(&mut self.groups, c.betas, c.eps, c.amsgrad, false);
    }
    impl_group_access!();
}

/// AdamW: `p *= 1 − lr·wd`, then Adam without the L2 term (PyTorch's `torch.optim.AdamW`).
pub struct AdamW {
    groups: Vec<Group<AdamState>>,
    config: AdamWConfig,
}

impl AdamW {
    /// AdamW over `params`.
    pub fn new(params: Vec<Tensor>, config: AdamWConfig) -> Result<AdamW> {
        AdamW::with_groups(vec![ParamGroup::new(params)], config)
    }

    /// AdamW over parameter groups with their own learning rates or weight decay.
    pub fn with_groups(groups: Vec<ParamGroup>, config: AdamWConfig) -> Result<AdamW> {
        check_adam(config.lr, config.betas, config.eps)?;
        Ok(AdamW {
            groups: build_groups(groups, config.lr, config.weight_decay)?,
            config,
        })
    }
}

impl Optimizer for AdamW {
    fn step(&mut self) {
        let c = self.config;
        adam_step(&mut self.groups, c.betas, c.eps, c.amsgrad, true);
    }
    impl_group_access!();
}
