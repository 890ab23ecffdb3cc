//! Data-parallel training (`ferrite::distributed`) with ranks that are threads: the same
//! weights as one process with the whole batch, the same weights on every rank, rank 0's
//! start, shared metrics, and errors on one rank that end every rank.

use std::rc::Rc;
use std::time::{Duration, Instant};

use ferrite::data::{DataLoader, TensorDataset};
use ferrite::distributed::{Communicator, ThreadCommunicator, ThreadGroup};
use ferrite::nn::loss::{CrossEntropyLoss, Loss};
use ferrite::nn::{Linear, Module, Sequential, Tanh};
use ferrite::optim::{Adam, AdamConfig, Optimizer, SGDConfig, SGD};
use ferrite::train::{batches_of, fit, Accuracy, FitOptions, History};
use ferrite::{FerriteError, Generator, Result, Tensor};

/// 96 points of three noisy classes in the plane (labels 0, 1, 2).
fn data() -> (Tensor, Tensor) {
    let mut gen = Generator::new(11);
    let centres = [(-1.5f32, 0.0f32), (1.5, 0.0), (0.0, 1.8)];
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..96 {
        let (cx, cy) = centres[i % 3];
        x.push(cx + 0.9 * gen.normal());
        x.push(cy + 0.9 * gen.normal());
        y.push((i % 3) as f32);
    }
    (Tensor::from_vec(x, [96, 2]), Tensor::from_vec(y, [96]))
}

/// `2 → 16 → tanh → 3`, initialised from a generator seeded with `seed`.
fn mlp(seed: u64) -> Sequential {
    let mut gen = Generator::new(seed);
    let mut layer = |i: usize, o: usize| {
        let w = Tensor::rand_with([o, i], &mut gen).add_scalar(-0.5);
        let b = Tensor::rand_with([o], &mut gen).add_scalar(-0.5);
        Linear::from_tensors(w, Some(b)).unwrap()
    };
    Sequential::new()
        .add(layer(2, 16))
        .add(Tanh)
        .add(layer(16, 3))
}

