//! Putting a scene together: regions, atoms, scan jitter, noise.

use rand::Rng;

use crate::SynthImage;
use crate::config::{SceneConfig, SceneKind};
use crate::disorder::Amorphous;
use crate::error::SynthError;
use crate::lattice::{Crystal, cell_area, mean_amp};
use crate::noise::apply_noise;
use crate::regions::truth_map;
use crate::render::{Atom, render};
use crate::{scan, streams};

/// Intensity between atom columns.
pub const BACKGROUND: f32 = 0.05;

/// Renders the scene `cfg` describes. The same config always gives the same image, and
/// changing only `noise` leaves the truth and the clean image as they were.
///
/// Pixels are about 0.05 (background) to 0.9 (bright columns) before noise; noise may push
/// them slightly outside `[0, 1]`.
pub fn generate(cfg: &SceneConfig) -> Result<SynthImage, SynthError> {
    cfg.validate()?;
    let (w, h) = (cfg.width, cfg.height);
    let mut geo = streams::rng(cfg.seed, streams::GEOMETRY);
    let angle = match cfg.rotation_deg {
        Some(deg) => deg.to_radians(),
        None => {
            let sign = if geo.random::<bool>() { 1.0 } else { -1.0 };
            sign * geo.random_range(2.0f32..=10.0).to_radians()
        }
    };
    let mut truth = truth_map(cfg.kind, w, h, &mut geo);

    let mut crystal_rng = streams::rng(cfg.seed, streams::CRYSTAL);
    let (lattice, sigma) = (cfg.lattice, cfg.atom_sigma_px);
    let first = Crystal::new(
        lattice,
        cfg.spacing_px,
        angle,
        sigma,
        0,
        w,
        h,
        &mut crystal_rng,
    );
    let (crystals, disordered_phase) = match cfg.kind {
        SceneKind::OrderDisorder | SceneKind::Islands { .. } => (vec![first], 1),
        SceneKind::ThreePhase => {
            let turn = geo.random_range(20.0f32..=35.0).to_radians();
            let sign = if geo.random::<bool>() { 1.0 } else { -1.0 };
            let spacing = cfg.spacing_px * geo.random_range(1.0..=1.1);
            let angle = angle + sign * turn;
            let second = Crystal::new(lattice, spacing, angle, sigma, 1, w, h, &mut crystal_rng);
            (vec![first, second], 2)
        }
    };
    // Same column density and integrated intensity per column as the (first) crystal, so
    // that at disorder_intensity = 1 the mean brightness matches and only texture differs.
    let blur = cfg.disorder_blur;
    let amorphous = Amorphous {
        pitch: (cell_area(lattice, cfg.spacing_px) / lattice.atoms_per_cell() as f32).sqrt(),
        amp: mean_amp(lattice) * cfg.disorder_intensity / (blur * blur),
        sigma: sigma * blur,
        phase: disordered_phase,
    };

    // Columns keep clear of other phases' columns across a boundary, so that no two
    // blobs stack up there (grain on grain, or disorder on crystal).
    let near_crystal = |upto: usize, p: (f32, f32), gap: f32| {
        crystals[..upto]
            .iter()
            .any(|c| c.occupied_near(&truth, w, h, p, gap * gap))
    };
    let mut atoms: Vec<Atom> = Vec::new();
    let grain_gap = (2.5 * sigma).min(0.8 * cfg.spacing_px);
    for (k, c) in crystals.iter().enumerate() {
        let blocked = |p| near_crystal(k, p, grain_gap);
        c.atoms(&truth, w, h, blocked, &mut crystal_rng, &mut atoms);
    }
    let cross_gap = (0.6 * amorphous.pitch)
        .max(2.5 * amorphous.sigma)
        .min(0.8 * cfg.spacing_px);
    let blocked = |p| near_crystal(crystals.len(), p, cross_gap);
    let mut rng = streams::rng(cfg.seed, streams::DISORDER);
    amorphous.atoms(&truth, w, h, blocked, &mut rng, &mut atoms);

    let mut pixels = vec![BACKGROUND; w * h];
    render(&mut pixels, w, h, &atoms);
    if cfg.scan_jitter_px > 0.0 {
        let mut rng = streams::rng(cfg.seed, streams::SCAN);
        scan::jitter(&mut pixels, &mut truth, w, cfg.scan_jitter_px, &mut rng);
    }
    apply_noise(&mut pixels, &cfg.noise, cfg.seed)?;
    Ok(SynthImage {
        width: w,
        height: h,
        pixels,
        truth,
    })
}
