//! One function per goal: each weighs the chips, scores every candidate window and keeps the
//! best ones, with a reason in words.

use std::collections::BTreeMap;

use crate::{
    Focus, RoiError, SegmentedFrame,
    frame::{Layout, Visited, visited_chips},
    windows::{Sat, Scored, Size, Window, best},
};

/// What every goal works on.
pub(crate) struct Ctx<'f, 'a> {
    /// The frame (checked).
    pub(crate) frame: &'f SegmentedFrame<'a>,
    /// Its chips.
    pub(crate) layout: &'f Layout,
    /// The window size.
    pub(crate) size: &'f Size,
    /// The candidate windows.
    pub(crate) windows: &'f [Window],
    /// How many proposals to keep.
    pub(crate) limit: usize,
}

/// A kept window.
#[derive(Debug, Clone)]
pub(crate) struct Pick {
    /// The window.
    pub(crate) window: Window,
    /// Its score, `0..=1`.
    pub(crate) score: f64,
    /// Why, in words.
    pub(crate) reason: String,
}

impl Ctx<'_, '_> {
    fn cols(&self) -> usize {
        self.layout.cols.len()
    }

    fn rows(&self) -> usize {
        self.layout.rows.len()
    }

    /// Keeps the best windows and words each one's reason.
    fn keep(&self, scored: Vec<Scored>, reason: impl Fn(&Window) -> String) -> Vec<Pick> {
        best(self.layout, self.size, self.windows, scored, self.limit)
            .into_iter()
            .map(|s| {
                let window = self.windows[s.window];
                Pick {
                    window,
                    score: s.score.clamp(0.0, 1.0),
                    reason: reason(&window),
                }
            })
            .collect()
    }

    /// Windows ranked by how many marked chips they hold (windows with none are left out),
    /// ties brought to the centroid of those chips; score: the share of all marked chips.
    fn most_marked(
        &self,
        marked: &[bool],
        reason: impl Fn(&Window, u64, u64) -> String,
    ) -> Vec<Pick> {
        let (cols, rows) = (self.cols(), self.rows());
        let total = marked.iter().filter(|&&m| m).count() as u64;
        if total == 0 {
            return Vec::new();
        }
        let count = Sat::new(cols, rows, |i| u64::from(marked[i]));
        let (cx, cy) = (&self.layout.cols.centres2, &self.layout.rows.centres2);
        let at = |i: usize, c: u64| if marked[i] { c as f64 } else { 0.0 };
        let sum_x = Sat::new(cols, rows, |i| at(i, cx[i % cols]));
        let sum_y = Sat::new(cols, rows, |i| at(i, cy[i / cols]));
        let scored = self
            .windows
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                let k = count.sum(w);
                (k > 0).then(|| Scored {
                    window: i,
                    key: k as f64,
                    score: k as f64 / total as f64,
                    aim2: Some([sum_x.sum(w) / k as f64, sum_y.sum(w) / k as f64]),
                })
            })
            .collect();
        self.keep(scored, |w| reason(w, count.sum(w), total))
    }
}

/// The windows of lowest mean chip confidence.
///
/// Score: `1 − mean / max`, `max` the frame's most confident chip (1 when every chip is at 0).
/// Means closer than a billionth of `max` rank as equal, and go to the frame centre.
pub(crate) fn low_confidence(ctx: &Ctx<'_, '_>) -> Result<Vec<Pick>, RoiError> {
    let conf = ctx.frame.chip_confidence.ok_or(RoiError::NoConfidence)?;
    let sat = Sat::new(ctx.cols(), ctx.rows(), |i| f64::from(conf[i]));
    let total: f64 = conf.iter().map(|&v| f64::from(v)).sum();
    let frame_mean = total / conf.len() as f64;
    let max = conf.iter().fold(0.0f64, |m, &v| m.max(f64::from(v)));
    let mean = |w: &Window| (sat.sum(w) / w.chips() as f64).max(0.0);
    let scored = ctx
        .windows
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let (key, score) = if max > 0.0 {
                let rel = mean(w) / max;
                (-(rel * 1e9).round(), 1.0 - rel)
            } else {
                (0.0, 1.0)
            };
            Scored {
                window: i,
                key,
                score,
                aim2: None,
            }
        })
        .collect();
    Ok(ctx.keep(scored, |w| {
        format!(
            "mean confidence {} over {} chips, frame mean {} (most confident chip {})",
            num(mean(w)),
            w.chips(),
            num(frame_mean),
            num(max)
        )
    }))
}

