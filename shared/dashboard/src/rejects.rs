//! Rejected messages as the dashboard shows them: the newest rejects of the REJECTS stream,
//! each tied to its run (and frame) through its refused message's `Nats-Msg-Id` or subject.
//!
//! REJECTS is one stream for every run (`tessera.rejects.<service>`), so the dashboard reads
//! its newest [`MAX_REJECTS_READ`] messages once and keeps them until the stream grows; every
//! run page and runs list shares that read.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tessera_bus::Bus;
use tessera_protocol::{Limits, Reject, RunId, decode, streams::REJECTS, subjects};

use crate::error::ApiError;

/// Newest rejects read from REJECTS (older ones only show in ingest's count).
pub(crate) const MAX_REJECTS_READ: usize = 2000;
/// Rejects listed for one run (the newest).
pub(crate) const MAX_REJECTS_LISTED: usize = 200;

/// A message refused on a run's behalf, as the run page lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RunReject {
    /// The frame, when the refused message was about one (not for a run start or stop).
    pub seq: Option<u64>,
    /// The refusing service.
    pub service: String,
    /// Why, as the service wrote it.
    pub reason: String,
    /// The subject the refused message arrived on.
    pub subject: String,
    /// When, milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// Rejects by run, oldest first, as of REJECTS sequence `last_seq`.
#[derive(Debug, Default)]
pub(crate) struct RejectIndex {
    last_seq: u64,
    by_run: HashMap<RunId, Vec<RunReject>>,
    /// Why REJECTS could not be read, when it could not.
    pub problem: Option<String>,
}

impl RejectIndex {
    /// No rejects, because REJECTS could not be read (`error` says why).
    pub(crate) fn unreadable(error: &ApiError) -> RejectIndex {
        tracing::warn!(%error, "the REJECTS stream cannot be read; runs show ingest's counts only");
        RejectIndex {
            problem: Some(format!("the rejects cannot be read: {error}")),
            ..RejectIndex::default()
        }
    }

    /// The run's rejects, oldest first (at most [`MAX_REJECTS_LISTED`], the newest).
    pub(crate) fn of(&self, run: &RunId) -> Vec<RunReject> {
        let all = self.by_run.get(run).map(Vec::as_slice).unwrap_or_default();
        all[all.len().saturating_sub(MAX_REJECTS_LISTED)..].to_vec()
    }

    /// Frames of the run that some service refused (distinct sequence numbers).
    pub(crate) fn frames_rejected(&self, run: &RunId) -> u64 {
        let seqs: BTreeSet<u64> = self
            .by_run
            .get(run)
            .into_iter()
            .flatten()
            .filter_map(|r| r.seq)
            .collect();
        seqs.len() as u64
    }
}

/// The last [`RejectIndex`] read, shared by every request.
#[derive(Debug, Default)]
pub(crate) struct RejectCache(Mutex<Option<Arc<RejectIndex>>>);

impl RejectCache {
    /// The rejects as REJECTS holds them now: the cached index while the stream has not
    /// grown, else a fresh read of its newest messages.
    pub(crate) async fn current(&self, bus: &Bus) -> Result<Arc<RejectIndex>, ApiError> {
        let state = bus.stream_state(REJECTS.name).await?;
        if let Some(index) = self.0.lock().ok().and_then(|c| c.clone())
            && index.last_seq == state.last_seq
        {
            return Ok(index);
        }
        let mut index = RejectIndex {
            last_seq: state.last_seq,
            ..RejectIndex::default()
        };
        if state.messages > 0 {
            let first = state
                .last_seq
                .saturating_sub(MAX_REJECTS_READ as u64 - 1)
                .max(state.first_seq);
            let stored = bus
                .replay_from(
                    REJECTS.name,
                    subjects::REJECTS_PATTERN,
                    first,
                    MAX_REJECTS_READ,
                )
                .await?;
            for m in stored {
                match decode::<Reject>(&m.payload, &Limits::default()) {
                    Ok(r) => {
                        if let Some((run, seq)) = r.about() {
                            index.by_run.entry(run).or_default().push(RunReject {
                                seq,
                                service: r.service,
                                reason: r.reason,
                                subject: r.subject,
                                at_ms: r.at_ms,
                            });
                        }
                    }
                    Err(e) => tracing::warn!(seq = m.stream_seq, error = %e,
                        "a stored reject cannot be decoded; skipped"),
                }
            }
        }
        let index = Arc::new(index);
        if let Ok(mut cache) = self.0.lock() {
            *cache = Some(index.clone());
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tessera_protocol::{PROTOCOL_VERSION, keys};

    use super::*;

    fn reject(subject: &str, msg_id: Option<String>) -> Reject {
        Reject {
            version: PROTOCOL_VERSION,
            subject: subject.into(),
            service: "ingest".into(),
            reason: "bad".into(),
            msg_id,
            payload_bytes: 1,
            at_ms: 2,
        }
    }

    #[test]
    fn every_pipeline_msg_id_names_its_run_and_frame() {
        let run = RunId::new("run-7").unwrap();
        let frame = |id: String| reject("tessera.acq.tem-1.frame", Some(id)).about();
        let at = Some((run.clone(), Some(12)));
        assert_eq!(frame(keys::frame_msg_id(&run, 12)), at);
        assert_eq!(frame(keys::batch_msg_id(&run, 12, 3)), at);
        assert_eq!(frame(keys::embedded_msg_id(&run, 12, 3)), at);
        assert_eq!(frame(keys::segmented_msg_id(&run, 12)), at);
        assert_eq!(frame(keys::result_msg_id(&run, 12)), at);
        assert_eq!(frame(keys::start_msg_id(&run)), Some((run.clone(), None)));
        assert_eq!(frame(keys::stop_msg_id(&run)), Some((run, None)));
    }

    #[test]
    fn without_a_msg_id_the_subject_names_the_run_or_nothing() {
        let run = RunId::new("r1").unwrap();
        let work = reject(&subjects::work_subject(&run), None);
        assert_eq!(work.about(), Some((run, None)));
        assert_eq!(reject("tessera.acq.tem-1.frame", None).about(), None);
        let odd = reject("tessera.acq.tem-1.frame", Some("made-up:id".into()));
        assert_eq!(odd.about(), None);
    }

    #[test]
    fn rejected_frames_are_counted_once_and_the_newest_listed() {
        let run = RunId::new("r").unwrap();
        let entry = |seq| RunReject {
            seq,
            service: "ingest".into(),
            reason: "bad".into(),
            subject: "s".into(),
            at_ms: 0,
        };
        let mut list: Vec<RunReject> = (0..MAX_REJECTS_LISTED as u64 + 5)
            .map(|s| entry(Some(s)))
            .collect();
        list.extend([entry(Some(0)), entry(None)]);
        let index = RejectIndex {
            last_seq: 9,
            by_run: HashMap::from([(run.clone(), list)]),
            problem: None,
        };
        assert_eq!(index.frames_rejected(&run), MAX_REJECTS_LISTED as u64 + 5);
        let listed = index.of(&run);
        assert_eq!(listed.len(), MAX_REJECTS_LISTED);
        assert_eq!(listed.last().unwrap().seq, None);
        assert!(index.of(&RunId::new("other").unwrap()).is_empty());
    }
}
