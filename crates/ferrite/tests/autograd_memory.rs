//! Memory: nothing of a graph outlives its backward. Counted with `live_tensors()`, which is
//! process-wide, so this binary holds a single test (tests of one binary run in parallel).

use ferrite::tensor::live_tensors;
use ferrite::{no_grad, Generator, Tensor};

#[test]
fn thousands_of_training_steps_keep_the_tensor_count_flat() {
    let mut gen = Generator::new(5);
    let x = Tensor::randn_with([16, 4], &mut gen);
    let y = Tensor::randn_with([16, 1], &mut gen);
    let params = [
        (Tensor::randn_with([8, 4], &mut gen) * 0.5)
            .detach()
            .requires_grad(),
        Tensor::zeros([8]).requires_grad(),
        (Tensor::randn_with([1, 8], &mut gen) * 0.5)
            .detach()
            .requires_grad(),
        Tensor::zeros([1]).requires_grad(),
    ];
    let step = || -> Tensor {
        let h = (&x.matmul(&params[0].t()) + &params[1]).tanh();
        let pred = &h.matmul(&params[2].t()) + &params[3];
        let loss = (&pred - &y).square().mean();
        loss.backward();
        let _g = no_grad();
        for p in &params {
            let g = p.grad().expect("every parameter gets a gradient");
            p.copy_(&(p - &(&g * 0.01)));
            p.zero_grad();
        }
        loss
    };
    let baseline = live_tensors();
    let first = {
        let loss = step();
        // Holding the loss after its backward keeps the loss alone alive: every intermediate
        // (activations, the graph's nodes, gradient buffers) is already gone.
        assert_eq!(
            live_tensors(),
            baseline + 1,
            "tensors alive beside the loss after backward"
        );
        loss.item()
    };
    let mut last = f32::NAN;
    for i in 0..3000 {
        last = step().item();
        if i % 500 == 0 {
            assert_eq!(live_tensors(), baseline, "tensor count grew by step {i}");
        }
    }
    assert_eq!(live_tensors(), baseline, "tensor count after 3000 steps");
    assert!(last < first, "the loop trained: loss {first} -> {last}");
}
