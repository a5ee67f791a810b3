//! What the decider computes between a frame's result and its decision: the result seen as
//! the policy's [`Observation`], regions of interest proposed from its chip map
//! (`tessera_roi`), and the run's state as kept in KV `tessera_decider` ([`DeciderState`]).

use serde::{Deserialize, Serialize};
use tessera_policy::{Evaluation, Observation, Policy, Proposer, RunState, Target, evaluate};
use tessera_protocol::{
    Action, Decision, FrameResult, PROTOCOL_VERSION, ProtocolError, Roi, RoiGoal,
};
use tessera_roi::{Focus, SegmentedFrame, Visited, propose};

use crate::PipelineError;

/// Most regions a run remembers as imaged (for `unexplored` proposals); the oldest go first.
const MAX_VISITED: usize = 256;

/// A run's decider state: the policy's counters and latches, and the regions already asked
/// for. Stored as msgpack after every decision, so a restarted decider goes on from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeciderState {
    /// The policy's state (hysteresis counters, latches, fraction history).
    pub rules: RunState,
    /// Regions asked for so far, `[x, y, width, height]` in frame pixels.
    pub visited: Vec<[u32; 4]>,
}

impl DeciderState {
    /// As stored in KV.
    pub fn encode(&self) -> Result<Vec<u8>, PipelineError> {
        rmp_serde::to_vec_named(self)
            .map_err(|e| PipelineError::State(format!("encoding the decider state: {e}")))
    }

    /// From KV; a state this build cannot read is an error the caller may answer by starting
    /// the run's state afresh.
    pub fn decode(bytes: &[u8]) -> Result<DeciderState, PipelineError> {
        rmp_serde::from_slice(bytes).map_err(|e| {
            PipelineError::State(format!("the stored decider state cannot be read: {e}"))
        })
    }
}

/// A frame result's chips and classes, decoded once.
struct FrameView {
    labels: Vec<u32>,
    confidence: Option<Vec<f32>>,
    chip_classes: Option<Vec<u32>>,
    class_names: Vec<String>,
    fractions: Vec<(u32, f64)>,
    classes: Option<Vec<(String, f64)>>,
}

impl FrameView {
    fn of(result: &FrameResult) -> Result<FrameView, ProtocolError> {
        let (labels, confidence) = match &result.chip_map {
            Some(map) => (map.labels_u32()?, map.confidence_f32()?),
            None => (Vec::new(), None),
        };
        let applied = result.applied_classes();
        let chip_classes = applied.map(|k| k.chip_classes_u32()).transpose()?;
        Ok(FrameView {
            labels,
            confidence,
            chip_classes,
            class_names: applied
                .map(|k| k.classes.iter().map(|c| c.name.clone()).collect())
                .unwrap_or_default(),
            fractions: result
                .communities
                .iter()
                .map(|c| (c.id, c.area_fraction))
                .collect(),
            classes: applied.map(|k| {
                k.classes
                    .iter()
                    .map(|c| (c.name.clone(), c.area_fraction))
                    .collect()
            }),
        })
    }
}

/// Regions proposed on one frame, for the policy's `acquire_roi` rules.
struct FrameProposer<'a> {
    frame: Option<SegmentedFrame<'a>>,
    visited: Vec<Visited>,
}

impl Proposer for FrameProposer<'_> {
    fn propose(&self, goal: RoiGoal, target: Option<&Target>, magnification: f64) -> Option<Roi> {
        let frame = self.frame.as_ref()?;
        let focus = target.map(|t| match t {
            Target::Community(id) => Focus::Community(*id),
            Target::Class(name) => Focus::Class(name.clone()),
        });
        // No region (a frame without confidences, a focus absent from it): the policy notes
        // that its rule had nothing to propose.
        let mut rois =
            propose(frame, goal, focus.as_ref(), magnification, &self.visited, 1).ok()?;
        (!rois.is_empty()).then(|| rois.swap_remove(0))
    }
}

/// The decision on `result` by `policy` (named `policy_name`, e.g. "run.r1@3"), updating
/// `state`; `None` when the frame was decided before (a redelivery: the state is unchanged
/// and nothing must be published again).
pub fn decide(
    policy: &Policy,
    policy_name: &str,
    state: &mut DeciderState,
    result: &FrameResult,
    now_ms: u64,
) -> Result<Option<Decision>, PipelineError> {
    let view = FrameView::of(result)?;
    let frame = result.chip_map.as_ref().and_then(|map| {
        (!view.labels.is_empty()).then(|| SegmentedFrame {
            grid: map.grid,
            chip_labels: &view.labels,
            chip_confidence: view.confidence.as_deref(),
            chip_classes: view.chip_classes.as_deref(),
            class_names: &view.class_names,
            pixel_size_nm: result.pixel_size_nm,
        })
    });
    let proposer = FrameProposer {
        frame,
        visited: state
            .visited
            .iter()
            .map(|&[x, y, width, height]| Visited {
                x,
                y,
                width,
                height,
            })
            .collect(),
    };
    let observation = Observation {
        seq: result.seq,
        dose: result.dose,
        communities: &view.fractions,
        classes: view.classes.as_deref(),
        chip_confidence: view.confidence.as_deref(),
    };
    let (fired, notes) = match evaluate(policy, &mut state.rules, &observation, &proposer) {
        Evaluation::Stale { .. } => return Ok(None),
        Evaluation::Done { fired, notes } => (fired, notes),
    };
    for f in &fired {
        if let Action::AcquireRoi { roi } = &f.action {
            state.visited.push([roi.x, roi.y, roi.width, roi.height]);
        }
    }
    let excess = state.visited.len().saturating_sub(MAX_VISITED);
    state.visited.drain(..excess);
    Ok(Some(Decision {
        version: PROTOCOL_VERSION,
        run: result.run.clone(),
        instrument: result.instrument.clone(),
        seq: result.seq,
        dose: result.dose,
        decided_ms: now_ms,
        policy: policy_name.to_string(),
        fired,
        notes,
        error: None,
    }))
}

/// The decision on a frame whose run's policy cannot be used: no rule evaluated, and why.
pub fn failed_decision(
    result: &FrameResult,
    policy_name: &str,
    why: String,
    now_ms: u64,
) -> Decision {
    Decision {
        version: PROTOCOL_VERSION,
        run: result.run.clone(),
        instrument: result.instrument.clone(),
        seq: result.seq,
        dose: result.dose,
        decided_ms: now_ms,
        policy: policy_name.to_string(),
        fired: Vec::new(),
        notes: Vec::new(),
        error: Some(why),
    }
}
