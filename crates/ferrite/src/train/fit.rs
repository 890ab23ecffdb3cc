//! The training loop: [`fit`], [`evaluate`] and [`predict`], with Keras's meanings.

use super::callbacks::{Callback, Control};
use super::history::{EpochMetrics, History};
use super::progress::EpochProgress;
use std::rc::Rc;

use crate::distributed::{Communicator, GradientReducer, ReduceOp, BUCKET_BYTES};
use crate::error::{FerriteError, Result};
use crate::nn::Module;
use crate::optim::{clip_grad_norm, Optimizer};
use crate::Tensor;

/// Anything that yields the `(inputs, targets)` batches of one epoch, again every epoch: a
/// [`DataLoader`](crate::data::DataLoader), or a `Vec` of batches made in advance.
pub trait BatchSource {
    /// The number of batches in one epoch (for the progress bar).
    fn num_batches(&self) -> usize;
    /// The batches of one epoch.
    fn epoch_batches(&mut self) -> Box<dyn Iterator<Item = (Tensor, Tensor)> + '_>;
    /// Makes every later epoch yield only rank `rank`'s share of the samples when
    /// `world_size` ranks train together (PyTorch's `DistributedSampler`); distributed
    /// [`fit`] calls it. Sources that cannot be split say so with an error.
    fn set_shard(&mut self, rank: usize, world_size: usize) -> Result<()> {
        let _ = rank;
        Err(FerriteError::invalid(
            "training data",
            format!(
                "this batch source cannot be split across {world_size} ranks; train from a \
                 DataLoader, which gives each rank its shard of every epoch"
            ),
        ))
    }
}

impl<D: crate::data::Dataset> BatchSource for crate::data::DataLoader<D> {
    fn num_batches(&self) -> usize {
        self.len()
    }
    fn epoch_batches(&mut self) -> Box<dyn Iterator<Item = (Tensor, Tensor)> + '_> {
        Box::new(self.iter())
    }
    fn set_shard(&mut self, rank: usize, world_size: usize) -> Result<()> {
        crate::data::DataLoader::set_shard(self, rank, world_size)
    }
}

impl BatchSource for Vec<(Tensor, Tensor)> {
    fn num_batches(&self) -> usize {
        self.len()
    }
    fn epoch_batches(&mut self) -> Box<dyn Iterator<Item = (Tensor, Tensor)> + '_> {
        Box::new(self.iter().cloned())
    }
}

/// Splits `x` and `y` along the first dimension into consecutive batches of `batch_size`
/// (the last one shorter), in order: a fixed [`BatchSource`] for evaluation or small data.
pub fn batches_of(x: &Tensor, y: &Tensor, batch_size: usize) -> Vec<(Tensor, Tensor)> {
    assert!(batch_size > 0, "batches_of: batch_size must be positive");
    assert_eq!(
        x.dims()[0],
        y.dims()[0],
        "batches_of: x has {} samples but y has {}",
        x.dims()[0],
        y.dims()[0]
    );
    x.split(batch_size, 0)
        .into_iter()
        .zip(y.split(batch_size, 0))
        .collect()
}

/// Keras's `validation_split`: the last `fraction` of the samples (before any shuffling)
/// become validation data. Returns `((x_train, y_train), (x_val, y_val))`.
pub fn validation_split(
    x: &Tensor,
    y: &Tensor,
    fraction: f64,
) -> Result<((Tensor, Tensor), (Tensor, Tensor))> {
    if !(0.0..1.0).contains(&fraction) || fraction == 0.0 {
        return Err(FerriteError::invalid(
            "validation_split",
            format!("must be in (0, 1), got {fraction}"),
        ));
    }
    let n = x.dims()[0];
    if y.dims()[0] != n {
        return Err(FerriteError::invalid(
            "validation_split",
            format!("x has {n} samples but y has {}", y.dims()[0]),
        ));
    }
    // Keras: split_at = int(n * (1 - fraction)).
    let split_at = (n as f64 * (1.0 - fraction)) as usize;
    if split_at == 0 || split_at == n {
        return Err(FerriteError::invalid(
            "validation_split",
            format!("{fraction} of {n} samples leaves an empty training or validation set"),
        ));
    }
    let part = |t: &Tensor, a: usize, b: usize| t.narrow(0, a, b - a).detach_copy();
    Ok((
        (part(x, 0, split_at), part(y, 0, split_at)),
        (part(x, split_at, n), part(y, split_at, n)),
    ))
}

