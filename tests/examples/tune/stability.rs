//! `--stability`: for the first candidate, pixel ARI between five seeds and between the grid
//! and the grid shifted by half a chip, per image and group, without using the truth.

use tessera_imaging::Raster;
use tessera_segment::{SegmentParams, Timings, finish_image, prepare};
use tessera_synth::adjusted_rand_index;

use crate::{cases::Case, embed::Embedder};

fn labels(emb: &mut Embedder, raster: &Raster, p: &SegmentParams) -> (Vec<u32>, Vec<Vec<u32>>) {
    let prepared = prepare(raster, p, &mut Timings::default()).unwrap();
    let (rows, dim, _) = emb.embed(&prepared.chips, p.chip);
    let run = |seed: u64| {
        let q = SegmentParams { seed, ..p.clone() };
        let img = Some(&prepared.normalized);
        finish_image(&prepared.grid, img, &rows, dim, &q, Timings::default())
            .unwrap()
            .labels
    };
    let base = run(p.seed);
    let others = (1..=4).map(|s| run(p.seed.wrapping_add(s))).collect();
    (base, others)
}

/// `values` (`w × h`) without the first `d` columns and rows.
fn crop<T: Copy>(values: &[T], w: usize, h: usize, d: usize) -> Vec<T> {
    (d..h)
        .flat_map(|y| values[y * w + d..(y + 1) * w].iter().copied())
        .collect()
}

/// Prints, per group, the lowest seed ARI and the shift ARI (mean and lowest).
pub(crate) fn report(emb: &mut Embedder, all: &[Case], groups: &[String], p: &SegmentParams) {
    println!("\n== stability: lowest ARI among five seeds; ARI under a half-chip shift");
    for g in groups {
        let (mut seeds, mut shifts) = (Vec::new(), Vec::new());
        for case in all.iter().filter(|c| &c.group == g) {
            let r = &case.raster;
            let (base, others) = labels(emb, r, p);
            let worst = (others.iter())
                .map(|o| adjusted_rand_index(&base, o, None).unwrap())
                .fold(1.0f64, f64::min);
            let d = p.chip / 2;
            let shifted = Raster {
                width: r.width - d,
                height: r.height - d,
                pixels: crop(&r.pixels, r.width, r.height, d),
            };
            let (moved, _) = labels(emb, &shifted, p);
            let same = crop(&base, r.width, r.height, d);
            let shift = adjusted_rand_index(&same, &moved, None).unwrap();
            println!("    {:<34} seeds {worst:.3} shift {shift:.3}", case.name);
            seeds.push(worst);
            shifts.push(shift);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let min = |v: &[f64]| v.iter().copied().fold(1.0f64, f64::min);
        println!(
            "  {g:<10} seeds: mean {:.3} lowest {:.3} | shift: mean {:.3} lowest {:.3}",
            mean(&seeds),
            min(&seeds),
            mean(&shifts),
            min(&shifts)
        );
    }
}
