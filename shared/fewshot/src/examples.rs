//! Labelled chips: which chips the user named, and as what.
//!
//! A user labels with a scribble mask (0 unlabelled, one value per class), with pixel
//! positions, or by clicking chips. Each becomes chip indices with a class index.

use std::collections::BTreeMap;

use tessera_imaging::ChipGrid;

use crate::FewShotError;

/// Chips with the class the user gave them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Examples {
    /// Chip indices, in grid order.
    pub chips: Vec<usize>,
    /// The class of each, `0..n_classes`.
    pub classes: Vec<usize>,
}

impl Examples {
    /// How many chips each of `n_classes` classes has.
    pub fn per_class(&self, n_classes: usize) -> Vec<usize> {
        let mut counts = vec![0; n_classes];
        for &c in &self.classes {
            if c < n_classes {
                counts[c] += 1;
            }
        }
        counts
    }

    /// Checks the examples against `n` chips and `names` (one per class): every class needs
    /// at least one chip, and every chip index must be on the grid.
    pub fn check(&self, n: usize, names: &[String]) -> Result<(), FewShotError> {
        if self.chips.len() != self.classes.len() {
            return Err(FewShotError::Labels(format!(
                "{} chips but {} classes; give one class per labelled chip",
                self.chips.len(),
                self.classes.len()
            )));
        }
        if names.len() < 2 {
            return Err(FewShotError::Labels(format!(
                "{} class labelled; label chips of at least two classes",
                names.len()
            )));
        }
        if let Some(&c) = self.chips.iter().find(|&&c| c >= n) {
            return Err(FewShotError::Labels(format!(
                "chip {c} is not on this frame's grid of {n} chips"
            )));
        }
        if let Some(&c) = self.classes.iter().find(|&&c| c >= names.len()) {
            return Err(FewShotError::Labels(format!(
                "class index {c} but only {} class names",
                names.len()
            )));
        }
        let counts = self.per_class(names.len());
        let empty: Vec<&str> = (counts.iter().zip(names))
            .filter(|(k, _)| **k == 0)
            .map(|(_, name)| name.as_str())
            .collect();
        if !empty.is_empty() {
            return Err(FewShotError::Labels(format!(
                "no chip is labelled {}; label at least one chip of every class (a stroke \
                 must cross a chip's centre cell to label it)",
                empty.join(", ")
            )));
        }
        Ok(())
    }
}

/// The classes' values in a label mask: its distinct values other than 0 (unlabelled),
/// ascending.
pub fn mask_values(mask: &[u32]) -> Vec<u32> {
    let mut values: Vec<u32> = mask.iter().copied().filter(|&v| v != 0).collect();
    values.sort_unstable();
    values.dedup();
    values
}

/// The chips a scribble `mask` (one value per pixel of the grid's image, 0 = unlabelled)
/// labels, and the mask values behind the classes (ascending; class `i` is `values[i]`).
///
/// A chip takes the value that covers most of the labelled pixels in its centre cell (the
/// `stride × stride` square at its middle, the pixels it is nearest to), when that value has
/// at least half of them; a stroke across a boundary labels neither side's chip wrongly.
pub fn chip_examples_from_mask(
    grid: &ChipGrid,
    mask: &[u32],
) -> Result<(Examples, Vec<u32>), FewShotError> {
    let (w, h) = (grid.width(), grid.height());
    if mask.len() != w * h {
        return Err(FewShotError::Labels(format!(
            "the label mask has {} pixels, the image {w} × {h} = {}; draw the labels on an \
             image of the same size",
            mask.len(),
            w * h
        )));
    }
    let values = mask_values(mask);
    let (chip, stride) = (grid.chip(), grid.stride());
    let inset = (chip - stride) / 2;
    let mut examples = Examples::default();
    for (i, &(x, y)) in grid.positions().iter().enumerate() {
        let (x0, y0) = (x as usize + inset, y as usize + inset);
        let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
        for row in mask[y0 * w..(y0 + stride) * w].chunks_exact(w) {
            for &v in &row[x0..x0 + stride] {
                if v != 0 {
                    *counts.entry(v).or_default() += 1;
                }
            }
        }
        let labelled: usize = counts.values().sum();
        let best = counts
            .iter()
            .max_by_key(|&(v, k)| (*k, std::cmp::Reverse(*v)));
        if let Some((&v, &k)) = best
            && 2 * k >= labelled
        {
            examples.chips.push(i);
            examples
                .classes
                .push(values.binary_search(&v).expect("a value seen in the mask"));
        }
    }
    Ok((examples, values))
}