/// How to count correct predictions, for the `accuracy` metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accuracy {
    /// Outputs `(N, C)` scores; targets `(N)` class indices or `(N, C)` one-hot /
    /// probabilities. Correct when the arg-max classes agree.
    Multiclass,
    /// Outputs are logits `(N)` or `(N, 1)`; predicted class 1 when the logit is > 0.
    BinaryLogits,
    /// Outputs are probabilities `(N)` or `(N, 1)`; predicted class 1 when >= 0.5.
    BinaryProbabilities,
}

impl Accuracy {
    /// The number of correct predictions in a batch.
    pub fn correct(self, output: &Tensor, target: &Tensor) -> usize {
        let _no_grad = crate::no_grad();
        let hits = match self {
            Accuracy::Multiclass => {
                assert_eq!(
                    output.rank(),
                    2,
                    "Accuracy::Multiclass: outputs must be (N, C), got {:?}",
                    output.dims()
                );
                let predicted = output.argmax(1, false);
                let truth = if target.dims() == output.dims() {
                    target.argmax(1, false)
                } else {
                    target.reshape([target.numel()])
                };
                predicted.eq(&truth)
            }
            Accuracy::BinaryLogits | Accuracy::BinaryProbabilities => {
                assert_eq!(
                    output.numel(),
                    target.numel(),
                    "Accuracy: {} outputs but {} targets",
                    output.numel(),
                    target.numel()
                );
                let threshold_hit = if self == Accuracy::BinaryLogits {
                    output.gt_scalar(0.0)
                } else {
                    output.ge_scalar(0.5)
                };
                threshold_hit
                    .reshape([output.numel()])
                    .eq(&target.ge_scalar(0.5).reshape([target.numel()]))
            }
        };
        hits.sum().item().round() as usize
    }
}

/// How to train: epochs, what to print, what to measure, validation data and callbacks.
///
/// ```
/// use ferrite::train::{Accuracy, FitOptions};
/// let options = FitOptions::new(20).verbose(2).accuracy(Accuracy::Multiclass);
/// # let _ = options;
/// ```
pub struct FitOptions<'a> {
    /// The number of passes over the training batches.
    pub epochs: usize,
    /// 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
    pub verbose: u8,
    /// Measure accuracy too (classification).
    pub accuracy: Option<Accuracy>,
    /// Batches evaluated after every epoch in eval mode.
    pub validation: Option<&'a mut dyn BatchSource>,
    /// Run after every epoch, in order.
    pub callbacks: Vec<Box<dyn Callback + 'a>>,
    /// End training with [`FerriteError::Diverged`] as soon as a batch loss is NaN or
    /// infinite (on by default).
    pub stop_on_non_finite: bool,
    /// Clip the global 2-norm of the gradients to this value before every optimizer step
    /// (PyTorch's `clip_grad_norm_(model.parameters(), max_norm)`).
    pub clip_grad_norm: Option<f32>,
    /// Train data-parallel across the ranks of this communicator (see
    /// [`crate::distributed`]); `None` uses this thread's default group, if
    /// [`init_process_group`](crate::distributed::init_process_group) set one.
    pub communicator: Option<Rc<dyn Communicator>>,
}

impl<'a> FitOptions<'a> {
    /// `epochs` epochs, silent, loss only, no validation, no callbacks, NaN guard on.
    pub fn new(epochs: usize) -> FitOptions<'a> {
        FitOptions {
            epochs,
            verbose: 0,
            accuracy: None,
            validation: None,
            callbacks: Vec::new(),
            stop_on_non_finite: true,
            clip_grad_norm: None,
            communicator: None,
        }
    }

    /// Sets the verbosity (Keras's meanings: 0, 1 or 2).
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// Also measures accuracy, counted as `kind` says.
    pub fn accuracy(mut self, kind: Accuracy) -> Self {
        self.accuracy = Some(kind);
        self
    }

    /// Evaluates `data` after every epoch (`val_loss`, `val_accuracy`).
    pub fn validation(mut self, data: &'a mut dyn BatchSource) -> Self {
        self.validation = Some(data);
        self
    }

    /// Adds a callback (pass `&mut cb` to read it after training).
    pub fn callback(mut self, callback: impl Callback + 'a) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// Turns the NaN/infinite-loss guard on or off.
    pub fn stop_on_non_finite(mut self, on: bool) -> Self {
        self.stop_on_non_finite = on;
        self
    }

    /// Clips the gradients' global 2-norm to `max_norm` before every step (a remedy for
    /// exploding gradients, common with recurrent networks).
    pub fn clip_grad_norm(mut self, max_norm: f32) -> Self {
        self.clip_grad_norm = Some(max_norm);
        self
    }

    /// Trains data-parallel across the ranks of `comm` (DDP), instead of the default group.
    pub fn communicator(mut self, comm: Rc<dyn Communicator>) -> Self {
        self.communicator = Some(comm);
        self
    }
}

