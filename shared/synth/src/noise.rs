//! Detector noise: Poisson shot noise at a dose, plus Gaussian read noise.

use std::sync::{Mutex, PoisonError};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::error::{SynthError, check_range};
use crate::streams;

/// How noisy the detector is. Named levels are presets of [`NoiseParams`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum NoiseLevel {
    /// No noise at all: the clean render.
    None,
    /// 400 electrons per pixel at intensity 1, read noise 0.01: a good-dose image.
    #[default]
    Low,
    /// 100 electrons per pixel at intensity 1, read noise 0.02.
    Medium,
    /// 25 electrons per pixel at intensity 1, read noise 0.04: a low-dose image whose
    /// phases are still told apart by texture in 64-px chips.
    High,
    /// Any other dose and read noise.
    Custom(NoiseParams),
}

/// Parameters of the noise model. A pixel of clean intensity `v` becomes
/// `Poisson(v · dose) / dose + read_sigma · N(0, 1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseParams {
    /// Expected electron count per pixel at intensity 1.0 (finite, > 0), or `None` for no
    /// shot noise.
    pub dose: Option<f32>,
    /// Standard deviation of additive Gaussian read noise (0..=1), in intensity units.
    pub read_sigma: f32,
}

impl NoiseLevel {
    /// The dose and read noise this level stands for.
    pub fn params(&self) -> NoiseParams {
        match *self {
            NoiseLevel::None => NoiseParams {
                dose: None,
                read_sigma: 0.0,
            },
            NoiseLevel::Low => NoiseParams {
                dose: Some(400.0),
                read_sigma: 0.01,
            },
            NoiseLevel::Medium => NoiseParams {
                dose: Some(100.0),
                read_sigma: 0.02,
            },
            NoiseLevel::High => NoiseParams {
                dose: Some(25.0),
                read_sigma: 0.04,
            },
            NoiseLevel::Custom(p) => p,
        }
    }
}

impl NoiseParams {
    /// Checks that the dose is finite and positive and the read noise within 0..=1.
    pub fn validate(&self) -> Result<(), SynthError> {
        if let Some(d) = self.dose {
            check_range("dose", d, f32::MIN_POSITIVE, 1e9, "must be > 0 and finite")?;
        }
        check_range("read_sigma", self.read_sigma, 0.0, 1.0, "must be 0..=1")
    }
}

/// Adds noise to `pixels` in place. Negative clean values count as 0 for shot noise; the
/// result is not clipped (read noise can push it below 0).
///
/// Deterministic for a seed whatever the number of threads: the pixels are split into
/// fixed blocks, each with its own position in the random stream, and blocks are shared
/// among the available cores. The stream is independent of those that place atoms, so a
/// scene's truth and clean image do not change with the noise level.
pub fn apply_noise(pixels: &mut [f32], level: &NoiseLevel, seed: u64) -> Result<(), SynthError> {
    let p = level.params();
    p.validate()?;
    if p.dose.is_none() && p.read_sigma == 0.0 {
        return Ok(());
    }
    let blocks: Vec<(usize, &mut [f32])> = pixels.chunks_mut(BLOCK).enumerate().collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(blocks.len());
    let queue = Mutex::new(blocks);
    let work = || {
        loop {
            let job = queue.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let Some((index, block)) = job else { break };
            noise_block(block, &p, seed, index);
        }
    };
    let work = &work;
    std::thread::scope(|s| {
        // A thread that cannot be started is no loss: this one works the queue too.
        for _ in 1..threads {
            let _ = std::thread::Builder::new().spawn_scoped(s, work);
        }
        work();
    });
    Ok(())
}

/// Pixels per block of the noise stream.
const BLOCK: usize = 1 << 16;
/// Stream words reserved per block (a block uses a few per pixel, far fewer than this).
const WORDS_PER_BLOCK: u128 = 1 << 32;

fn noise_block(pixels: &mut [f32], p: &NoiseParams, seed: u64, index: usize) {
    let mut rng = streams::rng(seed, streams::NOISE);
    rng.set_word_pos(index as u128 * WORDS_PER_BLOCK);
    match p.dose {
        Some(dose) => {
            let dose = f64::from(dose);
            let inv = 1.0 / dose;
            for v in pixels.iter_mut() {
                let lambda = f64::from(v.max(0.0)) * dose;
                let k = poisson(&mut rng, lambda);
                *v = (k * inv) as f32 + read(&mut rng, p.read_sigma);
            }
        }
        None => {
            for v in pixels.iter_mut() {
                *v += read(&mut rng, p.read_sigma);
            }
        }
    }
}