fn optimizer(kind: &str, model: &Sequential) -> Box<dyn Optimizer> {
    match kind {
        "sgd" => Box::new(
            SGD::new(
                model.parameters(),
                SGDConfig {
                    lr: 0.2,
                    momentum: 0.9,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        _ => Box::new(
            Adam::new(
                model.parameters(),
                AdamConfig {
                    lr: 0.01,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
    }
}

/// Trains for 4 epochs with batch `batch_size` (per rank) and returns the weights and history.
fn train(
    comm: Option<Rc<dyn Communicator>>,
    init_seed: u64,
    batch_size: usize,
    kind: &str,
) -> Result<(Vec<Vec<f32>>, History)> {
    let (x, y) = data();
    let mut model = mlp(init_seed);
    let mut opt = optimizer(kind, &model);
    let mut loader =
        DataLoader::new(TensorDataset::new(x.clone(), y.clone()), batch_size)?.shuffle(5);
    let mut val = batches_of(&x, &y, 32);
    let loss = CrossEntropyLoss::new();
    let loss_fn = move |o: &Tensor, t: &Tensor| loss.forward(o, t);
    let mut options = FitOptions::new(4)
        .accuracy(Accuracy::Multiclass)
        .validation(&mut val);
    if let Some(c) = comm {
        options = options.communicator(c);
    }
    let history = fit(&mut model, &loss_fn, opt.as_mut(), &mut loader, options)?;
    let weights = model.parameters().iter().map(|p| p.to_vec()).collect();
    Ok((weights, history))
}

/// Runs `f` on every rank of a thread group of `world` ranks.
fn on_ranks<T: Send + 'static>(
    world: usize,
    f: impl Fn(ThreadCommunicator) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = std::sync::Arc::new(f);
    let handles: Vec<_> = ThreadGroup::ranks(world)
        .into_iter()
        .map(|c| {
            let f = f.clone();
            std::thread::spawn(move || f(c.timeout(Duration::from_secs(20))))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn accuracy(h: &History) -> Vec<f64> {
    h.epochs
        .iter()
        .map(|e| e.accuracy.unwrap_or(f64::NAN))
        .collect()
}

fn max_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn two_ranks_of_batch_8_train_the_weights_of_one_process_with_batch_16() {
    for kind in ["sgd", "adam"] {
        let (single, single_history) = train(None, 3, 16, kind).unwrap();
        // Rank 1 starts from other weights: the broadcast replaces them with rank 0's.
        let ranks = on_ranks(2, move |c| {
            let seed = 3 + c.rank() as u64 * 100;
            let (w, h) = train(Some(Rc::new(c)), seed, 8, kind).unwrap();
            (w, h.loss(), accuracy(&h))
        });
        let (w0, loss0, acc0) = &ranks[0];
        let (w1, loss1, _) = &ranks[1];
        assert_eq!(w0, w1, "{kind}: every rank must hold the same weights");
        assert_eq!(loss0, loss1);
        let diff = max_difference(w0, &single);
        assert!(
            diff < 2e-5,
            "{kind}: 2 ranks differ from 1 process by {diff}"
        );
        for (a, b) in loss0.iter().zip(single_history.loss()) {
            assert!((a - b).abs() < 1e-5, "{kind}: epoch loss {a} vs {b}");
        }
        // The shared accuracy counts all 96 samples, as the single process does.
        for (a, b) in acc0.iter().zip(accuracy(&single_history)) {
            assert!((a - b).abs() < 1.5 / 96.0, "{kind}: accuracy {a} vs {b}");
        }
        let first = mlp(3).parameters()[0].to_vec();
        assert!(
            max_difference(&[first], &w0[..1]) > 1e-3,
            "{kind}: training moved nothing"
        );
    }
}

#[test]
fn a_loss_error_on_one_rank_ends_every_rank_at_once() {
    let started = Instant::now();
    let results = on_ranks(2, |c| {
        let rank = c.rank();
        let (x, y) = data();
        let mut model = mlp(3);
        let mut opt = optimizer("sgd", &model);
        let mut loader = DataLoader::new(TensorDataset::new(x, y), 8).unwrap();
        let loss = CrossEntropyLoss::new();
        // Rank 1's targets are out of range from its third batch on.
        let step = std::cell::Cell::new(0);
        let loss_fn = move |o: &Tensor, t: &Tensor| {
            step.set(step.get() + 1);
            if rank == 1 && step.get() >= 3 {
                loss.forward(o, &t.add_scalar(10.0))
            } else {
                loss.forward(o, t)
            }
        };
        let options = FitOptions::new(2).communicator(Rc::new(c));
        fit(&mut model, &loss_fn, opt.as_mut(), &mut loader, options)
            .err()
            .map(|e| e.to_string())
    });
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a rank waited for the other"
    );
    let rank0 = results[0].as_deref().expect("rank 0 must fail too");
    let rank1 = results[1].as_deref().expect("rank 1 fails");
    assert!(
        rank0.contains("rank 0 of 2") && rank0.contains("another rank could not compute its loss"),
        "{rank0}"
    );
    assert!(
        rank1.contains("out of"),
        "rank 1 keeps its own error: {rank1}"
    );
}

#[test]
fn a_non_finite_loss_on_one_rank_is_divergence_on_every_rank() {
    let results = on_ranks(2, |c| {
        let rank = c.rank();
        let (x, y) = data();
        let mut model = mlp(3);
        let mut opt = optimizer("sgd", &model);
        let mut loader = DataLoader::new(TensorDataset::new(x, y), 8).unwrap();
        let loss = CrossEntropyLoss::new();
        let step = std::cell::Cell::new(0);
        let loss_fn = move |o: &Tensor, t: &Tensor| {
            step.set(step.get() + 1);
            let l = loss.forward(o, t)?;
            Ok(if rank == 0 && step.get() == 4 {
                l * f32::NAN
            } else {
                l
            })
        };
        let options = FitOptions::new(2).communicator(Rc::new(c));
        match fit(&mut model, &loss_fn, opt.as_mut(), &mut loader, options) {
            Err(FerriteError::Diverged { epoch, batch, .. }) => Some((epoch, batch)),
            _ => None,
        }
    });
    assert_eq!(results, vec![Some((1, 4)), Some((1, 4))]);
}

#[test]
fn a_batch_source_that_cannot_be_sharded_is_refused() {
    let results = on_ranks(2, |c| {
        let (x, y) = data();
        let mut model = mlp(3);
        let mut opt = optimizer("sgd", &model);
        let mut batches = batches_of(&x, &y, 8);
        let loss = CrossEntropyLoss::new();
        let loss_fn = move |o: &Tensor, t: &Tensor| loss.forward(o, t);
        let options = FitOptions::new(1).communicator(Rc::new(c));
        fit(&mut model, &loss_fn, opt.as_mut(), &mut batches, options)
            .unwrap_err()
            .to_string()
    });
    for message in results {
        assert!(
            message.contains("cannot be split across 2 ranks"),
            "{message}"
        );
    }
}

#[test]
fn the_backward_hook_reports_each_leaf_once_with_its_final_gradient_last_layer_first() {
    let model = mlp(3);
    let (x, y) = data();
    let loss = CrossEntropyLoss::new()
        .forward(&model.forward(&x), &y)
        .unwrap();
    let params = model.parameters();
    let mut reported: Vec<(usize, Vec<f32>)> = Vec::new();
    loss.backward_with_hook(&mut |leaf| {
        let grad = leaf
            .grad()
            .expect("a reported leaf has its gradient")
            .to_vec();
        reported.push((leaf.id(), grad));
    });
    assert_eq!(reported.len(), params.len(), "every parameter once");
    // The output layer's parameters are final before the first layer's.
    let position = |p: &Tensor| reported.iter().position(|(id, _)| *id == p.id()).unwrap();
    assert!(position(&params[3]) < position(&params[0]));
    // What was reported is the final gradient: the same as a plain backward's.
    let again = mlp(3);
    CrossEntropyLoss::new()
        .forward(&again.forward(&x), &y)
        .unwrap()
        .backward();
    for (p, q) in params.iter().zip(again.parameters()) {
        let (_, g) = &reported[position(p)];
        assert_eq!(g, &q.grad().unwrap().to_vec());
    }
}

#[test]
fn a_parameter_unused_on_a_step_gets_the_mean_of_the_other_ranks_gradients() {
    use ferrite::distributed::{GradientReducer, BUCKET_BYTES};
    // Rank 0 uses w in its loss (gradient 2 everywhere), rank 1 does not.
    let got = on_ranks(2, |c| {
        let w = Tensor::ones([3]).requires_grad();
        let v = Tensor::ones([2]).requires_grad();
        let loss = if c.rank() == 0 {
            (&w * 2.0).sum() + v.sum()
        } else {
            v.sum() * 3.0
        };
        let reducer = GradientReducer::new(&[w.clone(), v.clone()], BUCKET_BYTES);
        assert_eq!(reducer.num_buckets(), 1);
        reducer.backward(&loss, &c).unwrap();
        (w.grad().unwrap().to_vec(), v.grad().unwrap().to_vec())
    });
    for (w, v) in got {
        assert_eq!(w, vec![1.0; 3]); // (2 + 0) / 2
        assert_eq!(v, vec![2.0; 2]); // (1 + 3) / 2
    }
}
