//! Limited-memory BFGS for a smooth unconstrained objective, in f64: the two-loop recursion
//! (Nocedal & Wright, Algorithm 7.4) with a line search that satisfies the strong Wolfe
//! conditions (Algorithms 3.5 and 3.6, cubic interpolation as in SciPy's `line_search`).
//!
//! The stopping rules are those scikit-learn gives SciPy's L-BFGS-B: the largest gradient
//! component at most `gtol`, or a relative decrease of the objective over one iteration at most
//! `ftol`. Each iteration costs one objective-and-gradient evaluation plus a few more inside
//! the line search, and `O(m · len)` for the recursion; memory is `O(m · len)`.

use std::collections::VecDeque;

/// Settings of [`minimize`].
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LbfgsOptions {
    /// Iteration limit (accepted steps, SciPy's `maxiter`).
    pub max_iter: usize,
    /// Stop when the largest gradient component is at most this (SciPy's `gtol`).
    pub gtol: f64,
    /// Stop when `(f_old − f_new) / max(|f_old|, |f_new|, 1)` is at most this (SciPy's `ftol`).
    pub ftol: f64,
    /// Correction pairs kept (SciPy's `maxcor`, scikit-learn's 10).
    pub history: usize,
    /// Objective evaluations allowed per line search (scikit-learn passes `maxls=50`).
    pub max_line_search: usize,
}

/// Why [`minimize`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LbfgsStop {
    /// The largest gradient component reached `gtol`.
    Gradient,
    /// One iteration decreased the objective by at most `ftol` (relative): no progress is left
    /// at working precision.
    RelativeReduction,
    /// `max_iter` iterations ran without meeting either tolerance.
    MaxIter,
    /// No step along the steepest-descent direction decreased the objective.
    LineSearch,
}

/// The result of [`minimize`].
#[derive(Debug, Clone)]
pub(super) struct LbfgsOutcome {
    /// The final point.
    pub x: Vec<f64>,
    /// The largest gradient component there.
    pub grad_max: f64,
    /// Accepted steps.
    pub iterations: usize,
    /// The objective at the start and after each accepted step (the last is the final one).
    pub history: Vec<f64>,
    /// Why it stopped.
    pub stop: LbfgsStop,
}

/// Sufficient-decrease and curvature constants of the strong Wolfe conditions (SciPy's).
const C1: f64 = 1e-4;
const C2: f64 = 0.9;

/// Minimises `fg` from `x0`. `fg(x, g)` returns the objective at `x` and writes its gradient
/// into `g` (same length as `x`). A non-finite value at a trial point counts as "too far": the
/// line search shrinks the step, so an objective that overflows far from the optimum is safe.
pub(super) fn minimize<F>(mut fg: F, x0: Vec<f64>, opts: &LbfgsOptions) -> LbfgsOutcome
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let len = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; len];
    let mut f = fg(&x, &mut g);
    let mut history = vec![f];
    // (s, y, 1 / sᵀy), oldest first.
    let mut pairs: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::with_capacity(opts.history);
    let mut iterations = 0;
    let stop = loop {
        if max_abs(&g) <= opts.gtol {
            break LbfgsStop::Gradient;
        }
        if iterations >= opts.max_iter {
            break LbfgsStop::MaxIter;
        }
        let mut d = direction(&g, &pairs);
        let mut slope = dot(&d, &g);
        if !(slope < 0.0 && slope.is_finite()) {
            // Rounding can make the quasi-Newton direction point uphill: start afresh.
            pairs.clear();
            d = g.iter().map(|v| -v).collect();
            slope = -dot(&g, &g);
        }
        // Without curvature information the scale of the step is unknown: SciPy's L-BFGS-B
        // starts with a step of unit length, later steps with the quasi-Newton step itself.
        let alpha0 = if pairs.is_empty() {
            (1.0 / norm(&d)).min(1e10)
        } else {
            1.0
        };
        let Some(step) = line_search(&mut fg, &x, f, slope, &d, alpha0, opts.max_line_search)
        else {
            if pairs.is_empty() {
                break LbfgsStop::LineSearch;
            }
            // The curvature pairs may be stale: retry once along the steepest descent.
            pairs.clear();
            continue;
        };
        iterations += 1;
        let s: Vec<f64> = d.iter().map(|di| step.alpha * di).collect();
        let y: Vec<f64> = step.g.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        // The strong Wolfe conditions make sᵀy > 0 in exact arithmetic; skip a pair that
        // rounding made (nearly) non-positive so that the implicit Hessian stays positive.
        if sy > f64::EPSILON * dot(&y, &y) {
            if pairs.len() == opts.history {
                pairs.pop_front();
            }
            pairs.push_back((s, y, 1.0 / sy));
        }
        let f_old = f;
        x.iter_mut()
            .zip(&d)
            .for_each(|(xi, di)| *xi += step.alpha * di);
        f = step.f;
        g = step.g;
        history.push(f);
        if (f_old - f) / f_old.abs().max(f.abs()).max(1.0) <= opts.ftol {
            break LbfgsStop::RelativeReduction;
        }
    };
    LbfgsOutcome {
        grad_max: max_abs(&g),
        x,
        iterations,
        history,
        stop,
    }
}