fn read(rng: &mut ChaCha8Rng, sigma: f32) -> f32 {
    if sigma > 0.0 {
        let z: f32 = rng.sample(StandardNormal);
        sigma * z
    } else {
        0.0
    }
}

/// Below this mean, Poisson counts are drawn exactly by inversion; above it, by the normal
/// approximation (rounded, clipped at 0), whose error is negligible at such counts.
const EXACT_BELOW: f64 = 30.0;

/// `1 / k`, so that the inversion loop multiplies instead of dividing. Its length caps the
/// count, far beyond any plausible draw below [`EXACT_BELOW`].
const RECIP: [f64; 400] = {
    let mut t = [0.0; 400];
    let mut k = 1;
    while k < t.len() {
        t[k] = 1.0 / k as f64;
        k += 1;
    }
    t
};

/// A Poisson-distributed count with mean `lambda` (≥ 0), as `f64`.
fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> f64 {
    if lambda <= 0.0 || !lambda.is_finite() {
        return 0.0;
    }
    if lambda < EXACT_BELOW {
        // Inversion: one uniform, about `lambda` cheap steps.
        let u: f64 = rng.random();
        let mut p = (-lambda).exp();
        let mut cdf = p;
        let mut k = 0;
        while u > cdf && k + 1 < RECIP.len() {
            k += 1;
            p *= lambda * RECIP[k];
            cdf += p;
        }
        k as f64
    } else {
        let z: f64 = rng.sample(StandardNormal);
        (lambda + lambda.sqrt() * z).round().max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_mean_and_variance() {
        let mut rng = streams::rng(7, 0);
        for &lambda in &[0.5, 4.0, 20.0, 80.0] {
            let n = 200_000;
            let xs: Vec<f64> = (0..n).map(|_| poisson(&mut rng, lambda)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            assert!(
                (mean - lambda).abs() < 0.02 * lambda + 0.02,
                "{lambda}: {mean}"
            );
            assert!(
                (var - lambda).abs() < 0.05 * lambda + 0.05,
                "{lambda}: {var}"
            );
        }
    }

    #[test]
    fn none_leaves_pixels_alone_and_bad_params_fail() {
        let mut px = vec![0.25f32; 100];
        apply_noise(&mut px, &NoiseLevel::None, 1).expect("valid");
        assert!(px.iter().all(|&v| v == 0.25));
        let bad = NoiseLevel::Custom(NoiseParams {
            dose: Some(-1.0),
            read_sigma: 0.0,
        });
        assert!(apply_noise(&mut px, &bad, 1).is_err());
        let bad = NoiseLevel::Custom(NoiseParams {
            dose: None,
            read_sigma: f32::NAN,
        });
        assert!(apply_noise(&mut px, &bad, 1).is_err());
    }

    #[test]
    fn threads_do_not_change_the_result() {
        let clean: Vec<f32> = (0..3 * BLOCK + 17)
            .map(|i| (i % 101) as f32 / 100.0)
            .collect();
        let mut threaded = clean.clone();
        apply_noise(&mut threaded, &NoiseLevel::Medium, 9).expect("valid");
        let mut serial = clean;
        let p = NoiseLevel::Medium.params();
        for (i, block) in serial.chunks_mut(BLOCK).enumerate() {
            noise_block(block, &p, 9, i);
        }
        assert_eq!(threaded, serial);
    }

    #[test]
    fn noise_is_deterministic_and_scaled() {
        let clean = vec![0.5f32; 10_000];
        let mut a = clean.clone();
        let mut b = clean.clone();
        apply_noise(&mut a, &NoiseLevel::High, 3).expect("valid");
        apply_noise(&mut b, &NoiseLevel::High, 3).expect("valid");
        assert_eq!(a, b);
        let sd = |v: &[f32]| {
            let m = v.iter().sum::<f32>() / v.len() as f32;
            (v.iter().map(|x| (x - m).powi(2)).sum::<f32>() / v.len() as f32).sqrt()
        };
        let mut low = clean.clone();
        apply_noise(&mut low, &NoiseLevel::Low, 3).expect("valid");
        // Expected sd: sqrt(0.5/25 + 0.04^2) = 0.147 and sqrt(0.5/400 + 0.01^2) = 0.0367.
        assert!((sd(&a) - 0.147).abs() < 0.01, "{}", sd(&a));
        assert!((sd(&low) - 0.0367).abs() < 0.004, "{}", sd(&low));
    }
}
