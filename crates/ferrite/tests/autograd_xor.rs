//! A 2-layer network learns XOR with a hand-written SGD loop: only tensor ops and backward().

use ferrite::{no_grad, Generator, Tensor};

#[test]
fn a_two_layer_network_learns_xor() {
    let x = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [4, 2]);
    let y = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], [4, 1]);
    let mut gen = Generator::new(42);
    // PyTorch's Linear initialisation: U(±1/√fan_in).
    let uniform = |shape: [usize; 2], fan_in: f32, gen: &mut Generator| {
        let bound = 1.0 / fan_in.sqrt();
        (&(&Tensor::rand_with(shape, gen) * (2.0 * bound)) - bound)
            .detach()
            .requires_grad()
    };
    let w1 = uniform([8, 2], 2.0, &mut gen);
    let b1 = uniform([1, 8], 2.0, &mut gen);
    let w2 = uniform([1, 8], 8.0, &mut gen);
    let b2 = uniform([1, 1], 8.0, &mut gen);
    let params = [&w1, &b1, &w2, &b2];
    let forward = || {
        let h = (&x.matmul(&w1.t()) + &b1).tanh();
        &h.matmul(&w2.t()) + &b2
    };
    // Binary cross-entropy from logits z: −(y·log σ(z) + (1 − y)·log σ(−z)), averaged.
    let bce = |z: &Tensor| -> Tensor {
        let pos = &y * &z.log_sigmoid();
        let neg = &(1.0 - &y) * &z.neg().log_sigmoid();
        (&pos + &neg).mean().neg()
    };
    let initial = bce(&forward()).item();
    let mut loss = initial;
    for _ in 0..1500 {
        let l = bce(&forward());
        l.backward();
        loss = l.item();
        let _g = no_grad();
        for p in params {
            p.copy_(&(p - &(&p.grad().unwrap() * 0.5)));
            p.zero_grad();
        }
    }
    let probabilities = {
        let _g = no_grad();
        forward().sigmoid().to_vec()
    };
    let predictions: Vec<f32> = probabilities
        .iter()
        .map(|&p| (p > 0.5) as u8 as f32)
        .collect();
    assert_eq!(
        predictions,
        vec![0.0, 1.0, 1.0, 0.0],
        "probabilities {probabilities:?}"
    );
    assert!(loss < 0.05, "loss {initial} -> {loss}");
}
