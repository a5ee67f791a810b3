//! Centred PCA projection.
//!
//! Two deterministic methods, picked by dimension:
//! - `dim <= EXACT_MAX_DIM`: the covariance matrix and a Jacobi eigensolver (exact).
//! - larger `dim`: randomized block subspace iteration (Halko, Martinsson & Tropp 2011) with
//!   a fixed seed, `OVERSAMPLE` extra vectors and `SUBSPACE_ITERS` iterations, then a
//!   Rayleigh–Ritz step. Forming the covariance costs `n·dim²`, which at `dim = 2048` is
//!   many times the `2·n·dim·l` per iteration of the subspace method.
//!
//! The data are centred chunk by chunk (never copied whole), and the chunking does not
//! depend on the thread count, so results are identical for any number of threads.

use crate::GraphError;
use crate::linalg::{orthonormalize_columns, symmetric_eigen};
use crate::normalize::check_matrix;
use crate::rng::Rng;
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// Largest dimension handled by the exact covariance method.
const EXACT_MAX_DIM: usize = 160;
/// Extra vectors in the randomized subspace.
const OVERSAMPLE: usize = 16;
/// Subspace iterations of the randomized method.
const SUBSPACE_ITERS: usize = 6;
/// Rows centred at a time.
const CHUNK: usize = 1024;
/// Seed of the random start.
const SEED: u64 = 0x7E55_E7A0;

/// Projects the centred rows of an `n × dim` matrix onto their first `components`
/// principal axes; returns an `n × components` row-major matrix.
///
/// Deterministic: each axis' sign is fixed so that its largest-magnitude loading is
/// positive. Callers that compare by cosine re-normalise the output rows. Errors: a buffer
/// that is not `n × dim`, non-finite values, `components` outside `1..=min(n, dim)`.
pub fn pca(data: &[f32], n: usize, dim: usize, components: usize) -> Result<Vec<f32>, GraphError> {
    check_matrix(data, n, dim)?;
    let max = n.min(dim);
    if components == 0 || components > max {
        return Err(GraphError::BadComponents { components, max });
    }
    let mut mean = vec![0f64; dim];
    for row in data.chunks_exact(dim) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, &x)| *m += f64::from(x));
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let centred = Centred { data, n, dim, mean };

    let (basis, l) = if dim <= EXACT_MAX_DIM {
        let mut eye = vec![0f64; dim * dim];
        (0..dim).for_each(|i| eye[i * dim + i] = 1.0);
        (eye, dim)
    } else {
        let l = (components + OVERSAMPLE).min(max);
        let mut rng = Rng::new(SEED);
        let mut z: Vec<f64> = (0..dim * l).map(|_| rng.next_f64() * 2.0 - 1.0).collect();
        orthonormalize_columns(&mut z, dim, l);
        for _ in 0..SUBSPACE_ITERS {
            z = centred.mul_t(&centred.mul(&z, l), l);
            orthonormalize_columns(&mut z, dim, l);
        }
        (z, l)
    };
    // Rayleigh–Ritz: eigen-decompose the covariance restricted to span(basis).
    let y = centred.mul(&basis, l);
    let small = centred.gram(&y, l);
    let (_, w) = symmetric_eigen(&small, l);
    let mut axes = vec![0f64; dim * components];
    for r in 0..dim {
        for c in 0..components {
            axes[r * components + c] = (0..l).map(|t| basis[r * l + t] * w[t * l + c]).sum();
        }
    }
    for c in 0..components {
        let mut best = 0;
        for r in 1..dim {
            if axes[r * components + c].abs() > axes[best * components + c].abs() {
                best = r;
            }
        }
        if axes[best * components + c] < 0.0 {
            (0..dim).for_each(|r| axes[r * components + c] = -axes[r * components + c]);
        }
    }
    Ok(centred
        .mul(&axes, components)
        .iter()
        .map(|&v| v as f32)
        .collect())
}

/// The data minus its column means, centred lazily chunk by chunk.
struct Centred<'a> {
    data: &'a [f32],
    n: usize,
    dim: usize,
    mean: Vec<f64>,
}

impl Centred<'_> {
    /// Rows `r0..r1`, centred, as an f32 matrix.
    fn chunk(&self, r0: usize, r1: usize) -> Array2<f32> {
        let rows = &self.data[r0 * self.dim..r1 * self.dim];
        let v = rows.chunks_exact(self.dim).flat_map(|row| {
            row.iter()
                .zip(&self.mean)
                .map(|(&x, &m)| (f64::from(x) - m) as f32)
        });
        Array2::from_shape_vec((r1 - r0, self.dim), v.collect())
            .unwrap_or_else(|_| Array2::zeros((0, 0)))
    }

    fn chunks(&self) -> Vec<(usize, usize)> {
        (0..self.n.div_ceil(CHUNK))
            .map(|c| (c * CHUNK, ((c + 1) * CHUNK).min(self.n)))
            .collect()
    }

    /// `X_c · m` for `m` row-major `dim × l`; result row-major `n × l`.
    fn mul(&self, m: &[f64], l: usize) -> Vec<f64> {
        let m32 = to_array(m, self.dim, l);
        let parts: Vec<Array2<f32>> = self
            .chunks()
            .par_iter()
            .map(|&(r0, r1)| self.chunk(r0, r1).dot(&m32))
            .collect();
        parts
            .iter()
            .flat_map(|p| p.iter().map(|&v| f64::from(v)))
            .collect()
    }

    /// `X_cᵀ · y` for `y` row-major `n × l`; result row-major `dim × l`.
    fn mul_t(&self, y: &[f64], l: usize) -> Vec<f64> {
        let parts: Vec<Array2<f32>> = self
            .chunks()
            .par_iter()
            .map(|&(r0, r1)| {
                self.chunk(r0, r1)
                    .t()
                    .dot(&to_array(&y[r0 * l..r1 * l], r1 - r0, l))
            })
            .collect();
        let mut out = vec![0f64; self.dim * l];
        for p in &parts {
            out.iter_mut()
                .zip(p.iter())
                .for_each(|(o, &v)| *o += f64::from(v));
        }
        out
    }

    /// `yᵀ y` for `y` row-major `n × l`, summed over fixed row chunks.
    fn gram(&self, y: &[f64], l: usize) -> Vec<f64> {
        let parts: Vec<Array2<f64>> = self
            .chunks()
            .par_iter()
            .map(
                |&(r0, r1)| match ArrayView2::from_shape((r1 - r0, l), &y[r0 * l..r1 * l]) {
                    Ok(c) => c.t().dot(&c),
                    Err(_) => Array2::zeros((l, l)),
                },
            )
            .collect();
        let mut g = vec![0f64; l * l];
        for p in &parts {
            g.iter_mut().zip(p.iter()).for_each(|(o, &v)| *o += v);
        }
        g
    }
}

/// Row-major f64 slice to an f32 matrix.
fn to_array(m: &[f64], rows: usize, cols: usize) -> Array2<f32> {
    let v: Vec<f32> = m.iter().map(|&x| x as f32).collect();
    ArrayView2::from_shape((rows, cols), &v)
        .map(|a| a.to_owned())
        .unwrap_or_else(|_| Array2::zeros((rows, cols)))
}
