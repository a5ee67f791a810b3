//! Blocked all-pairs dot products, shared by the k-NN and threshold graphs.
//!
//! The upper triangle of `X Xᵀ` is cut into square tiles (256 rows a side, 512 from 8192
//! rows on, where the larger GEMMs run about 10% faster); each tile is one GEMM
//! (matrixmultiply through ndarray) and tiles are spread over rayon's threads. The tiling
//! depends only on `n`, never on the thread count, and every pair's dot product is computed once, by
//! the same kernel arithmetic wherever it sits, so results are identical on any machine
//! with the same CPU features.

use ndarray::{ArrayView2, ArrayViewMut2, s};
use rayon::prelude::*;

/// Rows per tile side for `n` rows.
fn tile_side(n: usize) -> usize {
    if n >= 8192 { 512 } else { 256 }
}

/// One computed tile: rows `i0..i0+rows` against rows `j0..j0+cols`.
pub(crate) struct Tile<'a> {
    pub(crate) i0: usize,
    pub(crate) j0: usize,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    /// Row stride of `sims`.
    pub(crate) stride: usize,
    /// Row-major: `sims[a * stride + b] = x[i0 + a] · x[j0 + b]`.
    pub(crate) sims: &'a [f32],
}

impl Tile<'_> {
    /// True on the diagonal, where only pairs with `j > i` (`b > a`) are to be used.
    pub(crate) fn diagonal(&self) -> bool {
        self.i0 == self.j0
    }
}

/// Folds `visit` over all upper-triangle tiles of `data · dataᵀ` in parallel.
///
/// `data` must be a valid `n × dim` matrix. `visit` sees each pair `i < j` exactly once.
pub(crate) fn fold_tiles<A, I, V, R>(
    data: &[f32],
    n: usize,
    dim: usize,
    init: I,
    visit: V,
    reduce: R,
) -> A
where
    A: Send,
    I: Fn() -> A + Sync + Send,
    V: Fn(&mut A, &Tile<'_>) + Sync + Send,
    R: Fn(A, A) -> A + Sync + Send,
{
    let tile = tile_side(n);
    let blocks = n.div_ceil(tile);
    let pairs: Vec<(usize, usize)> = (0..blocks)
        .flat_map(|bi| (bi..blocks).map(move |bj| (bi, bj)))
        .collect();
    let Ok(x) = ArrayView2::from_shape((n, dim), data) else {
        return init();
    };
    pairs
        .par_iter()
        .fold(
            || (init(), vec![0f32; tile * tile]),
            |(mut acc, mut buf), &(bi, bj)| {
                let (i0, j0) = (bi * tile, bj * tile);
                let (rows, cols) = ((n - i0).min(tile), (n - j0).min(tile));
                let a = x.slice(s![i0..i0 + rows, ..]);
                let b = x.slice(s![j0..j0 + cols, ..]);
                if let Ok(mut c) = ArrayViewMut2::from_shape((tile, tile), &mut buf[..]) {
                    let mut c = c.slice_mut(s![..rows, ..cols]);
                    ndarray::linalg::general_mat_mul(1.0, &a, &b.t(), 0.0, &mut c);
                }
                visit(
                    &mut acc,
                    &Tile {
                        i0,
                        j0,
                        rows,
                        cols,
                        stride: tile,
                        sims: &buf,
                    },
                );
                (acc, buf)
            },
        )
        .map(|(acc, _)| acc)
        .reduce(&init, &reduce)
}
