//! Regions of interest proposed on a segmented frame, for the closed loop in which results
//! steer the next acquisition ("zoom into where the model is unsure").
//!
//! [`propose`] takes a [`SegmentedFrame`] (its chip grid, one community label per chip, and
//! optionally chip confidences and few-shot classes) and returns, for one [`RoiGoal`], the best
//! windows to image next at a given magnification, as protocol [`Roi`]s:
//!
//! - [`RoiGoal::LowConfidence`]: the lowest mean chip confidence;
//! - [`RoiGoal::Boundary`]: the most chips of a [`Focus`] (community or class) that touch
//!   another community or class: an interface;
//! - [`RoiGoal::Rarest`]: the most chips of the community with the fewest chips;
//! - [`RoiGoal::Unexplored`]: the least overlap with the [`Visited`] regions.
//!
//! # Windows
//! A window is `frame side / magnification` on each side (rounded to whole pixels; at least
//! one chip, the magnification lowered if need be; inside the frame), so imaging it at that
//! magnification fills the detector. Candidate windows start at the chip grid's columns and
//! rows from which they fit, plus the position flush with the right and bottom edges. A window
//! holds the chips whose centre falls inside it; its sums come from summed-area tables over the
//! chip grid, so every candidate costs O(1). The grid is imaging's `ChipGrid`: chips at
//! `0, stride, …` while they fit, then one flush with the edge, numbered row-major.
//!
//! Proposals are the best windows that overlap none of the better ones by more than half of
//! their area (non-maximum suppression). Ties go to the window centred nearest what it counts
//! (boundary, rarest), then nearest the frame centre, then the topmost, then the leftmost:
//! the same frame always gives the same proposals in the same order.
//!
//! Domain logic only: no I/O, and no panics; bad input is a [`RoiError`] that says what is
//! wrong.

mod error;
mod frame;
mod goals;
mod windows;

pub use error::RoiError;
pub use frame::{Focus, SegmentedFrame, Visited};
pub use tessera_protocol::{Roi, RoiGoal};
pub use windows::MAX_MAGNIFICATION;

use goals::{Ctx, Pick, num};

/// Ranked proposals for one goal, best first, at most `limit` (fewer when fewer windows are
/// apart enough, none when the goal finds nothing: a focus without a boundary, a frame wholly
/// visited).
///
/// The ROI is a window of the frame whose sides are the frame's divided by `magnification`
/// (rounded to whole pixels, at least one chip, clamped inside the frame), so that imaging it
/// at `magnification` fills the detector; rectangles keep the frame's aspect ratio. Where a
/// window would be smaller than a chip the magnification is lowered until it holds one: the
/// [`Roi::magnification`] is the one the window fills the detector at, and the reason says so.
/// `magnification` 1 is the whole frame.
///
/// `focus` is read by [`RoiGoal::Boundary`] only, `visited` by [`RoiGoal::Unexplored`] only
/// (both are checked whatever the goal). [`Roi::nm`] is filled when the frame has a pixel
/// size. Scores, each `0..=1` and higher for a more wanted window:
/// - low confidence: `1 − window mean / the frame's largest chip confidence`;
/// - boundary: the window's share of the focus's boundary chips;
/// - rarest: the window's share of the rarest community's chips;
/// - unexplored: the share of the window's chips not yet imaged.
///
/// # Errors
/// A grid that cannot be laid out or does not match the number of labels, confidences of the
/// wrong length or not finite margins `>= 0`, class indices of the wrong length or out of
/// range, a pixel size that is not a positive finite number, a magnification not finite,
/// below 1 or above [`MAX_MAGNIFICATION`], `limit` 0, an empty visited region or one outside
/// the frame; low confidence on a frame without confidences; boundary without a focus, or with
/// a focus absent from the frame.
pub fn propose(
    frame: &SegmentedFrame<'_>,
    goal: RoiGoal,
    focus: Option<&Focus>,
    magnification: f64,
    visited: &[Visited],
    limit: usize,
) -> Result<Vec<Roi>, RoiError> {
    if limit == 0 {
        return Err(RoiError::ZeroLimit);
    }
    let layout = frame::check(frame)?;
    let size = windows::size(&layout, magnification)?;
    frame::visited_chips(&layout, visited)?;
    let windows = windows::windows(&layout, &size);
    let ctx = Ctx {
        frame,
        layout: &layout,
        size: &size,
        windows: &windows,
        limit,
    };
    let picks = match goal {
        RoiGoal::LowConfidence => goals::low_confidence(&ctx)?,
        RoiGoal::Boundary => goals::boundary(&ctx, focus)?,
        RoiGoal::Rarest => goals::rarest(&ctx)?,
        RoiGoal::Unexplored => goals::unexplored(&ctx, visited)?,
    };
    let lowered = (size.magnification < size.asked).then(|| {
        format!(
            "; magnification {} lowered to {} so the window holds a whole chip",
            num(size.asked),
            num(size.magnification)
        )
    });
    picks
        .into_iter()
        .map(
            |Pick {
                 window,
                 score,
                 reason,
             }| {
                let roi = Roi {
                    goal,
                    x: window.x,
                    y: window.y,
                    width: size.width,
                    height: size.height,
                    nm: frame.pixel_size_nm.map(|px| {
                        [window.x, window.y, size.width, size.height].map(|v| f64::from(v) * px)
                    }),
                    magnification: size.magnification,
                    score,
                    reason: reason + lowered.as_deref().unwrap_or(""),
                };
                tessera_protocol::check_roi_on_frame(&roi, layout.width, layout.height)
                    .map_err(|e| RoiError::Proposal(e.to_string()))?;
                Ok(roi)
            },
        )
        .collect()
}