/// `−H g` by the two-loop recursion, with `H₀ = (sᵀy / yᵀy) I` from the newest pair.
fn direction(g: &[f64], pairs: &VecDeque<(Vec<f64>, Vec<f64>, f64)>) -> Vec<f64> {
    let mut q: Vec<f64> = g.to_vec();
    let mut alphas = Vec::with_capacity(pairs.len());
    for (s, y, rho) in pairs.iter().rev() {
        let a = rho * dot(s, &q);
        q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
        alphas.push(a);
    }
    if let Some((_, y, rho)) = pairs.back() {
        let gamma = 1.0 / (rho * dot(y, y));
        q.iter_mut().for_each(|qi| *qi *= gamma);
    }
    for ((s, y, rho), a) in pairs.iter().zip(alphas.iter().rev()) {
        let b = rho * dot(y, &q);
        q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
    }
    q.iter_mut().for_each(|qi| *qi = -*qi);
    q
}

/// An accepted step: its length along the direction, and the objective and gradient there.
struct Step {
    alpha: f64,
    f: f64,
    g: Vec<f64>,
}

/// A trial point of the line search: `φ(α) = f(x + α d)` and `φ'(α) = ∇f(x + α d)ᵀ d`.
struct Trial {
    alpha: f64,
    f: f64,
    slope: f64,
    g: Vec<f64>,
}

/// Finds a step satisfying the strong Wolfe conditions along the descent direction `d`
/// (`slope0 = ∇f(x)ᵀ d < 0`), within `max_evals` evaluations. Failing that, returns the best
/// trial that decreased `f` enough (the Armijo condition alone), or `None` when none did.
fn line_search<F>(
    fg: &mut F,
    x: &[f64],
    f0: f64,
    slope0: f64,
    d: &[f64],
    alpha0: f64,
    max_evals: usize,
) -> Option<Step>
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let mut point = vec![0.0; x.len()];
    let mut evals = 0;
    let mut eval = |alpha: f64| {
        point
            .iter_mut()
            .zip(x.iter().zip(d))
            .for_each(|(p, (xi, di))| *p = xi + alpha * di);
        let mut g = vec![0.0; x.len()];
        let f = fg(&point, &mut g);
        let slope = dot(&g, d);
        Trial { alpha, f, slope, g }
    };
    let armijo = |t: &Trial| t.f.is_finite() && t.f <= f0 + C1 * t.alpha * slope0;
    let curvature = |t: &Trial| t.slope.abs() <= -C2 * slope0;
    // Bracketing phase (Algorithm 3.5): grow the step until it overshoots or satisfies both.
    let mut prev = Trial {
        alpha: 0.0,
        f: f0,
        slope: slope0,
        g: Vec::new(),
    };
    let mut alpha = alpha0;
    let (mut lo, mut hi) = loop {
        if evals == max_evals {
            return None;
        }
        evals += 1;
        let t = eval(alpha);
        let overshoot = !t.f.is_finite() || !t.slope.is_finite();
        if overshoot || !armijo(&t) || (evals > 1 && t.f >= prev.f) {
            break (prev, t);
        }
        if curvature(&t) {
            return Some(Step {
                alpha: t.alpha,
                f: t.f,
                g: t.g,
            });
        }
        if t.slope >= 0.0 {
            // Past the minimum along d: it lies between this step and the previous one.
            break (t, prev);
        }
        alpha = 2.0 * t.alpha;
        prev = t;
    };
    // Zoom phase (Algorithm 3.6): `lo` satisfies Armijo with the lowest f so far; the
    // minimiser lies between `lo` and `hi`.
    while evals < max_evals {
        let (a, b) = (lo.alpha, hi.alpha);
        let width = (b - a).abs();
        if width <= f64::EPSILON * a.abs().max(b.abs()) {
            break;
        }
        // Cubic interpolation, kept away from the ends; bisection when it is not usable.
        let alpha = cubic_minimizer(&lo, &hi)
            .filter(|&c| (c - a.min(b)).min(a.max(b) - c) >= 0.2 * width)
            .unwrap_or(0.5 * (a + b));
        evals += 1;
        let t = eval(alpha);
        if !armijo(&t) || !t.slope.is_finite() || t.f >= lo.f {
            hi = t;
        } else {
            if curvature(&t) {
                return Some(Step {
                    alpha: t.alpha,
                    f: t.f,
                    g: t.g,
                });
            }
            if t.slope * (hi.alpha - lo.alpha) >= 0.0 {
                hi = lo;
            }
            lo = t;
        }
    }
    // No strong Wolfe point within the budget: a step that decreased f is still progress.
    (lo.alpha > 0.0).then_some(Step {
        alpha: lo.alpha,
        f: lo.f,
        g: lo.g,
    })
}

