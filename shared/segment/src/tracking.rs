//! Stable community ids across the frames of a run.
//!
//! Each frame is clustered on its own, so its community numbers are arbitrary. A run keeps
//! one [`Track`] per phase it has seen, with a unit direction in embedding space; each new
//! frame's communities are matched to the tracks one-to-one, maximising total cosine
//! similarity (Hungarian), and the matched tracks drift towards what they matched.

use serde::{Deserialize, Serialize};

use crate::SegmentError;
use crate::assignment::max_weight_matching;

/// The mean of the L2-normalised embedding rows of each community, L2-normalised again:
/// `n_communities × dim`. `embeddings` is the raw `n_chips × dim` model output and `labels`
/// the chips' communities. A community with no usable chip stays a zero row; chips labelled
/// `n_communities` or more, and zero or non-finite rows, are ignored.
pub fn community_directions(
    embeddings: &[f32],
    dim: usize,
    labels: &[u32],
    n_communities: usize,
) -> Vec<f32> {
    let mut out = vec![0f32; n_communities * dim];
    for (chip, &label) in labels.iter().enumerate() {
        let (Some(row), Some(sum)) = (
            embeddings.get(chip * dim..(chip + 1) * dim),
            out.get_mut(label as usize * dim..(label as usize + 1) * dim),
        ) else {
            continue;
        };
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 && norm.is_finite() {
            sum.iter_mut().zip(row).for_each(|(s, v)| *s += v / norm);
        }
    }
    for c in 0..n_communities {
        normalise(&mut out[c * dim..(c + 1) * dim]);
    }
    out
}

/// Similarities are compared in steps of 1/this, so that float noise cannot decide a tie.
const SIMILARITY_STEPS: f32 = 1_048_576.0;

/// How frames' communities are matched to a run's tracks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackingParams {
    /// Cosine similarity below which a community starts a new track rather than continuing
    /// one. Pairs with zero or negative similarity never match, whatever this says.
    pub min_similarity: f32,
    /// Weight of the newest frame when a track's direction is updated (an exponential moving
    /// average, re-normalised): 0 keeps the first direction, 1 follows the latest frame.
    pub update_weight: f32,
}

impl Default for TrackingParams {
    fn default() -> Self {
        Self {
            min_similarity: 0.5,
            update_weight: 0.3,
        }
    }
}

impl TrackingParams {
    /// Checks that the parameters are usable.
    pub fn validate(&self) -> Result<(), SegmentError> {
        if self.min_similarity.is_nan() {
            return Err(invalid("min_similarity is NaN"));
        }
        if !(0.0..=1.0).contains(&self.update_weight) {
            return Err(invalid(format!(
                "update_weight {} is not in [0, 1]",
                self.update_weight
            )));
        }
        Ok(())
    }
}

/// One phase followed through a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Its stable community id.
    pub id: u32,
    /// Its unit direction in embedding space (`dim` values).
    pub direction: Vec<f32>,
    /// Frames in which it appeared.
    pub frames_seen: u64,
    /// The last frame (0-based, in the order of [`RunTracks::assign`] calls) it appeared in.
    pub last_frame: u64,
}

/// The community tracks of one run. Serializable, so that a clusterer can keep it in a store
/// and carry on after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunTracks {
    dim: usize,
    tracks: Vec<Track>,
    next_id: u32,
    frames: u64,
}

