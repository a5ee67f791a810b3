//! Multinomial logistic regression on the examples: weights and a bias per class, fitted by
//! full-batch gradient descent with Nesterov momentum, an L2 penalty, and every class
//! weighed equally however many examples it has.

use super::{dot, softmax};

/// Gradient steps: enough for the loss to settle on a few hundred unit-length examples.
pub const STEPS: usize = 300;
/// Step size (the rows are unit length, so the loss's curvature is at most about 1).
const RATE: f32 = 1.0;
/// Momentum.
const MOMENTUM: f32 = 0.9;
/// L2 penalty on the weights (not the biases): keeps one-shot classes from overfitting.
pub const PENALTY: f32 = 1e-3;

/// The fitted model: `n_classes × (dim + 1)`, each class's weights then its bias.
///
/// The weights stay in the span of the examples (they start at 0, and every gradient and
/// the penalty's are combinations of the example rows), so with fewer examples than
/// dimensions the same descent runs on the coefficients `w = Xᵀ·a` over the examples' Gram
/// matrix: the same iterates, at `m²` instead of `m·dim` per step.
pub fn fit(rows: &[f32], dim: usize, classes: &[usize], n_classes: usize) -> Vec<f32> {
    let m = classes.len();
    if m <= dim {
        let gram: Vec<f32> = (0..m * m)
            .map(|e| dot(&rows[e / m * dim..][..dim], &rows[e % m * dim..][..dim]))
            .collect();
        let coef = descend_dual(&gram, m, classes, n_classes);
        // w_k = Σ_i a_ki · x_i, then the bias.
        let mut w = vec![0f32; n_classes * (dim + 1)];
        for (k, (wk, ak)) in w
            .chunks_exact_mut(dim + 1)
            .zip(coef.chunks_exact(m + 1))
            .enumerate()
        {
            for (row, &a) in rows.chunks_exact(dim).zip(&ak[..m]) {
                wk[..dim].iter_mut().zip(row).for_each(|(w, x)| *w += a * x);
            }
            wk[dim] = coef[k * (m + 1) + m];
        }
        w
    } else {
        descend(rows, dim, classes, n_classes)
    }
}

/// Each example's weight in the loss: every class weighs the same in all.
fn sample_weights(classes: &[usize], n_classes: usize) -> Vec<f32> {
    let mut counts = vec![0usize; n_classes];
    classes.iter().for_each(|&c| counts[c] += 1);
    classes
        .iter()
        .map(|&c| 1.0 / (counts[c] as f32 * n_classes as f32))
        .collect()
}

/// [`descend`] over the coefficients `a` of `w = Xᵀ·a`, given the examples' Gram matrix
/// (`m × m`): the logits are `G·a`, the step on `w` is `Xᵀ·(err + penalty·a)`, so `a` steps
/// by `err + penalty·a`. Returns `n_classes × (m + 1)`, each class's coefficients then bias.
fn descend_dual(gram: &[f32], m: usize, classes: &[usize], n_classes: usize) -> Vec<f32> {
    let sample_weight = sample_weights(classes, n_classes);
    let stride = m + 1;
    let mut p = vec![0f32; n_classes];
    nesterov(n_classes * stride, |ahead, grad| {
        for k in 0..n_classes {
            let (ak, gk) = (
                &ahead[k * stride..(k + 1) * stride],
                &mut grad[k * stride..(k + 1) * stride],
            );
            gk.iter_mut().zip(ak).for_each(|(g, a)| *g = PENALTY * a);
            gk[m] = 0.0;
        }
        for (j, (g_row, (&c, &sw))) in gram
            .chunks_exact(m)
            .zip(classes.iter().zip(&sample_weight))
            .enumerate()
        {
            logits(ahead, g_row, m, &mut p);
            softmax(&mut p, 1.0);
            for (k, pk) in p.iter().enumerate() {
                let err = sw * (pk - f32::from(u8::from(k == c)));
                grad[k * stride + j] += err;
                grad[k * stride + m] += err;
            }
        }
    })
}

