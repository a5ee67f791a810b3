//! Times the non-model work on a 4096 × 4096 image with 64 px chips at stride 32
//! (best of 3 runs each).
//!
//! `cargo run --release -p tessera-imaging --example overhead`

use std::time::Instant;

use tessera_imaging::{
    ChipGrid, ImagingError, LegendEntry, Normalization, Raster, encode_labels_tiff, extract_chips,
    extract_chips_into, normalize, normalize_in_place, paint_labels, render_overlay,
};

/// Runs `f` three times, prints the fastest time, returns the last result.
fn best_of_3<T>(
    name: &str,
    mut f: impl FnMut() -> Result<T, ImagingError>,
) -> Result<T, ImagingError> {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..3 {
        let t = Instant::now();
        out = Some(f()?);
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("{name:<34} {best:>8.1} ms");
    out.ok_or_else(|| ImagingError::InvalidArgument("no run".into()))
}

fn main() -> Result<(), ImagingError> {
    let (w, h, chip, stride) = (4096, 4096, 64, 32);
    let mut seed = 12345u64;
    let pixels: Vec<f32> = (0..w * h)
        .map(|i| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = (seed >> 40) as f32 / (1u64 << 24) as f32;
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            let texture = if x + 0.3 * y < 2500.0 {
                (x * 0.7).sin() * (y * 0.7).sin()
            } else {
                0.0
            };
            1000.0 + 300.0 * texture + 200.0 * noise
        })
        .collect();
    let raster = Raster::new(w, h, pixels)?;
    println!("4096 × 4096, chip {chip}, stride {stride}");

    let norm = best_of_3("normalize", || {
        normalize(&raster, &Normalization::default())
    })?;
    let mut scratch = raster.clone();
    best_of_3("normalize_in_place", || {
        scratch.pixels.copy_from_slice(&raster.pixels);
        normalize_in_place(&mut scratch, &Normalization::default())
    })?;
    best_of_3("  (reference: select_nth on a copy)", || {
        let mut copy = raster.pixels.clone();
        let n = copy.len();
        let (lo, hi) = (n * 5 / 1000, n * 995 / 1000);
        copy.select_nth_unstable_by(hi, f32::total_cmp);
        copy[..hi].select_nth_unstable_by(lo, f32::total_cmp);
        Ok(copy[lo])
    })?;

    let grid = best_of_3("ChipGrid::new", || ChipGrid::new(w, h, chip, stride))?;
    let chips = best_of_3("extract_chips (all at once)", || {
        extract_chips(&norm, &grid)
    })?;
    println!("  {} chips, {} MiB", grid.len(), (chips.len() * 4) >> 20);
    drop(chips);
    let mut batch = vec![0.0f32; 256 * chip * chip];
    best_of_3("extract_chips_into (256 per batch)", || {
        for first in (0..grid.len()).step_by(256) {
            let end = (first + 256).min(grid.len());
            extract_chips_into(
                &norm,
                &grid,
                first..end,
                &mut batch[..(end - first) * chip * chip],
            )?;
        }
        Ok(())
    })?;

    // Two regions split along the texture front, plus scattered third-label chips.
    let labels: Vec<u32> = grid
        .positions()
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            if i % 37 == 0 {
                2
            } else if x as f32 + 0.3 * y as f32 + 32.0 < 2500.0 {
                0
            } else {
                1
            }
        })
        .collect();
    let map = best_of_3("paint_labels", || paint_labels(&grid, &labels, 3))?;
    let block = ChipGrid::new(w, h, chip, chip)?;
    let block_labels: Vec<u32> = (0..block.len() as u32).map(|i| i % 3).collect();
    best_of_3("paint_labels (stride = chip)", || {
        paint_labels(&block, &block_labels, 3)
    })?;

    let legend: Vec<LegendEntry> = (0..3)
        .map(|l| LegendEntry {
            label: l,
            text: format!("{l}  33.3 %  (5000 chips)"),
        })
        .collect();
    let png = best_of_3("render_overlay (PNG)", || {
        render_overlay(&norm, &map, 0.4, &legend)
    })?;
    println!("  {} KiB", png.len() >> 10);
    let tif = best_of_3("encode_labels_tiff", || encode_labels_tiff(&map, w, h))?;
    println!("  {} KiB", tif.len() >> 10);
    Ok(())
}
