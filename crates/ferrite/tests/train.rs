//! The training loop end to end: learning, validation, modes, callbacks, the NaN guard,
//! reproducibility, evaluate and predict.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ferrite::data::{DataLoader, TensorDataset};
use ferrite::nn::loss::{CrossEntropyLoss, Loss, MSELoss};
use ferrite::nn::{Linear, Module, ReLU, Sequential};
use ferrite::optim::{Adam, AdamConfig, Optimizer, SGDConfig, StepLR, SGD};
use ferrite::train::{
    batches_of, evaluate, fit, load_state_dict, predict, validation_split, Accuracy, EarlyStopping,
    FitOptions, History, LearningRateScheduler, ModelCheckpoint, Monitor, SchedulerStep,
    StopReason,
};
use ferrite::{FerriteError, Generator, Result, Tensor};

/// The centres of the blobs of [`blobs`], one per class.
const CENTRES: [(f32, f32); 3] = [(-2.0, 0.0), (2.0, 0.0), (0.0, 2.5)];
/// The standard deviation of each blob's coordinates.
const SPREAD: f32 = 0.6;

/// Three Gaussian blobs in the plane, `n` points each, labels 0, 1, 2.
fn blobs(n: usize, seed: u64) -> (Tensor, Tensor) {
    let mut gen = Generator::new(seed);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..n {
        for (c, (cx, cy)) in CENTRES.iter().enumerate() {
            let _ = i;
            x.push(cx + SPREAD * gen.normal());
            x.push(cy + SPREAD * gen.normal());
            y.push(c as f32);
        }
    }
    (
        Tensor::from_vec(x, [3 * n, 2]),
        Tensor::from_vec(y, [3 * n]),
    )
}

/// The cross-entropy of the Bayes classifier of the blobs on the points `x` (N, 2) with
/// labels `y` (N), in closed form: with equal priors and one isotropic spread, the true
/// posterior is p(c | x) = softmax_c(−‖x − μ_c‖² / 2σ²). No classifier has a lower expected
/// loss, so a trained model's loss on new points lies just above it.
fn bayes_cross_entropy(x: &Tensor, y: &Tensor) -> f64 {
    let (x, y) = (x.to_vec2(), y.to_vec());
    let total: f64 = x
        .iter()
        .zip(&y)
        .map(|(p, &label)| {
            let logits: Vec<f64> = CENTRES
                .iter()
                .map(|&(cx, cy)| {
                    let (dx, dy) = ((p[0] - cx) as f64, (p[1] - cy) as f64);
                    -(dx * dx + dy * dy) / (2.0 * (SPREAD as f64).powi(2))
                })
                .collect();
            let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = top + logits.iter().map(|l| (l - top).exp()).sum::<f64>().ln();
            log_sum - logits[label as usize]
        })
        .sum();
    total / y.len() as f64
}

/// `in → hidden → ReLU → out`, initialised from `gen` (not the global generator, which
/// other tests in this process use at the same time).
fn mlp(gen: &mut Generator, inputs: usize, hidden: usize, outputs: usize) -> Sequential {
    let layer = |gen: &mut Generator, i: usize, o: usize| {
        let bound = 1.0 / (i as f32).sqrt();
        let w = Tensor::rand_with([o, i], gen)
            .mul_scalar(2.0 * bound)
            .add_scalar(-bound);
        let b = Tensor::rand_with([o], gen)
            .mul_scalar(2.0 * bound)
            .add_scalar(-bound);
        Linear::from_tensors(w, Some(b)).unwrap()
    };
    Sequential::new()
        .add(layer(gen, inputs, hidden))
        .add(ReLU)
        .add(layer(gen, hidden, outputs))
}

fn cross_entropy() -> impl Fn(&Tensor, &Tensor) -> Result<Tensor> {
    let loss = CrossEntropyLoss::new();
    move |o: &Tensor, t: &Tensor| loss.forward(o, t)
}