/// Gradient descent on the example rows (`m × width`): the weights (`n_classes ×
/// (width + 1)`, each class's then its bias).
fn descend(features: &[f32], width: usize, classes: &[usize], n_classes: usize) -> Vec<f32> {
    let sample_weight = sample_weights(classes, n_classes);
    let stride = width + 1;
    let mut p = vec![0f32; n_classes];
    nesterov(n_classes * stride, |ahead, grad| {
        for ((row, &c), &sw) in features
            .chunks_exact(width)
            .zip(classes)
            .zip(&sample_weight)
        {
            logits(ahead, row, width, &mut p);
            softmax(&mut p, 1.0);
            for (k, pk) in p.iter().enumerate() {
                let err = sw * (pk - f32::from(u8::from(k == c)));
                let g = &mut grad[k * stride..(k + 1) * stride];
                g[..width]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(g, x)| *g += err * x);
                g[width] += err;
            }
        }
        for k in 0..n_classes {
            let (a, g) = (
                &ahead[k * stride..(k + 1) * stride],
                &mut grad[k * stride..(k + 1) * stride],
            );
            g[..width]
                .iter_mut()
                .zip(&a[..width])
                .for_each(|(g, a)| *g += PENALTY * a);
        }
    })
}

/// [`STEPS`] of Nesterov descent from zero over `len` parameters: `gradient(ahead, grad)`
/// writes into `grad` (zeroed) the gradient at the look-ahead point `ahead`.
fn nesterov(len: usize, mut gradient: impl FnMut(&[f32], &mut [f32])) -> Vec<f32> {
    let mut w = vec![0f32; len];
    let mut velocity = vec![0f32; len];
    let mut grad = vec![0f32; len];
    for _ in 0..STEPS {
        let ahead: Vec<f32> = w
            .iter()
            .zip(&velocity)
            .map(|(w, v)| w + MOMENTUM * v)
            .collect();
        grad.iter_mut().for_each(|g| *g = 0.0);
        gradient(&ahead, &mut grad);
        for ((w, v), g) in w.iter_mut().zip(&mut velocity).zip(&grad) {
            *v = MOMENTUM * *v - RATE * g;
            *w += *v;
        }
    }
    w
}

/// Each row's class probabilities (`n × n_classes`) under `model`.
pub fn scores(model: &[f32], rows: &[f32], dim: usize, n_classes: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows.len() / dim * n_classes];
    for (row, p) in rows.chunks_exact(dim).zip(out.chunks_exact_mut(n_classes)) {
        logits(model, row, dim, p);
        softmax(p, 1.0);
    }
    out
}

fn logits(model: &[f32], row: &[f32], dim: usize, out: &mut [f32]) {
    for (o, wk) in out.iter_mut().zip(model.chunks_exact(dim + 1)) {
        *o = dot(&wk[..dim], row) + wk[dim];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_examples_are_learned() {
        let rows = [1.0, 0.0, 0.9, 0.1, 0.0, 1.0];
        let model = fit(&rows, 2, &[0, 0, 1], 2);
        let s = scores(&model, &[0.95, 0.05, 0.05, 0.95], 2, 2);
        assert!(s[0] > 0.6 && s[3] > 0.6, "{s:?}");
    }

    #[test]
    fn the_gram_descent_is_the_descent_on_the_rows() {
        // Three examples in four dimensions: the Gram path; the rows path directly.
        let rows = [1.0, 0.0, 0.2, 0.1, 0.9, 0.1, 0.0, 0.3, 0.0, 1.0, 0.4, 0.0];
        let (classes, k) = ([0, 0, 1], 2);
        let dual = fit(&rows, 4, &classes, k);
        let primal = descend(&rows, 4, &classes, k);
        for (a, b) in dual.iter().zip(&primal) {
            assert!((a - b).abs() < 1e-3, "{dual:?} vs {primal:?}");
        }
    }
}
