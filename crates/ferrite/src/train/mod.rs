//! Training: the [`fit`] loop with validation and [`History`], callbacks (early stopping,
//! checkpoints, learning-rate schedules), progress reports, and model files (safetensors
//! weights with PyTorch's names plus a JSON [`ModelCard`]).
//!
//! ```
//! use ferrite::nn::Module;
//! use ferrite::optim::{SGDConfig, SGD};
//! use ferrite::train::{batches_of, fit, FitOptions};
//! use ferrite::Tensor;
//!
//! /// y = w·x, one weight.
//! struct Scale(Tensor);
//! impl Module for Scale {
//!     fn forward(&self, x: &Tensor) -> Tensor { x * &self.0 }
//!     fn named_parameters(&self) -> Vec<(String, Tensor)> { vec![("weight".into(), self.0.clone())] }
//! }
//!
//! let x = Tensor::linspace(-1.0, 1.0, 32);
//! let y = &x * 3.0;
//! let mut model = Scale(Tensor::scalar(0.0).requires_grad());
//! let mut opt = SGD::new(model.parameters(), SGDConfig { lr: 0.5, ..Default::default() }).unwrap();
//! let mut train = batches_of(&x, &y, 8);
//! let mse = |o: &Tensor, t: &Tensor| Ok((o - t).square().mean());
//! let history = fit(&mut model, &mse, &mut opt, &mut train, FitOptions::new(30)).unwrap();
//! assert!(history.loss().last().unwrap() < &1e-6);
//! assert!((model.0.item() - 3.0).abs() < 1e-3);
//! ```

mod callbacks;
mod fit;
mod history;
mod model_file;
mod progress;

pub use callbacks::{
    Callback, Control, EarlyStopping, LearningRateScheduler, ModelCheckpoint, Monitor, PlateauStep,
    SchedulerStep,
};
pub use fit::{
    batches_of, evaluate, fit, predict, validation_split, Accuracy, BatchSource, Evaluation,
    FitOptions,
};
pub use history::{EpochMetrics, History, StopReason};
pub use model_file::{
    card_path, load_model, load_state_dict, load_tensors_into, parse_safetensors, read_safetensors,
    restore_state, save_model, save_state_dict, serialize_state_dict, snapshot_state, state_dict,
    write_atomic, ModelCard,
};
pub use progress::epoch_line;