impl RunTracks {
    /// An empty run whose embeddings have `dim` values.
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            tracks: Vec::new(),
            next_id: 0,
            frames: 0,
        }
    }

    /// Assigns a stable id to each of this frame's communities and updates the tracks.
    /// `directions` is `n × dim` (from [`community_directions`]) and `sizes` the chips in
    /// each of the `n`. Returns `ids[local] = stable id`, one-to-one.
    ///
    /// The first frame gets `0..n` in local order. Later, communities are matched to tracks
    /// maximising total cosine similarity over pairs at or above `min_similarity`; the rest,
    /// and empty communities, get fresh ids (never reused) in local order. Unseen tracks stay.
    pub fn assign(
        &mut self,
        directions: &[f32],
        sizes: &[u32],
        params: &TrackingParams,
    ) -> Result<Vec<u32>, SegmentError> {
        params.validate()?;
        let (n, dim) = (sizes.len(), self.dim);
        if dim == 0 {
            return Err(invalid("the run's embedding dimension is 0"));
        }
        if directions.len() != n * dim {
            return Err(invalid(format!(
                "{} direction values for {n} communities of dimension {dim} (expected {})",
                directions.len(),
                n * dim
            )));
        }
        if let Some(t) = self.tracks.iter().find(|t| t.direction.len() != dim) {
            return Err(invalid(format!(
                "track {} has dimension {}, not {dim}",
                t.id,
                t.direction.len()
            )));
        }
        // Unit rows; unusable ones (empty, zero, non-finite) become zero and match nothing.
        let mut rows = directions.to_vec();
        for (row, &size) in rows.chunks_exact_mut(dim).zip(sizes) {
            normalise(row);
            if size == 0 {
                row.fill(0.0);
            }
        }
        let weights = match_weights(&rows, dim, &self.tracks, params.min_similarity);
        let matched = max_weight_matching(&weights, n, self.tracks.len());
        let fresh = matched.iter().filter(|t| t.is_none()).count();
        let fresh = u32::try_from(fresh).unwrap_or(u32::MAX);
        if self.next_id.checked_add(fresh).is_none() {
            return Err(invalid("track ids exhausted"));
        }
        let frame = self.frames;
        let mut ids = Vec::with_capacity(n);
        for (row, (&track, &size)) in rows.chunks_exact(dim).zip(matched.iter().zip(sizes)) {
            if let Some(t) = track {
                ids.push(self.tracks[t].follow(row, params.update_weight, frame));
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            if size > 0 && row.iter().any(|&v| v != 0.0) {
                let track = Track {
                    id,
                    direction: row.to_vec(),
                    frames_seen: 1,
                    last_frame: frame,
                };
                self.tracks.push(track);
            }
            ids.push(id);
        }
        self.frames += 1;
        Ok(ids)
    }

    /// The tracks, in id order.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Frames assigned so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The embedding dimension of the run.
    pub fn dim(&self) -> usize {
        self.dim
    }
}

impl Track {
    /// Continues the track with a matched direction in frame `frame`; returns its id.
    fn follow(&mut self, row: &[f32], weight: f32, frame: u64) -> u32 {
        let blend = |(a, b): (&f32, &f32)| (1.0 - weight) * a + weight * b;
        let mut d: Vec<f32> = self.direction.iter().zip(row).map(blend).collect();
        if normalise(&mut d) {
            self.direction = d;
        }
        self.frames_seen += 1;
        self.last_frame = frame;
        self.id
    }
}

/// The `n × m` (row-major) matching weights of unit `rows` (`n × dim`) against `m` tracks:
/// zero below `min_similarity`, else the similarity in [`SIMILARITY_STEPS`], scaled so that a
/// tie-break worth less than one step over a whole matching can prefer lower track ids, then
/// lower local indices.
fn match_weights(rows: &[f32], dim: usize, tracks: &[Track], min_similarity: f32) -> Vec<i128> {
    let (n, m) = (rows.len() / dim, tracks.len());
    let scale = n.min(m) as i128 * n as i128 * m as i128 + 1;
    let mut weights = vec![0i128; n * m];
    for (l, row) in rows.chunks_exact(dim).enumerate() {
        for (t, track) in tracks.iter().enumerate() {
            let s: f32 = row.iter().zip(&track.direction).map(|(a, b)| a * b).sum();
            if s >= min_similarity && s > 0.0 {
                let steps = (s * SIMILARITY_STEPS).round() as i128;
                weights[l * m + t] = steps * scale + ((m - t) * (n - l)) as i128;
            }
        }
    }
    weights
}