fn adam(model: &dyn Module, lr: f32) -> Adam {
    Adam::new(
        model.parameters(),
        AdamConfig {
            lr,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Trains the blob classifier with everything seeded; returns the history and final weights.
fn train_blobs(init_seed: u64, shuffle_seed: u64, epochs: usize) -> (History, Vec<Vec<f32>>) {
    let (x, y) = blobs(60, 1);
    let ((xt, yt), (xv, yv)) = validation_split(&x, &y, 0.25).unwrap();
    let mut train = DataLoader::new(TensorDataset::new(xt, yt), 16)
        .unwrap()
        .shuffle(shuffle_seed);
    let mut val = batches_of(&xv, &yv, 64);
    let mut model = mlp(&mut Generator::new(init_seed), 2, 16, 3);
    let mut opt = adam(&model, 0.02);
    let options = FitOptions::new(epochs)
        .accuracy(Accuracy::Multiclass)
        .validation(&mut val);
    let history = fit(&mut model, &cross_entropy(), &mut opt, &mut train, options).unwrap();
    let weights = model.parameters().iter().map(|p| p.to_vec()).collect();
    (history, weights)
}

#[test]
fn fit_learns_to_classify_and_reports_every_epoch() {
    // The blobs are shuffled by class order (0, 1, 2, 0, 1, 2, ...), so the last quarter
    // used for validation has all classes.
    let (history, _) = train_blobs(3, 11, 25);
    assert_eq!(history.epochs.len(), 25);
    assert!(history.stop_reason.is_none());
    let last = history.last().unwrap();
    let (x, y) = blobs(60, 1);
    let ((xt, yt), (xv, yv)) = validation_split(&x, &y, 0.25).unwrap();
    let (bayes_train, bayes_val) = (bayes_cross_entropy(&xt, &yt), bayes_cross_entropy(&xv, &yv));
    // The Bayes classifier's cross-entropy, in closed form, is 0.0150 on the validation
    // points (on new points no classifier does better on average) and 0.0096 on the
    // training ones. The network reaches 0.029 and 0.003 (its own training points it may
    // fit better than Bayes): within 0.03 of the minimum, where a guess scores ln 3 = 1.10.
    assert!((bayes_val - 0.0150).abs() < 1e-4, "Bayes {bayes_val}");
    assert!(
        last.val_loss.unwrap() < bayes_val + 0.03,
        "validation loss {:?}, Bayes {bayes_val}",
        last.val_loss
    );
    assert!(
        last.loss < bayes_train + 0.03,
        "training loss {}, Bayes {bayes_train}",
        last.loss
    );
    assert!(
        last.accuracy.unwrap() > 0.95,
        "training accuracy {:?}",
        last.accuracy
    );
    assert!(
        last.val_accuracy.unwrap() > 0.93,
        "validation accuracy {:?}",
        last.val_accuracy
    );
    assert!(history
        .epochs
        .iter()
        .all(|e| e.val_loss.is_some() && e.lr == 0.02));
    assert_eq!(
        history.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        (1..=25).collect::<Vec<_>>()
    );
    let csv = history.to_csv_string();
    assert_eq!(csv.lines().count(), 26);
    assert!(csv.starts_with("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n1,"));
}

#[test]
fn same_seeds_give_the_same_result() {
    let (h1, w1) = train_blobs(5, 9, 4);
    let (h2, w2) = train_blobs(5, 9, 4);
    assert_eq!(h1.loss(), h2.loss());
    assert_eq!(h1.val_loss(), h2.val_loss());
    assert_eq!(w1, w2);
    // A different shuffle seed visits the batches in another order: another result.
    let (h3, w3) = train_blobs(5, 10, 4);
    assert_ne!(h1.loss(), h3.loss());
    assert_ne!(w1, w3);
}

/// A module that records the mode of every forward call.
struct ModeSpy {
    inner: Linear,
    training: bool,
    seen: Arc<Mutex<Vec<bool>>>,
}

impl Module for ModeSpy {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.seen.lock().unwrap().push(self.training);
        self.inner.forward(x)
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.inner.named_parameters()
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
    fn is_training(&self) -> bool {
        self.training
    }
}

#[test]
fn training_batches_run_in_train_mode_and_validation_in_eval_mode() {
    let x = Tensor::linspace(-1.0, 1.0, 20).reshape([20, 1]);
    let y = &x * 2.0;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let inner = Linear::from_tensors(Tensor::zeros([1, 1]), Some(Tensor::zeros([1]))).unwrap();
    let mut model = ModeSpy {
        inner,
        training: false,
        seen: seen.clone(),
    };
    let mut opt = SGD::new(
        model.parameters(),
        SGDConfig {
            lr: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    let mut train = batches_of(&x, &y, 10); // 2 batches
    let mut val = batches_of(&x, &y, 20); // 1 batch
    let mse = MSELoss::new();
    let loss = |o: &Tensor, t: &Tensor| mse.forward(o, t);
    fit(
        &mut model,
        &loss,
        &mut opt,
        &mut train,
        FitOptions::new(2).validation(&mut val),
    )
    .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![true, true, false, true, true, false]
    );
    assert!(!model.training, "the model ends in the mode it started in");
}

#[test]
fn epoch_loss_is_the_sample_weighted_mean_of_batch_losses() {
    // With lr 0 nothing changes, so the epoch loss must equal the loss over all data even
    // though the last batch is short (7 = 3 + 3 + 1).
    let x = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6., 7.], [7, 1]);
    let y = Tensor::from_vec(vec![0., 1., 0., 3., 2., 9., 4.], [7, 1]);
    let mut model = Linear::from_tensors(
        Tensor::from_vec(vec![0.5], [1, 1]),
        Some(Tensor::from_vec(vec![0.25], [1])),
    )
    .unwrap();
    let mut opt = SGD::new(
        model.parameters(),
        SGDConfig {
            lr: 0.0,
            ..Default::default()
        },
    )
    .unwrap();
    let mse = |o: &Tensor, t: &Tensor| Ok((o - t).square().mean());
    let history = fit(
        &mut model,
        &mse,
        &mut opt,
        &mut batches_of(&x, &y, 3),
        FitOptions::new(1),
    )
    .unwrap();
    // Σ (0.5 x + 0.25 - y)² / 7
    let expected: f64 = [1., 2., 3., 4., 5., 6., 7.]
        .iter()
        .zip([0., 1., 0., 3., 2., 9., 4.])
        .map(|(x, y): (&f64, f64)| (0.5 * x + 0.25 - y).powi(2))
        .sum::<f64>()
        / 7.0;
    assert!(
        (history.epochs[0].loss - expected).abs() < 1e-5,
        "{} vs {expected}",
        history.epochs[0].loss
    );
    let e = evaluate(&mut model, &mse, &mut batches_of(&x, &y, 2), None).unwrap();
    assert!((e.loss - expected).abs() < 1e-5 && e.samples == 7);
}

/// Batches of (inputs, targets).
type Batches = Vec<(Tensor, Tensor)>;

/// A problem where validation gets worse as training goes on: the validation labels are
/// the opposite of the training labels.
fn diverging_validation() -> (Batches, Batches) {
    let (x, y) = blobs(20, 2);
    let wrong = (&y + 1.0) - (&y + 1.0).ge_scalar(3.0) * 3.0; // c -> (c + 1) mod 3
    (batches_of(&x, &y, 20), batches_of(&x, &wrong, 60))
}

#[test]
fn early_stopping_stops_after_patience_and_restores_the_best_weights() {
    let (mut train, mut val) = diverging_validation();
    let mut model = mlp(&mut Generator::new(4), 2, 8, 3);
    let mut opt = adam(&model, 0.05);
    let mut stopper = EarlyStopping::new(Monitor::ValLoss, 3).restore_best_weights(true);
    let options = FitOptions::new(40)
        .validation(&mut val)
        .callback(&mut stopper);
    let history = fit(&mut model, &cross_entropy(), &mut opt, &mut train, options).unwrap();
    let (best, best_epoch) = stopper.best().unwrap();
    let val_losses = history.val_loss();
    assert_eq!(
        history.epochs.len(),
        best_epoch + 3,
        "stops 3 epochs after the best"
    );
    assert!(history.epochs.len() < 40);
    assert_eq!(
        history.stop_reason,
        Some(StopReason::EarlyStopping {
            epoch: best_epoch + 3,
            best_epoch
        })
    );
    assert_eq!(
        best,
        val_losses.iter().cloned().fold(f64::INFINITY, f64::min)
    );
    // The model now holds the best epoch's weights: its validation loss is the best one.
    let (_, mut val) = diverging_validation();
    let now = evaluate(&mut model, &cross_entropy(), &mut val, None)
        .unwrap()
        .loss;
    assert!(
        (now - best).abs() < 1e-6,
        "restored model scores {now}, best epoch scored {best}"
    );
}

#[test]
fn checkpoint_keeps_the_best_model_on_disk() {
    let (mut train, mut val) = diverging_validation();
    let dir = std::env::temp_dir().join(format!("ferrite-train-ckpt-{}", std::process::id()));
    let path: PathBuf = dir.join("best.safetensors");
    let mut model = mlp(&mut Generator::new(4), 2, 8, 3);
    let mut opt = adam(&model, 0.05);
    let mut checkpoint = ModelCheckpoint::new(&path, Monitor::ValLoss);
    let options = FitOptions::new(8)
        .validation(&mut val)
        .callback(&mut checkpoint);
    let history = fit(&mut model, &cross_entropy(), &mut opt, &mut train, options).unwrap();
    let val_losses = history.val_loss();
    let best = val_losses.iter().cloned().fold(f64::INFINITY, f64::min);
    // Saved exactly at the epochs that improved on every earlier one.
    let improving: Vec<usize> = (0..val_losses.len())
        .filter(|&i| val_losses[..i].iter().all(|&v| val_losses[i] < v))
        .map(|i| i + 1)
        .collect();
    assert_eq!(checkpoint.saved_epochs(), improving.as_slice());
    let mut restored = mlp(&mut Generator::new(99), 2, 8, 3);
    load_state_dict(&restored, &path).unwrap();
    let (_, mut val) = diverging_validation();
    let score = evaluate(&mut restored, &cross_entropy(), &mut val, None)
        .unwrap()
        .loss;
    assert!(
        (score - best).abs() < 1e-6,
        "checkpoint scores {score}, best was {best}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exploding_loss_stops_training_with_advice() {
    // Inputs around 100 and lr 1: gradient descent on MSE diverges within a few batches.
    let x = Tensor::linspace(50.0, 150.0, 64).reshape([64, 1]);
    let y = &x * 3.0;
    let mut model = Linear::from_tensors(Tensor::zeros([1, 1]), Some(Tensor::zeros([1]))).unwrap();
    let mut opt = SGD::new(
        model.parameters(),
        SGDConfig {
            lr: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let mse = |o: &Tensor, t: &Tensor| Ok((o - t).square().mean());
    let err = fit(
        &mut model,
        &mse,
        &mut opt,
        &mut batches_of(&x, &y, 8),
        FitOptions::new(50),
    )
    .unwrap_err();
    let message = err.to_string();
    let FerriteError::Diverged {
        epoch,
        batch,
        value,
        history,
    } = err
    else {
        panic!("expected divergence, got {message}")
    };
    assert!(!value.is_finite());
    assert_eq!(
        history.epochs.len(),
        epoch - 1,
        "the epoch with the bad batch is not recorded"
    );
    assert!((1..=8).contains(&batch));
    assert!(
        message.contains("diverged")
            && message.contains("smaller learning rate")
            && message.contains("gradient clipping"),
        "{message}"
    );
    // The bad step was not applied: the weights are those before it, finite.
    assert!(model
        .parameters()
        .iter()
        .all(|p| p.to_vec().iter().all(|v| v.is_finite())));
}

#[test]
fn clip_grad_norm_in_fit_scales_the_step_to_the_norm() {
    // One sample x = 100, y = 300, from w = b = 0: the MSE gradient is
    // (dw, db) = (2 * (0 - 300) * 100, 2 * (0 - 300)) = (-60000, -600), norm 60003.0;
    // clipped to norm 1 and applied with lr 1: w = 60000 / n, b = 600 / n.
    let x = Tensor::from_vec(vec![100.0], [1, 1]);
    let y = Tensor::from_vec(vec![300.0], [1, 1]);
    let mut model = Linear::from_tensors(Tensor::zeros([1, 1]), Some(Tensor::zeros([1]))).unwrap();
    let mut opt = SGD::new(
        model.parameters(),
        SGDConfig {
            lr: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let mse = |o: &Tensor, t: &Tensor| Ok((o - t).square().mean());
    fit(
        &mut model,
        &mse,
        &mut opt,
        &mut batches_of(&x, &y, 1),
        FitOptions::new(1).clip_grad_norm(1.0),
    )
    .unwrap();
    let n = (60000.0f64 * 60000.0 + 600.0 * 600.0).sqrt() + 1e-6;
    let params = model.parameters();
    let (w, b) = (params[0].to_vec()[0] as f64, params[1].to_vec()[0] as f64);
    assert!((w - 60000.0 / n).abs() < 1e-6, "w = {w}");
    assert!((b - 600.0 / n).abs() < 1e-7, "b = {b}");
}

#[test]
fn schedulers_set_the_learning_rate_of_each_epoch() {
    let x = Tensor::linspace(-1.0, 1.0, 8).reshape([8, 1]);
    let y = &x * 2.0;
    let mse = |o: &Tensor, t: &Tensor| Ok((o - t).square().mean());
    let mut model = Linear::from_tensors(Tensor::zeros([1, 1]), Some(Tensor::zeros([1]))).unwrap();
    let mut opt = SGD::new(
        model.parameters(),
        SGDConfig {
            lr: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    let step = StepLR::new(&opt, 2, 0.5).unwrap();
    let options = FitOptions::new(5).callback(SchedulerStep::new(step));
    let history = fit(
        &mut model,
        &mse,
        &mut opt,
        &mut batches_of(&x, &y, 4),
        options,
    )
    .unwrap();
    let lrs: Vec<f64> = history.metric("lr");
    let expected = [0.1, 0.1, 0.05, 0.05, 0.025];
    assert!(
        lrs.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-7),
        "{lrs:?}"
    );
    // Keras-style closure: lr / (1 + epoch).
    let mut opt = SGD::new(
        model.parameters(),
        SGDConfig {
            lr: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let decay = LearningRateScheduler::new(|epoch, _lr, _| 1.0 / (1.0 + epoch as f32));
    let history = fit(
        &mut model,
        &mse,
        &mut opt,
        &mut batches_of(&x, &y, 4),
        FitOptions::new(3).callback(decay),
    )
    .unwrap();
    assert_eq!(history.metric("lr"), vec![1.0, 0.5, (1.0f32 / 3.0) as f64]);
    assert_eq!(opt.lr(), 0.25);
}

#[test]
fn predict_concatenates_batches_in_eval_mode() {
    let mut model = mlp(&mut Generator::new(8), 2, 5, 3);
    let (x, _) = blobs(7, 3); // 21 rows: batches of 4 leave a short one
    let out = predict(&mut model, &x, 4);
    assert_eq!(out.dims(), &[21, 3]);
    let direct = model.forward(&x).to_vec();
    assert!(out
        .to_vec()
        .iter()
        .zip(direct)
        .all(|(a, b)| (a - b).abs() < 1e-6));
    assert!(!out.requires_grad_flag(), "predictions carry no graph");
}

#[test]
fn accuracy_counts_follow_each_kind() {
    let logits = Tensor::from_vec(vec![2.0, 0.1, 0.3, 0.2, 3.0, 0.1, 0.0, 0.0, 1.0], [3, 3]);
    assert_eq!(
        Accuracy::Multiclass.correct(&logits, &Tensor::from_vec(vec![0.0, 1.0, 1.0], [3])),
        2
    );
    let one_hot = Tensor::from_vec(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], [3, 3]);
    assert_eq!(Accuracy::Multiclass.correct(&logits, &one_hot), 3);
    let z = Tensor::from_vec(vec![-1.0, 0.5, 2.0, -0.1], [4, 1]);
    let t = Tensor::from_vec(vec![0.0, 1.0, 0.0, 1.0], [4, 1]);
    assert_eq!(Accuracy::BinaryLogits.correct(&z, &t), 2);
    let p = Tensor::from_vec(vec![0.2, 0.5, 0.9, 0.49], [4]);
    assert_eq!(Accuracy::BinaryProbabilities.correct(&p, &t), 2);
}

#[test]
fn validation_split_takes_the_last_fraction_like_keras() {
    let x = Tensor::arange(0.0, 10.0, 1.0).reshape([10, 1]);
    let y = Tensor::arange(0.0, 10.0, 1.0);
    let ((xt, yt), (xv, yv)) = validation_split(&x, &y, 0.2).unwrap();
    assert_eq!(xt.dims(), &[8, 1]);
    assert_eq!(yt.to_vec(), (0..8).map(|v| v as f32).collect::<Vec<_>>());
    assert_eq!((xv.to_vec(), yv.to_vec()), (vec![8.0, 9.0], vec![8.0, 9.0]));
    assert!(validation_split(&x, &y, 1.5).is_err());
    assert!(
        validation_split(&x, &y, 0.95).is_err(),
        "a split that leaves no training samples is refused"
    );
}

#[test]
fn loss_errors_and_empty_data_are_reported_not_panicked() {
    let mut model = mlp(&mut Generator::new(1), 2, 4, 3);
    let mut opt = adam(&model, 0.01);
    let x = Tensor::zeros([4, 2]);
    let bad_targets = Tensor::from_vec(vec![0.0, 1.0, 7.0, 2.0], [4]); // class 7 of 3
    let err = fit(
        &mut model,
        &cross_entropy(),
        &mut opt,
        &mut batches_of(&x, &bad_targets, 4),
        FitOptions::new(1),
    )
    .unwrap_err();
    assert!(err.to_string().contains('7'), "{err}");
    assert!(model.is_training(), "the mode is restored after an error");
    let mut empty: Vec<(Tensor, Tensor)> = Vec::new();
    assert!(fit(
        &mut model,
        &cross_entropy(),
        &mut opt,
        &mut empty,
        FitOptions::new(1)
    )
    .is_err());
    assert!(evaluate(&mut model, &cross_entropy(), &mut empty, None).is_err());
}

#[test]
fn verbose_modes_run_and_early_stopping_needs_a_computed_metric() {
    let (mut train, _) = diverging_validation();
    let mut model = mlp(&mut Generator::new(2), 2, 4, 3);
    let mut opt = adam(&model, 0.01);
    for verbose in [1, 2] {
        let options = FitOptions::new(2)
            .verbose(verbose)
            .accuracy(Accuracy::Multiclass);
        let h = fit(&mut model, &cross_entropy(), &mut opt, &mut train, options).unwrap();
        assert_eq!(h.epochs.len(), 2);
    }
    // Monitoring val_loss without validation data is an error naming the metric.
    let options = FitOptions::new(2).callback(EarlyStopping::new(Monitor::ValLoss, 1));
    let err = fit(&mut model, &cross_entropy(), &mut opt, &mut train, options).unwrap_err();
    assert!(err.to_string().contains("val_loss"), "{err}");
}
