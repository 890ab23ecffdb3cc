//! Reverse-mode automatic differentiation: the recorded graph, `backward`, the `no_grad`
//! guard and finite-difference checking. Every gradient formula lives in [`backprop`].

pub mod backprop;
mod gradcheck;
mod op;

pub use gradcheck::{gradcheck, gradcheck_with, GradcheckError};
pub use op::Op;

use crate::Tensor;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The op that produced a tensor, with the tensors it read.
pub struct Node {
    /// What was computed, with any non-tensor arguments it needs to differentiate.
    pub op: Op,
    /// The operands, in the order the op's backward returns their gradients.
    pub inputs: Vec<Tensor>,
}

impl Drop for Node {
    /// Frees the graph behind this node iteratively: dropping the last handle of a long chain
    /// of recorded ops (an unrolled RNN evaluated without `no_grad`) would otherwise recurse
    /// once per op and overflow the stack.
    fn drop(&mut self) {
        let mut pending = std::mem::take(&mut self.inputs);
        while let Some(input) = pending.pop() {
            // Only tensors nobody else holds are taken apart here; shared ones are freed later
            // by their last owner.
            let Ok(inner) = Arc::try_unwrap(input.0) else {
                continue;
            };
            let node = inner.node.into_inner().ok().flatten();
            if let Some(Ok(mut node)) = node.map(Arc::try_unwrap) {
                pending.append(&mut node.inputs);
                // `node` drops here with no inputs left, so this does not recurse.
            }
        }
    }
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True unless inside a [`no_grad`] scope on this thread.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// While alive, operations on this thread record no graph (evaluation, optimizer steps).
///
/// ```
/// use ferrite::{no_grad, Tensor};
/// let w = Tensor::ones([2]).requires_grad();
/// let y = {
///     let _guard = no_grad();
///     &w * 2.0
/// };
/// assert!(!y.requires_grad_flag());
/// ```
#[must_use = "the guard disables gradients only while it is alive"]
pub struct NoGradGuard {
    previous: bool,
}

/// Disables graph recording until the returned guard is dropped.
pub fn no_grad() -> NoGradGuard {
    let previous = GRAD_ENABLED.with(|g| g.replace(false));
    NoGradGuard { previous }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// PyTorch's error for walking a released graph again, with Ferrite's name for `retain_graph`.
const SECOND_BACKWARD: &str = "backward: Trying to backward through the graph a second time (or \
directly access saved tensors after they have already been freed). Saved intermediate values of \
the graph are freed when you call backward(). Call backward_retain_graph() the first time if you \
need to backward through the graph a second time.";

/// Tensors reachable from `root` through recorded nodes, each after all tensors that use it.
fn topological_order(root: &Tensor) -> Vec<(Tensor, Arc<Node>)> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    // Iterative post-order DFS: (tensor, node, next input to visit).
    let mut stack: Vec<(Tensor, Arc<Node>, usize)> = Vec::new();
    if let Some(n) = root.node() {
        seen.insert(root.id());
        stack.push((root.clone(), n, 0));
    }
    while let Some((t, node, next)) = stack.pop() {
        if next < node.inputs.len() {
            let child = node.inputs[next].clone();
            stack.push((t, node, next + 1));
            if let Some(cn) = child.node() {
                if seen.insert(child.id()) {
                    stack.push((child, cn, 0));
                }
            } else if child.0.released.load(Ordering::Relaxed) {
                panic!("{SECOND_BACKWARD}");
            }
        } else {
            order.push((t, node));
        }
    }
    order.reverse();
    order
}

fn accumulate(map: &mut HashMap<usize, Tensor>, id: usize, g: Tensor) {
    match map.remove(&id) {
        // In place when no one else sees the running sum (the usual case).
        Some(old) if old.owns_whole_buffer() => {
            old.add_assign_detached(&g);
            map.insert(id, old);
        }
        Some(old) => {
            map.insert(id, &old + &g);
        }
        None => {
            map.insert(id, g);
        }
    }
}

/// Backpropagates `grad` from `root` to every leaf that requires a gradient.
pub(crate) fn backward(root: &Tensor, grad: Tensor, retain_graph: bool) {
    backward_with_hook(root, grad, retain_graph, None);
}

/// [`backward`], calling `on_ready(leaf)` as soon as a leaf's gradient is final (every node
/// that feeds it has run), while the rest of backward goes on: DDP's hook for sending a
/// bucket of gradients early. Leaves whose gradient is final only at the end are reported
/// then, in no particular order.
pub(crate) fn backward_with_hook(
    root: &Tensor,
    grad: Tensor,
    retain_graph: bool,
    mut on_ready: Option<&mut dyn FnMut(&Tensor)>,
) {
    let _guard = no_grad();
    if root.node().is_none() {
        if root.0.released.load(Ordering::Relaxed) {
            panic!("{SECOND_BACKWARD}");
        }
        assert!(
            root.requires_grad_flag(),
            "backward: element 0 of tensors does not require grad and does not have a grad_fn"
        );
        accumulate_leaf(root, grad);
        if let Some(hook) = on_ready.as_mut() {
            hook(root);
        }
        return;
    }
    let order = topological_order(root);
    // For the hook: how many recorded ops still owe each leaf a gradient.
    let mut owed: HashMap<usize, (usize, Tensor)> = HashMap::new();
    if on_ready.is_some() {
        for (_, node) in &order {
            for input in node.inputs.iter().filter(|i| !i.has_node()) {
                if input.requires_grad_flag() {
                    owed.entry(input.id()).or_insert((0, input.clone())).0 += 1;
                }
            }
        }
    }
    let mut grads: HashMap<usize, Tensor> = HashMap::new();
    grads.insert(root.id(), grad);
    for (t, node) in order {
        let Some(g) = grads.remove(&t.id()) else {
            // No gradient reached this op: the leaves it feeds owe it nothing.
            if let Some(hook) = on_ready.as_mut() {
                settle(&mut owed, &node.inputs, &mut **hook);
            }
            continue;
        };
        if !retain_graph {
            *t.0.node.lock().expect("node lock") = None;
            t.0.released.store(true, Ordering::Relaxed);
        }
        let needs: Vec<bool> = node.inputs.iter().map(|i| i.requires_grad_flag()).collect();
        // Arms read `t` only as data (this runs under no_grad), so no detached copy is needed.
        let input_grads = backprop::backward(&node.op, &node.inputs, &t, &g, &needs);
        // Released before accumulating, so a gradient that is a view of `g` (reshape) owns
        // its buffer alone and can become a leaf's `.grad()` without a copy.
        drop(g);
        debug_assert_eq!(input_grads.len(), node.inputs.len());
        for ((input, ig), &need) in node.inputs.iter().zip(input_grads).zip(&needs) {
            let Some(ig) = ig else { continue };
            if !need {
                continue;
            }
            debug_assert_eq!(
                ig.dims(),
                input.dims(),
                "gradient shape mismatch in {:?}",
                node.op.name()
            );
            if input.has_node() {
                accumulate(&mut grads, input.id(), ig);
            } else {
                accumulate_leaf(input, ig);
            }
        }
        if let Some(hook) = on_ready.as_mut() {
            settle(&mut owed, &node.inputs, &mut **hook);
        }
    }
    if let Some(hook) = on_ready.as_mut() {
        for (_, (_, leaf)) in owed.drain() {
            hook(&leaf);
        }
    }
}

/// One op has given its inputs their gradients: the leaves among them that are owed nothing
/// more are ready.
fn settle(
    owed: &mut HashMap<usize, (usize, Tensor)>,
    inputs: &[Tensor],
    hook: &mut dyn FnMut(&Tensor),
) {
    for input in inputs {
        if let Some((count, _)) = owed.get_mut(&input.id()) {
            *count -= 1;
            if *count == 0 {
                if let Some((_, leaf)) = owed.remove(&input.id()) {
                    hook(&leaf);
                }
            }
        }
    }
}

/// Adds `g` to the leaf's `.grad()`. Like PyTorch's AccumulateGrad, buffers nobody else holds
/// are reused: the first gradient is kept as is, later ones are added in place.
fn accumulate_leaf(leaf: &Tensor, g: Tensor) {
    let mut slot = leaf.0.grad.lock().expect("grad lock");
    *slot = Some(match slot.take() {
        Some(old) if old.owns_whole_buffer() => {
            old.add_assign_detached(&g);
            old
        }
        Some(old) => &old + &g,
        None if g.owns_whole_buffer() => g,
        None => g.detach_copy(),
    });
}
