//! What the decider knows about one frame, and the measures rules take of it.

use std::collections::BTreeMap;

use crate::rules::number;
use crate::state::Point;

/// What the decider knows about one frame.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// The frame's sequence number in the run.
    pub seq: u64,
    /// The dose it was taken at, when the instrument sent one.
    pub dose: Option<f64>,
    /// (run-stable community id, area fraction); a community absent here covers 0.
    pub communities: &'a [(u32, f64)],
    /// (class name, area fraction); `None`: the frame has no classes.
    pub classes: Option<&'a [(String, f64)]>,
    /// Each chip's confidence, `None` if not sent.
    pub chip_confidence: Option<&'a [f32]>,
}

impl Observation<'_> {
    /// The frame as the state keeps it: a usable dose, fractions merged by id or name (an id
    /// listed twice counts the sum), values that are not numbers dropped (each with a note).
    pub(crate) fn point(&self, notes: &mut Vec<String>) -> Point {
        let dose = match self.dose {
            Some(d) if d.is_finite() && d >= 0.0 => Some(d),
            Some(d) => {
                notes.push(format!(
                    "frame {}: dose {d} is not a dose (a number from 0 up); ignored",
                    self.seq
                ));
                None
            }
            None => None,
        };
        let communities = merge(
            self.communities.iter().map(|(id, f)| (*id, *f)),
            self.seq,
            "community",
            notes,
        );
        let classes = self.classes.map(|cs| {
            merge(
                cs.iter().map(|(n, f)| (n.clone(), *f)),
                self.seq,
                "class",
                notes,
            )
        });
        Point {
            seq: self.seq,
            dose,
            communities,
            classes,
        }
    }

    /// The fraction of chips whose confidence is below `margin`; `None` without chips.
    pub(crate) fn unsure(&self, margin: f64) -> Option<f64> {
        let chips = self.chip_confidence.filter(|c| !c.is_empty())?;
        let below = chips.iter().filter(|c| f64::from(**c) < margin).count();
        Some(below as f64 / chips.len() as f64)
    }
}

fn merge<K: Ord + std::fmt::Display>(
    entries: impl Iterator<Item = (K, f64)>,
    seq: u64,
    what: &str,
    notes: &mut Vec<String>,
) -> Vec<(K, f64)> {
    let mut merged: BTreeMap<K, f64> = BTreeMap::new();
    for (key, fraction) in entries {
        if fraction.is_finite() && fraction >= 0.0 {
            *merged.entry(key).or_insert(0.0) += fraction;
        } else {
            notes.push(format!(
                "frame {seq}: {what} {key} has fraction {fraction}, not a fraction; counted as 0"
            ));
        }
    }
    merged
        .into_iter()
        .filter(|(key, fraction)| {
            let usable = fraction.is_finite();
            if !usable {
                notes.push(format!(
                    "frame {seq}: {what} {key} sums to {fraction}, not a fraction; counted as 0"
                ));
            }
            usable
        })
        .collect()
}

/// The least-squares slope of `y` over `x`; `None` when the `x` do not differ.
pub(crate) fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let scale = points
        .iter()
        .map(|p| p.0.abs())
        .fold(0.0, f64::max)
        .max(1.0);
    if sxx <= 1e-12 * scale * scale {
        return None;
    }
    let s = sxy / sxx;
    s.is_finite().then_some(s)
}

/// The largest change of any community or class fraction between two frames (classes when
/// both frames have them), and what moved.
pub(crate) fn largest_change(before: &Point, now: &Point) -> (f64, String) {
    let mut best = (0.0, String::new());
    let mut consider = |change: f64, what: String| {
        if change > best.0 {
            best = (change, what);
        }
    };
    let ids = before
        .communities
        .iter()
        .chain(&now.communities)
        .map(|(id, _)| *id);
    for id in ids {
        consider(
            (now.community(id) - before.community(id)).abs(),
            format!("community {id}"),
        );
    }
    if let (Some(a), Some(b)) = (&before.classes, &now.classes) {
        let value = |cs: &[(String, f64)], name: &str| {
            cs.iter().find(|(n, _)| n == name).map_or(0.0, |(_, f)| *f)
        };
        for (name, _) in a.iter().chain(b) {
            consider(
                (value(b, name) - value(a, name)).abs(),
                format!("class {name}"),
            );
        }
    }
    best
}

/// "0.62 of the frame" style numbers for a list of new communities.
pub(crate) fn listing(items: &[(u32, f64)]) -> String {
    const SHOWN: usize = 10;
    let mut parts: Vec<String> = items
        .iter()
        .take(SHOWN)
        .map(|(id, f)| format!("{id} ({} of the frame)", number(*f)))
        .collect();
    if items.len() > SHOWN {
        parts.push(format!("and {} more", items.len() - SHOWN));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slopes_fit_a_line_and_refuse_a_point() {
        let s = slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]).unwrap_or(f64::NAN);
        assert!((s - 2.0).abs() < 1e-12);
        let s = slope(&[(10.0, 0.1), (20.0, 0.1), (30.0, 0.4)]).unwrap_or(f64::NAN);
        assert!((s - 0.015).abs() < 1e-12, "{s}");
        assert_eq!(slope(&[(5.0, 0.1), (5.0, 0.2)]), None);
        assert_eq!(slope(&[(5.0, 0.1)]), None);
    }

    #[test]
    fn observations_are_merged_and_cleaned() {
        let communities = [(3, 0.25), (1, 0.5), (3, 0.25), (7, f64::NAN)];
        let obs = Observation {
            seq: 4,
            dose: Some(f64::INFINITY),
            communities: &communities,
            classes: None,
            chip_confidence: Some(&[0.01, 0.5, f32::NAN, 0.02]),
        };
        let mut notes = Vec::new();
        let p = obs.point(&mut notes);
        assert_eq!(p.communities, vec![(1, 0.5), (3, 0.5)]);
        assert_eq!(p.dose, None);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(obs.unsure(0.05), Some(0.5));
    }
}
