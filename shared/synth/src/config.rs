//! Scene parameters: [`SceneConfig`] and the enums it is built from.

use crate::error::{SynthError, check_range, check_size};
use crate::noise::NoiseLevel;

/// Which arrangement of phases a scene shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SceneKind {
    /// A crystal (truth 0) on the left beside a disordered region (truth 1) on the right,
    /// separated by a sinusoidal front. Each phase covers roughly 25–75 % of the image.
    #[default]
    OrderDisorder,
    /// Two crystal grains of different orientation and slightly different spacing
    /// (truth 0 on top, truth 1 below, split by a curved grain boundary) on the left, and a
    /// disordered region (truth 2) on the right behind a curved front.
    ThreePhase,
    /// Disordered islands (truth 1): `count` irregular ellipses inside a crystal matrix
    /// (truth 0). `count` must be in `1..=64`.
    Islands {
        /// Number of islands.
        count: usize,
    },
}

/// The projected crystal structure of the ordered phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatticeKind {
    /// One bright column per square cell.
    Square,
    /// One bright column per cell of a hexagonal (triangular) lattice.
    Hexagonal,
    /// A perovskite seen along `[001]`: bright A-site columns on a square lattice with a
    /// dimmer B-site column at each cell centre (as in LaFeO3/SrTiO3 HAADF images).
    #[default]
    Perovskite,
}

impl LatticeKind {
    /// Atom columns per unit cell.
    pub(crate) fn atoms_per_cell(self) -> usize {
        match self {
            LatticeKind::Square | LatticeKind::Hexagonal => 1,
            LatticeKind::Perovskite => 2,
        }
    }

    /// Angle between the two lattice vectors, in radians.
    pub(crate) fn cell_angle(self) -> f32 {
        match self {
            LatticeKind::Hexagonal => std::f32::consts::FRAC_PI_3,
            LatticeKind::Square | LatticeKind::Perovskite => std::f32::consts::FRAC_PI_2,
        }
    }
}

/// Everything that defines a synthetic scene. The same config always gives the same image.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneConfig {
    /// Width in pixels (16..=65536, at most 2^28 pixels in all).
    pub width: usize,
    /// Height in pixels (16..=65536).
    pub height: usize,
    /// Seed of every random choice (geometry, atoms, noise).
    pub seed: u64,
    /// The arrangement of phases.
    pub kind: SceneKind,
    /// Structure of the crystalline phases.
    pub lattice: LatticeKind,
    /// Lattice constant in pixels (4..=64, and at most half the shorter side).
    pub spacing_px: f32,
    /// Gaussian sigma of a crystalline atom column, in pixels (0.5..=spacing/2).
    pub atom_sigma_px: f32,
    /// Rotation of the (first) crystal in degrees; `None` draws 2–10° of either sign.
    pub rotation_deg: Option<f32>,
    /// Sigma of disordered atoms relative to `atom_sigma_px` (0.5..=4); >1 blurs them.
    pub disorder_blur: f32,
    /// Mean intensity of the disordered phase relative to the crystal (0..=4). At 1.0 the
    /// phases differ by texture only, not by mean brightness.
    pub disorder_intensity: f32,
    /// Detector noise.
    pub noise: NoiseLevel,
    /// Standard deviation of the horizontal scan-line jitter in pixels (0..=8); 0 disables it.
    pub scan_jitter_px: f32,
}

impl Default for SceneConfig {
    fn default() -> Self {
        Self {
            width: 1024,
            height: 1024,
            seed: 0,
            kind: SceneKind::default(),
            lattice: LatticeKind::default(),
            spacing_px: 10.0,
            atom_sigma_px: 1.4,
            rotation_deg: None,
            disorder_blur: 1.6,
            disorder_intensity: 1.0,
            noise: NoiseLevel::default(),
            scan_jitter_px: 0.0,
        }
    }
}

impl SceneConfig {
    /// Checks every field; [`crate::generate`] calls this first.
    pub fn validate(&self) -> Result<(), SynthError> {
        check_size(self.width, self.height)?;
        let short = self.width.min(self.height) as f32;
        check_range(
            "spacing_px",
            self.spacing_px,
            4.0,
            64.0f32.min(short / 2.0),
            "must be 4..=64 px and at most half the shorter side",
        )?;
        check_range(
            "atom_sigma_px",
            self.atom_sigma_px,
            0.5,
            self.spacing_px / 2.0,
            "must be 0.5..=spacing_px/2",
        )?;
        if let Some(r) = self.rotation_deg {
            check_range("rotation_deg", r, -360.0, 360.0, "must be -360..=360")?;
        }
        check_range(
            "disorder_blur",
            self.disorder_blur,
            0.5,
            4.0,
            "must be 0.5..=4",
        )?;
        check_range(
            "disorder_intensity",
            self.disorder_intensity,
            0.0,
            4.0,
            "must be 0..=4",
        )?;
        check_range(
            "scan_jitter_px",
            self.scan_jitter_px,
            0.0,
            8.0,
            "must be 0..=8",
        )?;
        if let SceneKind::Islands { count } = self.kind {
            if !(1..=64).contains(&count) {
                return Err(SynthError::BadParam {
                    name: "Islands::count",
                    value: count as f64,
                    reason: "must be 1..=64",
                });
            }
        }
        self.noise.params().validate()
    }
}