/// The windows holding the most chips of the focus that touch (4-neighbour, in the chip grid)
/// a chip of another community, or of another class (unknown chips included). None when the
/// focus has no such chip (it covers the whole frame).
pub(crate) fn boundary(ctx: &Ctx<'_, '_>, focus: Option<&Focus>) -> Result<Vec<Pick>, RoiError> {
    let frame = ctx.frame;
    let (values, target, name, other) = match focus.ok_or(RoiError::NoFocus)? {
        Focus::Community(id) => {
            if !frame.chip_labels.contains(id) {
                return Err(RoiError::FocusAbsent(format!(
                    "community {id} is not in this frame; its communities are {}",
                    communities(frame.chip_labels)
                )));
            }
            (
                frame.chip_labels,
                *id,
                format!("community {id}"),
                "community",
            )
        }
        Focus::Class(name) => {
            let shown = quoted(name);
            let classes = frame
                .chip_classes
                .ok_or_else(|| RoiError::NoClasses(shown.clone()))?;
            let Some(index) = frame.class_names.iter().position(|n| n == name) else {
                let known: Vec<String> = frame.class_names.iter().map(|n| quoted(n)).collect();
                return Err(RoiError::FocusAbsent(format!(
                    "class {shown} is not one of the frame's classes ({})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                )));
            };
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            if !classes.contains(&index) {
                return Err(RoiError::FocusAbsent(format!(
                    "class {shown} has no chip in this frame"
                )));
            }
            (
                classes,
                index,
                format!("class {shown}"),
                "class (or unknown chips)",
            )
        }
    };
    let (cols, rows) = (ctx.cols(), ctx.rows());
    let differs = |r: usize, c: usize| values[r * cols + c] != target;
    let marked: Vec<bool> = (0..values.len())
        .map(|i| {
            let (r, c) = (i / cols, i % cols);
            values[i] == target
                && ((r > 0 && differs(r - 1, c))
                    || (r + 1 < rows && differs(r + 1, c))
                    || (c > 0 && differs(r, c - 1))
                    || (c + 1 < cols && differs(r, c + 1)))
        })
        .collect();
    Ok(ctx.most_marked(&marked, |w, k, total| {
        format!(
            "{k} of the {total} chips of {name} that touch another {other}, among {} chips here",
            w.chips()
        )
    }))
}

/// The windows holding the most chips of the rarest community (fewest chips; ties: lower id),
/// ties brought to the centroid of its chips in the window.
pub(crate) fn rarest(ctx: &Ctx<'_, '_>) -> Result<Vec<Pick>, RoiError> {
    let labels = ctx.frame.chip_labels;
    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    for &l in labels {
        *counts.entry(l).or_default() += 1;
    }
    let Some((id, n)) = counts
        .iter()
        .map(|(&id, &n)| (id, n))
        .min_by_key(|&(id, n)| (n, id))
    else {
        return Ok(Vec::new());
    };
    let marked: Vec<bool> = labels.iter().map(|&l| l == id).collect();
    let k_all = counts.len();
    Ok(ctx.most_marked(&marked, |w, k, _| {
        format!(
            "community {id}, the rarest of {k_all} (holds {n} of {} chips): {k} of its chips \
             here, among {}",
            labels.len(),
            w.chips()
        )
    }))
}

/// The windows overlapping least the regions already imaged: a chip counts as imaged when its
/// centre lies in a visited region (a region holding no chip centre marks the chip nearest its
/// centre). Score: the share of the window's chips not imaged. Windows wholly imaged are left
/// out; with nothing visited every window ties, and the one at the frame centre comes first.
pub(crate) fn unexplored(ctx: &Ctx<'_, '_>, visited: &[Visited]) -> Result<Vec<Pick>, RoiError> {
    let regions = visited_chips(ctx.layout, visited)?;
    let (cols, rows) = (ctx.cols(), ctx.rows());
    // 2-D difference array, then running sums: how many regions hold each chip.
    let stride = cols + 1;
    let mut diff = vec![0i64; stride * (rows + 1)];
    for (c, r) in &regions {
        diff[r.start * stride + c.start] += 1;
        diff[r.start * stride + c.end] -= 1;
        diff[r.end * stride + c.start] -= 1;
        diff[r.end * stride + c.end] += 1;
    }
    for r in 0..=rows {
        for c in 0..=cols {
            let mut v = diff[r * stride + c];
            if r > 0 {
                v += diff[(r - 1) * stride + c];
            }
            if c > 0 {
                v += diff[r * stride + c - 1];
            }
            if r > 0 && c > 0 {
                v -= diff[(r - 1) * stride + c - 1];
            }
            diff[r * stride + c] = v;
        }
    }
    let imaged = Sat::new(cols, rows, |i| {
        u64::from(diff[(i / cols) * stride + i % cols] > 0)
    });
    let scored = ctx
        .windows
        .iter()
        .enumerate()
        .filter_map(|(i, w)| {
            let (v, n) = (imaged.sum(w), w.chips());
            (v < n).then(|| {
                let free = (n - v) as f64 / n as f64;
                Scored {
                    window: i,
                    key: free,
                    score: free,
                    aim2: None,
                }
            })
        })
        .collect();
    let k = regions.len();
    Ok(ctx.keep(scored, |w| {
        let (v, n) = (imaged.sum(w), w.chips());
        if k == 0 {
            format!("nothing imaged at high magnification yet; {n} chips, ranked by nearness to the frame centre")
        } else if v == 0 {
            format!("none of its {n} chips lies in the {k} regions already imaged")
        } else {
            format!("{v} of its {n} chips lie in the {k} regions already imaged")
        }
    }))
}

/// The communities of a frame, ascending, the first dozen.
fn communities(labels: &[u32]) -> String {
    let mut ids: Vec<u32> = labels.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let shown: Vec<String> = ids.iter().take(12).map(u32::to_string).collect();
    let more = ids.len().saturating_sub(12);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// A name for messages: quoted, escaped, at most 64 characters.
pub(crate) fn quoted(name: &str) -> String {
    let mut s: String = name.chars().take(64).collect();
    if s.len() < name.len() {
        s.push('…');
    }
    format!("{s:?}")
}

/// A number for messages, to about three significant digits.
pub(crate) fn num(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if !(1e-4..1e6).contains(&a) {
        return format!("{v:.2e}");
    }
    let digits = (2 - a.log10().floor() as i64).max(0) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_with_three_digits() {
        assert_eq!(num(0.081), "0.081");
        assert_eq!(num(0.0123456), "0.0123");
        assert_eq!(num(4.0), "4");
        assert_eq!(num(1234.6), "1235");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(2e-7), "2.00e-7");
        assert_eq!(quoted("a\u{7}b"), "\"a\\u{7}b\"");
        assert_eq!(quoted(&"x".repeat(100)).chars().count(), 67);
    }
}