impl<C: Callback + ?Sized> Callback for &mut C {
    fn on_epoch_end(
        &mut self,
        metrics: &EpochMetrics,
        model: &dyn Module,
        optimizer: &mut dyn Optimizer,
    ) -> Result<Control> {
        (**self).on_epoch_end(metrics, model, optimizer)
    }
    fn on_train_end(&mut self, model: &dyn Module) -> Result<()> {
        (**self).on_train_end(model)
    }
}

/// Trains `model` on the batches of `train` for `options.epochs` epochs, minimising
/// `loss_fn(output, target)` with `optimizer`, like Keras's `model.fit`.
///
/// The loss is a closure returning `Result`, so both a [`Loss`](crate::nn::loss::Loss)
/// (`&|o, t| loss.forward(o, t)`) and plain tensor code (`&|o, t| Ok((o - t).square().mean())`)
/// fit; a loss error (a class index out of range) ends training with that error.
///
/// Each epoch runs in train mode: for every batch, zero the gradients, forward, loss,
/// backward, optimizer step. Then, in eval mode and without gradients, the validation data
/// is scored. The epoch's loss is the mean over its samples (batches weighted by their
/// size). Callbacks run after every epoch and may stop training. A NaN or infinite batch
/// loss ends training before the optimizer applies it, with [`FerriteError::Diverged`]
/// (which holds the history so far): a diverged model is not a result.
/// The model ends in the mode it started in.
///
/// With a communicator of more than one rank ([`FitOptions::communicator`], or the default
/// group of [`crate::distributed`]) training is data-parallel, as PyTorch's
/// `DistributedDataParallel`: rank 0's weights are broadcast first, each rank reads its shard
/// of every epoch ([`BatchSource::set_shard`]), gradients are averaged across ranks before
/// every step, the epoch's metrics are summed over all ranks, and only rank 0 prints. A loss
/// error or a non-finite loss on any rank ends training on every rank.
///
/// Errors come from callbacks (a checkpoint that cannot be written, a metric that is not
/// computed), from divergence, from an empty training set, or from the communicator.
pub fn fit(
    model: &mut dyn Module,
    loss_fn: &dyn Fn(&Tensor, &Tensor) -> Result<Tensor>,
    optimizer: &mut dyn Optimizer,
    train: &mut dyn BatchSource,
    mut options: FitOptions<'_>,
) -> Result<History> {
    if train.num_batches() == 0 {
        return Err(FerriteError::invalid(
            "training data",
            "there are no training batches",
        ));
    }
    let group = options
        .communicator
        .clone()
        .or_else(crate::distributed::default_group)
        .filter(|g| g.world_size() > 1);
    let reducer = match &group {
        Some(g) => Some(start_distributed(model, train, g.as_ref())?),
        None => None,
    };
    if group.as_ref().is_some_and(|g| g.rank() != 0) {
        options.verbose = 0;
    }
    let was_training = model.is_training();
    let mut history = History::default();
    let result = (|| -> Result<()> {
        for epoch in 1..=options.epochs {
            let lr = optimizer.lr();
            model.train();
            let mut progress =
                EpochProgress::start(options.verbose, epoch, options.epochs, train.num_batches());
            let mut loss_sum = 0.0f64;
            let mut correct = 0usize;
            let mut seen = 0usize;
            for (batch, (x, y)) in train.epoch_batches().enumerate() {
                optimizer.zero_grad();
                let output = model.forward(&x);
                let loss = loss_fn(&output, &y);
                let (loss, value, any_value) = match &group {
                    Some(g) => shared_loss(g.as_ref(), loss)?,
                    None => {
                        let loss = loss?;
                        let value = loss.item();
                        (loss, value, value)
                    }
                };
                if options.stop_on_non_finite && !any_value.is_finite() {
                    return Err(FerriteError::Diverged {
                        epoch,
                        batch: batch + 1,
                        value: any_value,
                        history: Box::new(history.clone()),
                    });
                }
                match (&group, &reducer) {
                    // Gradient buckets are averaged across ranks while backward runs.
                    (Some(g), Some(reducer)) => reducer.backward(&loss, g.as_ref())?,
                    _ => loss.backward(),
                }
                if let Some(max_norm) = options.clip_grad_norm {
                    clip_grad_norm(&model.parameters(), max_norm);
                }
                optimizer.step();
                let n = x.dims().first().copied().unwrap_or(1);
                loss_sum += value as f64 * n as f64;
                seen += n;
                if let Some(kind) = options.accuracy {
                    correct += kind.correct(&output, &y);
                }
                progress.batch_done(loss_sum / seen as f64);
            }
            if let Some(g) = &group {
                // The epoch's metrics over every rank's samples.
                let sums = Tensor::from_f64(vec![loss_sum, correct as f64, seen as f64], [3]);
                g.all_reduce(&sums, ReduceOp::Sum)?;
                let sums = sums.to_vec_f64();
                (loss_sum, correct, seen) = (sums[0], sums[1] as usize, sums[2] as usize);
            }
            // Samples of every rank: the job's throughput.
            progress.training_done(seen);
            let (val_loss, val_accuracy) = match options.validation.as_deref_mut() {
                Some(val) => {
                    let e = evaluate(model, loss_fn, val, options.accuracy)?;
                    (Some(e.loss), e.accuracy)
                }
                None => (None, None),
            };
            let metrics = EpochMetrics {
                epoch,
                loss: loss_sum / seen.max(1) as f64,
                accuracy: options
                    .accuracy
                    .map(|_| correct as f64 / seen.max(1) as f64),
                val_loss,
                val_accuracy,
                lr,
                seconds: progress.elapsed(),
            };
            progress.finish(&metrics, options.epochs);
            history.epochs.push(metrics.clone());
            let mut stop = None;
            let mut failure = None;
            for cb in options.callbacks.iter_mut() {
                match cb.on_epoch_end(&metrics, model, optimizer) {
                    Ok(Control::Stop(reason)) => {
                        stop.get_or_insert(reason);
                    }
                    Ok(Control::Continue) => {}
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if let Some(g) = &group {
                share_decisions(g.as_ref(), &mut stop, &mut failure)?;
            }
            if let Some(e) = failure {
                return Err(e);
            }
            if let Some(reason) = stop {
                if options.verbose > 0 {
                    eprintln!("{reason}");
                }
                history.stop_reason = Some(reason);
                return Ok(());
            }
        }
        Ok(())
    })();
    let ended = options
        .callbacks
        .iter_mut()
        .try_for_each(|cb| cb.on_train_end(model));
    model.set_training(was_training);
    result?;
    ended?;
    Ok(history)
}

/// Prepares a distributed run: shards the training data, checks that every rank has as many
/// batches, and gives every rank rank 0's parameters and buffers.
fn start_distributed(
    model: &dyn Module,
    train: &mut dyn BatchSource,
    comm: &dyn Communicator,
) -> Result<GradientReducer> {
    let (rank, world_size) = (comm.rank(), comm.world_size());
    train.set_shard(rank, world_size)?;
    let batches = train.num_batches() as f64;
    let extremes = Tensor::from_f64(vec![batches, -batches], [2]);
    comm.all_reduce(&extremes, ReduceOp::Max)?;
    let extremes = extremes.to_vec_f64();
    if extremes[0] != -extremes[1] {
        return Err(crate::FerriteError::Distributed {
            rank,
            world_size,
            message: format!(
                "the ranks have between {} and {} training batches per epoch ({batches} here): \
                 every rank must load the same data set with the same batch size",
                -extremes[1], extremes[0]
            ),
        });
    }
    let _no_grad = crate::no_grad();
    for t in model
        .named_parameters()
        .into_iter()
        .chain(model.named_buffers())
        .map(|(_, t)| t)
    {
        comm.broadcast(&t, 0)?;
    }
    Ok(GradientReducer::new(&model.parameters(), BUCKET_BYTES))
}

/// Shares one step's loss across ranks: returns the loss tensor to backpropagate, this rank's
/// value and the mean over ranks (non-finite when any rank's is). A loss error on any rank
/// ends the step on every rank, so that no rank waits for the others' gradients.
fn shared_loss(comm: &dyn Communicator, loss: Result<Tensor>) -> Result<(Tensor, f32, f32)> {
    let value = loss.as_ref().map_or(0.0, |l| l.item());
    let shared = Tensor::from_f64(vec![value as f64, loss.is_err() as u8 as f64], [2]);
    comm.all_reduce(&shared, ReduceOp::Sum)?;
    let shared = shared.to_vec_f64();
    match loss {
        Err(e) => Err(e),
        Ok(_) if shared[1] > 0.0 => Err(crate::distributed::error(
            comm,
            "another rank could not compute its loss (its error is in its own output)",
        )),
        Ok(loss) => Ok((loss, value, (shared[0] / comm.world_size() as f64) as f32)),
    }
}

/// Makes every rank stop, or fail, when any rank's callbacks stop or fail.
fn share_decisions(
    comm: &dyn Communicator,
    stop: &mut Option<super::history::StopReason>,
    failure: &mut Option<FerriteError>,
) -> Result<()> {
    let flags = Tensor::from_f64(
        vec![stop.is_some() as u8 as f64, failure.is_some() as u8 as f64],
        [2],
    );
    comm.all_reduce(&flags, ReduceOp::Max)?;
    let flags = flags.to_vec_f64();
    if flags[1] > 0.0 && failure.is_none() {
        *failure = Some(crate::distributed::error(
            comm,
            "a callback failed on another rank (its error is in its own output)",
        ));
    }
    if flags[0] > 0.0 && stop.is_none() {
        *stop = Some(super::history::StopReason::Callback(
            "a callback on another rank stopped training".into(),
        ));
    }
    Ok(())
}

/// The mean loss (and accuracy) of a model over some data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean loss per sample (batches weighted by their size).
    pub loss: f64,
    /// Fraction of correct predictions, when an accuracy kind was given.
    pub accuracy: Option<f64>,
    /// The number of samples scored.
    pub samples: usize,
}

/// Scores `model` on `data` in eval mode without recording gradients (Keras's
/// `model.evaluate`). The model is put back in the mode it was in.
pub fn evaluate(
    model: &mut dyn Module,
    loss_fn: &dyn Fn(&Tensor, &Tensor) -> Result<Tensor>,
    data: &mut dyn BatchSource,
    accuracy: Option<Accuracy>,
) -> Result<Evaluation> {
    let was_training = model.is_training();
    model.eval();
    let scored = (|| -> Result<(f64, usize, usize)> {
        let _no_grad = crate::no_grad();
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (x, y) in data.epoch_batches() {
            let output = model.forward(&x);
            let n = x.dims().first().copied().unwrap_or(1);
            loss_sum += loss_fn(&output, &y)?.item() as f64 * n as f64;
            seen += n;
            if let Some(kind) = accuracy {
                correct += kind.correct(&output, &y);
            }
        }
        Ok((loss_sum, correct, seen))
    })();
    model.set_training(was_training);
    let (loss_sum, correct, seen) = scored?;
    if seen == 0 {
        return Err(FerriteError::invalid(
            "evaluation data",
            "there are no samples to evaluate",
        ));
    }
    Ok(Evaluation {
        loss: loss_sum / seen as f64,
        accuracy: accuracy.map(|_| correct as f64 / seen as f64),
        samples: seen,
    })
}

/// The model's outputs for every row of `x`, computed `batch_size` rows at a time in eval
/// mode without gradients, concatenated along the first dimension (Keras's `predict`).
pub fn predict(model: &mut dyn Module, x: &Tensor, batch_size: usize) -> Tensor {
    assert!(batch_size > 0, "predict: batch_size must be positive");
    let was_training = model.is_training();
    model.eval();
    let outputs: Vec<Tensor> = {
        let _no_grad = crate::no_grad();
        x.split(batch_size, 0)
            .iter()
            .map(|b| model.forward(b))
            .collect()
    };
    model.set_training(was_training);
    Tensor::cat(&outputs, 0)
}