/// Scales `v` to unit length; a zero or non-finite `v` becomes zero. Returns whether it is
/// now a unit vector.
fn normalise(v: &mut [f32]) -> bool {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|x| *x /= norm);
        true
    } else {
        v.fill(0.0);
        false
    }
}

fn invalid(message: impl Into<String>) -> SegmentError {
    SegmentError::Params(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: TrackingParams = TrackingParams {
        min_similarity: 0.5,
        update_weight: 0.3,
    };

    /// Unit vectors at `degrees` in the plane.
    fn dirs(degrees: &[f32]) -> Vec<f32> {
        degrees
            .iter()
            .flat_map(|d| [d.to_radians().cos(), d.to_radians().sin()])
            .collect()
    }

    /// Assigns a frame of communities at `degrees`, five chips each.
    fn frame(run: &mut RunTracks, degrees: &[f32]) -> Vec<u32> {
        run.assign(&dirs(degrees), &vec![5; degrees.len()], &P)
            .unwrap()
    }

    /// A run whose first frame is `degrees`, which must get ids `0..n` in order.
    fn run_with(degrees: &[f32]) -> RunTracks {
        let mut run = RunTracks::new(2);
        assert_eq!(
            frame(&mut run, degrees),
            (0..degrees.len() as u32).collect::<Vec<_>>()
        );
        run
    }

    #[test]
    fn directions_are_unit_means_of_unit_rows() {
        // The long row counts as much as the short one; label 5 and the zero row are ignored.
        let emb = [10.0, 0.0, 0.0, 1.0, 3.0, 4.0, 0.0, 0.0, 1.0, 1.0];
        let d = community_directions(&emb, 2, &[0, 0, 1, 1, 5], 3);
        let s = std::f32::consts::FRAC_1_SQRT_2;
        let want = [s, s, 0.6, 0.8, 0.0, 0.0];
        assert!(
            d.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{d:?}"
        );
    }

    #[test]
    fn ids_follow_content_through_repeats_and_permutations() {
        let mut run = run_with(&[0.0, 90.0, 200.0]);
        assert_eq!(frame(&mut run, &[0.0, 90.0, 200.0]), [0, 1, 2]);
        assert_eq!(frame(&mut run, &[200.0, 5.0, 85.0]), [2, 0, 1]);
        assert_eq!((run.frames(), run.tracks().len()), (3, 3));
        assert!(
            run.tracks()
                .iter()
                .all(|t| t.frames_seen == 3 && t.last_frame == 2)
        );
    }

    #[test]
    fn a_new_phase_gets_a_fresh_id_and_a_vanished_one_keeps_its_own() {
        let mut run = run_with(&[0.0, 90.0]);
        // Phase 1 vanishes and a new one appears at 180°.
        assert_eq!(frame(&mut run, &[180.0, 2.0]), [2, 0]);
        let t1 = &run.tracks()[1];
        assert_eq!((t1.id, t1.frames_seen, t1.last_frame), (1, 1, 0));
        // It comes back and takes its old id.
        assert_eq!(frame(&mut run, &[1.0, 92.0, 178.0]), [0, 1, 2]);
        assert_eq!(run.tracks()[1].last_frame, 2);
        // An empty community gets a fresh id but no track.
        assert_eq!(
            run.assign(&dirs(&[0.0, 90.0]), &[5, 0], &P).unwrap(),
            [0, 3]
        );
        assert_eq!((run.tracks().len(), run.frames()), (3, 4));
    }

    #[test]
    fn below_the_threshold_starts_a_new_track() {
        // cos 45° ≈ 0.71 continues the track; cos 70° ≈ 0.34 does not.
        assert_eq!(frame(&mut run_with(&[0.0]), &[45.0]), [0]);
        let mut run = run_with(&[0.0]);
        assert_eq!(frame(&mut run, &[70.0]), [1]);
        // Fresh ids in local order; ids are never reused.
        assert_eq!(frame(&mut run, &[200.0, 0.0, 250.0]), [2, 0, 3]);
    }

    #[test]
    fn hungarian_beats_greedy() {
        // Tracks at 0° and 40°; locals at 15° and −20°, where cos(−20° − 40°) = 0.5 < 0.6.
        // Greedy takes the best pair, 15°→0° (0.97), and −20° is left with nothing; the
        // optimum is 15°→40° (0.91) and −20°→0° (0.94).
        let params = TrackingParams {
            min_similarity: 0.6,
            ..P
        };
        let mut run = RunTracks::new(2);
        run.assign(&dirs(&[0.0, 40.0]), &[5; 2], &params).unwrap();
        let cos = |a: f32, b: f32| (a - b).to_radians().cos();
        let greedy = cos(15.0, 0.0);
        let ids = run.assign(&dirs(&[15.0, -20.0]), &[5; 2], &params).unwrap();
        assert_eq!(ids, [1, 0]);
        assert!(cos(15.0, 40.0) + cos(-20.0, 0.0) > greedy + 0.8);
    }

    #[test]
    fn ties_go_to_the_lower_track_then_the_lower_local_and_nan_matches_nothing() {
        let mut run = run_with(&[0.0, 0.0]);
        assert_eq!(frame(&mut run, &[0.0, 0.0]), [0, 1]);
        assert_eq!(frame(&mut run, &[0.0]), [0]);
        assert_eq!(frame(&mut run_with(&[0.0]), &[10.0, -10.0]), [0, 1]);
        let mut run = run_with(&[0.0, 0.0]);
        let nan = [f32::NAN, 1.0, 1.0, 0.0];
        assert_eq!(run.assign(&nan, &[5; 2], &P).unwrap(), [2, 0]);
        assert_eq!(run.tracks().len(), 2);
        assert!(
            run.tracks()
                .iter()
                .all(|t| t.direction.iter().all(|v| v.is_finite()))
        );
    }

    #[test]
    fn the_direction_moves_towards_the_newest_frame() {
        let mut run = run_with(&[0.0]);
        frame(&mut run, &[30.0]);
        let d = &run.tracks()[0].direction;
        let angle = d[1].atan2(d[0]).to_degrees();
        assert!((5.0..15.0).contains(&angle), "{angle}");
    }

    #[test]
    fn survives_a_serde_round_trip() {
        let mut run = run_with(&[0.0, 90.0]);
        let mut back: RunTracks =
            serde_json::from_str(&serde_json::to_string(&run).unwrap()).unwrap();
        assert_eq!(back, run);
        let next = [88.0, 300.0, 2.0];
        assert_eq!(frame(&mut back, &next), frame(&mut run, &next));
        assert_eq!(back, run);
    }

    #[test]
    fn bad_shapes_params_and_exhausted_ids_are_errors_that_change_nothing() {
        let mut run = run_with(&[0.0]);
        let before = run.clone();
        let bad = |r: Result<Vec<u32>, SegmentError>| matches!(r, Err(SegmentError::Params(_)));
        assert!(bad(run.assign(&[1.0, 0.0, 1.0], &[5; 2], &P)));
        assert!(bad(run.assign(&dirs(&[0.0]), &[5; 2], &P)));
        assert!(bad(run.assign(&[1.0, 0.0, 0.0], &[5], &P)));
        let nan = TrackingParams {
            min_similarity: f32::NAN,
            ..P
        };
        assert!(bad(run.assign(&dirs(&[0.0]), &[5], &nan)));
        let weight = TrackingParams {
            update_weight: 1.5,
            ..P
        };
        assert!(bad(run.assign(&dirs(&[0.0]), &[5], &weight)));
        assert!(bad(RunTracks::new(0).assign(&[], &[], &P)));
        assert_eq!(run, before);
        let mut three = RunTracks {
            dim: 3,
            ..before.clone()
        };
        assert!(bad(three.assign(&[1.0, 0.0, 0.0], &[5], &P)));
        run.next_id = u32::MAX;
        assert!(bad(run.assign(&dirs(&[0.0, 180.0]), &[5; 2], &P)));
        assert_eq!(
            run,
            RunTracks {
                next_id: u32::MAX,
                ..before
            }
        );
    }
}