/// The chips under pixel positions `(x, y, class)`: each point labels the chip whose centre
/// cell holds it (the chip nearest to it). Points off the image are errors that name them.
pub fn chip_examples_from_points(
    grid: &ChipGrid,
    points: &[(usize, usize, usize)],
) -> Result<Examples, FewShotError> {
    let (w, h) = (grid.width(), grid.height());
    let (chip, stride) = (grid.chip(), grid.stride());
    let inset = (chip - stride) / 2;
    // The chip whose centre cell holds `v` along one axis: the last start at or before
    // `v - inset`, so edge pixels go to the edge chip.
    let nearest = |starts: &[u32], v: usize| {
        let target = v.saturating_sub(inset) as u32;
        starts.partition_point(|&s| s <= target).saturating_sub(1)
    };
    let mut examples = Examples::default();
    for (i, &(x, y, class)) in points.iter().enumerate() {
        if x >= w || y >= h {
            return Err(FewShotError::Labels(format!(
                "point {} at ({x}, {y}) is off the {w} × {h} image; give positions in pixels \
                 from the top-left corner",
                i + 1
            )));
        }
        let chip_index =
            nearest(grid.row_starts(), y) * grid.cols() + nearest(grid.col_starts(), x);
        examples.chips.push(chip_index);
        examples.classes.push(class);
    }
    Ok(examples)
}

/// The class of each chip by its pixels' majority in `truth` (one value per pixel), when
/// that value covers at least `purity` of the chip and is not `ignore`: the chips a user
/// would click as clear examples. For evaluation against labelled images.
pub fn chip_majority(
    grid: &ChipGrid,
    truth: &[u32],
    ignore: Option<u32>,
    purity: f32,
) -> Vec<Option<u32>> {
    let w = grid.width();
    let chip = grid.chip();
    grid.positions()
        .iter()
        .map(|&(x, y)| {
            let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
            for row in truth[y as usize * w..(y as usize + chip) * w].chunks_exact(w) {
                for &v in &row[x as usize..x as usize + chip] {
                    *counts.entry(v).or_default() += 1;
                }
            }
            let (&v, &k) = counts
                .iter()
                .max_by_key(|&(v, k)| (*k, std::cmp::Reverse(*v)))?;
            (Some(v) != ignore && k as f32 >= purity * (chip * chip) as f32).then_some(v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stroke_labels_the_chips_whose_centre_cell_it_crosses() {
        // 8 × 8 image, chips of 4 every 2: a 3 × 3 grid, centre cells 2 × 2.
        let grid = ChipGrid::new(8, 8, 4, 2).unwrap();
        let mut mask = vec![0u32; 64];
        mask[3 * 8 + 3] = 7; // chip 0's centre cell is x, y in 1..3: not it; chip 4's is 3..5.
        mask[8 + 1] = 9; // chip 0's centre cell
        let (ex, values) = chip_examples_from_mask(&grid, &mask).unwrap();
        assert_eq!(values, vec![7, 9]);
        assert_eq!(ex.chips, vec![0, 4]);
        assert_eq!(ex.classes, vec![1, 0]);
    }

    #[test]
    fn a_mask_of_another_size_and_a_missing_class_are_explained() {
        let grid = ChipGrid::new(8, 8, 4, 2).unwrap();
        let e = chip_examples_from_mask(&grid, &[0; 10]).unwrap_err();
        assert!(e.to_string().contains("same size"), "{e}");
        let ex = Examples {
            chips: vec![0],
            classes: vec![0],
        };
        let e = ex.check(9, &["a".into(), "b".into()]).unwrap_err();
        assert!(e.to_string().contains("no chip is labelled b"), "{e}");
    }

    #[test]
    fn a_point_labels_the_chip_whose_centre_cell_holds_it() {
        let grid = ChipGrid::new(8, 8, 4, 2).unwrap();
        // Centre cells: chip columns at x 1..3, 3..5, 5..7 (the edge pixels to the edges).
        let ex = chip_examples_from_points(&grid, &[(0, 0, 0), (3, 4, 1), (7, 7, 0)]).unwrap();
        assert_eq!(ex.chips, vec![0, 4, 8]);
        assert_eq!(ex.classes, vec![0, 1, 0]);
        let e = chip_examples_from_points(&grid, &[(8, 0, 0)]).unwrap_err();
        assert!(e.to_string().contains("point 1 at (8, 0)"), "{e}");
    }

    #[test]
    fn the_majority_needs_its_purity() {
        let grid = ChipGrid::new(4, 4, 4, 4).unwrap();
        let mut truth = vec![1u32; 16];
        truth[..6].fill(2);
        assert_eq!(chip_majority(&grid, &truth, None, 0.6), vec![Some(1)]);
        assert_eq!(chip_majority(&grid, &truth, None, 0.7), vec![None]);
        assert_eq!(chip_majority(&grid, &truth, Some(1), 0.5), vec![None]);
    }
}
