//! The contingency table of two labelings, built in three linear passes.

use std::collections::HashMap;

use super::Label;
use crate::error::SynthError;

/// Labels up to this value are remapped through a dense table; larger ones through a map.
const TABLE_KEYS: u64 = 1 << 22;
/// Tables with up to this many cells are counted densely; larger ones in a map.
const DENSE_CELLS: usize = 1 << 22;

/// Counts of pixels per (truth class, predicted cluster), over the pixels not ignored.
/// Classes and clusters are renumbered densely in increasing label order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Contingency {
    /// Pixels counted.
    pub(crate) n: u64,
    /// Pixels per truth class.
    pub(crate) rows: Vec<u64>,
    /// Pixels per predicted cluster.
    pub(crate) cols: Vec<u64>,
    /// The non-zero cells as (row, column, count), sorted by row then column.
    pub(crate) cells: Vec<(u32, u32, u64)>,
}

impl Contingency {
    /// Builds the table of `truth` against `pred`, skipping pixels whose truth is `ignore`.
    pub(crate) fn new<T: Label, P: Label>(
        truth: &[T],
        pred: &[P],
        ignore: Option<T>,
    ) -> Result<Self, SynthError> {
        if truth.len() != pred.len() {
            return Err(SynthError::LengthMismatch {
                what: "pred",
                expected: truth.len(),
                got: pred.len(),
            });
        }
        let ignore = ignore.map(Label::key);
        let kept = || {
            truth
                .iter()
                .zip(pred.iter())
                .map(|(t, p)| (t.key(), p.key()))
                .filter(move |&(t, _)| Some(t) != ignore)
        };
        let row_ids = Ids::new(kept().map(|(t, _)| t));
        let col_ids = Ids::new(kept().map(|(_, p)| p));
        let (nr, nc) = (row_ids.len(), col_ids.len());
        let mut cells: Vec<(u32, u32, u64)> = Vec::new();
        let mut n = 0u64;
        if nr.saturating_mul(nc) <= DENSE_CELLS {
            let mut dense = vec![0u64; nr * nc];
            for (t, p) in kept() {
                dense[row_ids.get(t) as usize * nc + col_ids.get(p) as usize] += 1;
                n += 1;
            }
            for (i, &c) in dense.iter().enumerate() {
                if c > 0 {
                    cells.push(((i / nc) as u32, (i % nc) as u32, c));
                }
            }
        } else {
            let mut sparse: HashMap<(u32, u32), u64> = HashMap::new();
            for (t, p) in kept() {
                *sparse.entry((row_ids.get(t), col_ids.get(p))).or_insert(0) += 1;
                n += 1;
            }
            cells = sparse.into_iter().map(|((r, c), k)| (r, c, k)).collect();
            cells.sort_unstable();
        }
        let mut rows = vec![0u64; nr];
        let mut cols = vec![0u64; nc];
        for &(r, c, k) in &cells {
            rows[r as usize] += k;
            cols[c as usize] += k;
        }
        Ok(Self {
            n,
            rows,
            cols,
            cells,
        })
    }
}

/// Dense ids for a set of label keys, in increasing key order.
enum Ids {
    /// `table[key]` is the id (`u32::MAX` where unseen).
    Table(Vec<u32>, usize),
    /// For large keys.
    Map(HashMap<u64, u32>),
}

impl Ids {
    fn new(keys: impl Iterator<Item = u64> + Clone) -> Self {
        let max = keys.clone().max();
        match max {
            None => Ids::Table(Vec::new(), 0),
            Some(m) if m < TABLE_KEYS => {
                let mut table = vec![0u32; m as usize + 1];
                for k in keys {
                    table[k as usize] = 1;
                }
                let mut next = 0u32;
                for slot in table.iter_mut() {
                    if *slot == 1 {
                        *slot = next;
                        next += 1;
                    } else {
                        *slot = u32::MAX;
                    }
                }
                Ids::Table(table, next as usize)
            }
            Some(_) => {
                let mut distinct: Vec<u64> = keys.collect();
                distinct.sort_unstable();
                distinct.dedup();
                Ids::Map(
                    distinct
                        .into_iter()
                        .enumerate()
                        .map(|(i, k)| (k, i as u32))
                        .collect(),
                )
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Ids::Table(_, n) => *n,
            Ids::Map(m) => m.len(),
        }
    }

    /// The id of a key that was among those given to `new`.
    fn get(&self, key: u64) -> u32 {
        match self {
            Ids::Table(t, _) => t[key as usize],
            Ids::Map(m) => m.get(&key).copied().unwrap_or(u32::MAX),
        }
    }
}
