//! Rendering Gaussian atom columns into an intensity buffer.

/// One atom column: a 2-D isotropic Gaussian of peak `amp` at (`x`, `y`) in pixel
/// coordinates (pixel `(i, j)` samples the point `(i, j)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Atom {
    /// Column position, pixels.
    pub(crate) x: f32,
    /// Row position, pixels.
    pub(crate) y: f32,
    /// Peak intensity.
    pub(crate) amp: f32,
    /// Gaussian sigma, pixels.
    pub(crate) sigma: f32,
}

/// How far from its centre an atom is drawn, in sigmas (the tail beyond is < 3.4e-4).
const REACH_SIGMAS: f32 = 4.0;

/// Adds every atom to the row-major `width`×`height` buffer, each only within ±4σ of its
/// centre. The Gaussian is separable, so each atom costs two short `exp` tables and one
/// multiply-add per pixel of its window.
pub(crate) fn render(buf: &mut [f32], width: usize, height: usize, atoms: &[Atom]) {
    let mut gx: Vec<f32> = Vec::new();
    let mut gy: Vec<f32> = Vec::new();
    for a in atoms {
        let Some((x0, x1)) = window(a.x, a.sigma, width) else {
            continue;
        };
        let Some((y0, y1)) = window(a.y, a.sigma, height) else {
            continue;
        };
        let k = -0.5 / (a.sigma * a.sigma);
        gx.clear();
        gx.extend((x0..=x1).map(|x| (k * (x as f32 - a.x).powi(2)).exp()));
        gy.clear();
        gy.extend((y0..=y1).map(|y| a.amp * (k * (y as f32 - a.y).powi(2)).exp()));
        for (row, &wy) in (y0..=y1).zip(gy.iter()) {
            let line = &mut buf[row * width + x0..=row * width + x1];
            for (p, &wx) in line.iter_mut().zip(gx.iter()) {
                *p += wy * wx;
            }
        }
    }
}

/// The inclusive pixel range within ±4σ of `c`, clipped to `0..n`; `None` if empty.
fn window(c: f32, sigma: f32, n: usize) -> Option<(usize, usize)> {
    let r = REACH_SIGMAS * sigma;
    let lo = (c - r).floor().max(0.0);
    let hi = (c + r).ceil().min(n as f32 - 1.0);
    if lo > hi {
        return None;
    }
    Some((lo as usize, hi as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_atom_peak_and_volume() {
        let (w, h) = (64, 48);
        let mut buf = vec![0.0f32; w * h];
        let atom = Atom {
            x: 30.0,
            y: 20.0,
            amp: 1.0,
            sigma: 2.0,
        };
        render(&mut buf, w, h, &[atom]);
        assert!((buf[20 * w + 30] - 1.0).abs() < 1e-6);
        let volume: f32 = buf.iter().sum();
        let expected = 2.0 * std::f32::consts::PI * 4.0;
        assert!((volume - expected).abs() / expected < 1e-3, "{volume}");
    }

    #[test]
    fn atoms_off_image_are_clipped_or_skipped() {
        let (w, h) = (16, 16);
        let mut buf = vec![0.0f32; w * h];
        let atoms = [
            Atom {
                x: -3.0,
                y: 5.0,
                amp: 1.0,
                sigma: 1.5,
            },
            Atom {
                x: 500.0,
                y: 5.0,
                amp: 1.0,
                sigma: 1.5,
            },
            Atom {
                x: 8.0,
                y: -100.0,
                amp: 1.0,
                sigma: 1.5,
            },
        ];
        render(&mut buf, w, h, &atoms);
        assert!(buf[5 * w] > 0.0);
        assert_eq!(buf[5 * w + 15], 0.0);
    }
}