/// The minimiser of the cubic through two trials' values and slopes (N&W eq. 3.59), when it
/// exists and is finite.
fn cubic_minimizer(a: &Trial, b: &Trial) -> Option<f64> {
    if !(a.f.is_finite() && b.f.is_finite() && a.slope.is_finite() && b.slope.is_finite()) {
        return None;
    }
    let d1 = a.slope + b.slope - 3.0 * (a.f - b.f) / (a.alpha - b.alpha);
    let disc = d1 * d1 - a.slope * b.slope;
    if disc < 0.0 {
        return None;
    }
    let d2 = (b.alpha - a.alpha).signum() * disc.sqrt();
    let denom = b.slope - a.slope + 2.0 * d2;
    let c = b.alpha - (b.alpha - a.alpha) * (b.slope + d2 - d1) / denom;
    c.is_finite().then_some(c)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(max_iter: usize, gtol: f64) -> LbfgsOptions {
        LbfgsOptions {
            max_iter,
            gtol,
            ftol: 0.0,
            history: 10,
            max_line_search: 50,
        }
    }

    /// Rosenbrock's function in `n` dimensions: minimum 0 at (1, …, 1).
    fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        g.fill(0.0);
        let mut f = 0.0;
        for i in 0..x.len() - 1 {
            let (a, b) = (x[i + 1] - x[i] * x[i], 1.0 - x[i]);
            f += 100.0 * a * a + b * b;
            g[i] += -400.0 * x[i] * a - 2.0 * b;
            g[i + 1] += 200.0 * a;
        }
        f
    }

    #[test]
    fn finds_the_minimum_of_rosenbrocks_function() {
        let out = minimize(
            rosenbrock,
            vec![-1.2, 1.0, -1.2, 1.0, 0.5],
            &options(500, 1e-9),
        );
        assert_eq!(out.stop, LbfgsStop::Gradient);
        assert!(out.grad_max <= 1e-9);
        for xi in &out.x {
            assert!((xi - 1.0).abs() < 1e-8, "{:?}", out.x);
        }
        // Every accepted step decreased the objective (the Armijo condition).
        assert!(out.history.windows(2).all(|w| w[1] < w[0]));
        assert_eq!(out.history.len(), out.iterations + 1);
    }

    #[test]
    fn a_quadratic_needs_few_iterations() {
        // f = Σ cᵢ (xᵢ − i)² with curvatures 1..=20: L-BFGS with 10 pairs needs far fewer
        // than the 20 steps of a method without memory on this conditioning.
        let quad = |x: &[f64], g: &mut [f64]| {
            let mut f = 0.0;
            for (i, (xi, gi)) in x.iter().zip(g.iter_mut()).enumerate() {
                let c = (i + 1) as f64;
                f += c * (xi - i as f64).powi(2);
                *gi = 2.0 * c * (xi - i as f64);
            }
            f
        };
        let out = minimize(quad, vec![0.0; 20], &options(100, 1e-10));
        assert_eq!(out.stop, LbfgsStop::Gradient);
        assert!(out.iterations < 60, "{} iterations", out.iterations);
        for (i, xi) in out.x.iter().enumerate() {
            assert!((xi - i as f64).abs() < 1e-9);
        }
    }

    #[test]
    fn stops_at_max_iter_and_says_so() {
        let out = minimize(rosenbrock, vec![-1.2, 1.0], &options(3, 1e-12));
        assert_eq!(out.stop, LbfgsStop::MaxIter);
        assert_eq!(out.iterations, 3);
        assert!(out.grad_max > 1e-12);
    }

    #[test]
    fn an_objective_that_overflows_past_a_wall_is_handled_by_shrinking_the_step() {
        // ½(x − 2)² + exp(1000 (x − 1.2)): the quadratic alone pulls the second step to x = 2,
        // where the exponential overflows to ∞; the minimum sits just before the wall.
        let f = |x: &[f64], g: &mut [f64]| {
            let wall = (1000.0 * (x[0] - 1.2)).exp();
            g[0] = x[0] - 2.0 + 1000.0 * wall;
            0.5 * (x[0] - 2.0).powi(2) + wall
        };
        let out = minimize(f, vec![0.0], &options(200, 1e-9));
        assert_eq!(out.stop, LbfgsStop::Gradient, "{out:?}");
        let f = *out.history.last().unwrap();
        assert!(
            f.is_finite() && out.x[0] > 1.19 && out.x[0] < 1.2,
            "{out:?}"
        );
    }

    #[test]
    fn the_relative_reduction_rule_stops_a_flat_objective() {
        let flat = |x: &[f64], g: &mut [f64]| {
            g[0] = 1e-20 * x[0];
            1.0 + 0.5e-20 * x[0] * x[0]
        };
        let opts = LbfgsOptions {
            ftol: 64.0 * f64::EPSILON,
            ..options(100, 0.0)
        };
        let out = minimize(flat, vec![1.0], &opts);
        assert_eq!(out.stop, LbfgsStop::RelativeReduction);
        assert_eq!(out.iterations, 1);
    }
}
