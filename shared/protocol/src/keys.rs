//! Names that are not subjects: message headers, `Nats-Msg-Id` values, KV keys and object
//! names. Built here so that publishers and consumers agree.
//!
//! A `Nats-Msg-Id` makes JetStream drop a repeat of the same message within the stream's
//! duplicate window (2 minutes), so every publish of a pipeline message sets one, derived
//! from the frame (and batch) it is about: a retried publish, a redelivered batch embedded by
//! another worker, or an instrument resending a frame all collapse into one message.

use crate::{InstrumentId, RunId, Service};

/// JetStream's de-duplication header.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";
/// W3C trace context header, carried from the instrument to the result.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// W3C trace state header.
pub const TRACESTATE_HEADER: &str = "tracestate";
/// When the instrument published the frame (ms since the Unix epoch, decimal), passed along
/// every hop so the publisher can measure publish-to-result latency.
pub const PUBLISHED_AT_HEADER: &str = "Tessera-Published-At-Ms";

/// Msg-Id of a run start: `acq:start:<run>`.
pub fn start_msg_id(run: &RunId) -> String {
    format!("acq:start:{run}")
}

/// Msg-Id of a frame: `acq:frame:<run>:<seq>`.
pub fn frame_msg_id(run: &RunId, seq: u64) -> String {
    format!("acq:frame:{run}:{seq}")
}

/// Msg-Id of a run stop: `acq:stop:<run>`.
pub fn stop_msg_id(run: &RunId) -> String {
    format!("acq:stop:{run}")
}

/// Msg-Id of a chip batch: `work:<run>:<seq>:<batch>`.
pub fn batch_msg_id(run: &RunId, seq: u64, batch: u32) -> String {
    format!("work:{run}:{seq}:{batch}")
}

/// Msg-Id of an embedding batch: `embedded:<run>:<seq>:<batch>`.
pub fn embedded_msg_id(run: &RunId, seq: u64, batch: u32) -> String {
    format!("embedded:{run}:{seq}:{batch}")
}

/// Msg-Id of a segmented frame: `segmented:<run>:<seq>`.
pub fn segmented_msg_id(run: &RunId, seq: u64) -> String {
    format!("segmented:{run}:{seq}")
}

/// Msg-Id of a frame result: `result:<run>:<seq>`.
pub fn result_msg_id(run: &RunId, seq: u64) -> String {
    format!("result:{run}:{seq}")
}

/// Msg-Id of a decision: `decision:<run>:<seq>`, so a restarted decider never issues one
/// twice.
pub fn decision_msg_id(run: &RunId, seq: u64) -> String {
    format!("decision:{run}:{seq}")
}

/// Msg-Id of an instrument's answer to a decision's rule: `ack:<run>:<seq>:<rule>` (the rule
/// name's dots and spaces kept: a Msg-Id is a header value, not a subject).
pub fn ack_msg_id(run: &RunId, seq: u64, rule: &str) -> String {
    format!("ack:{run}:{seq}:{rule}")
}

/// Msg-Id of a reject: `reject:<service>:<subject>:<id>`, where `id` is the refused
/// message's own Msg-Id or stream sequence, so a redelivered bad message is reported once.
pub fn reject_msg_id(service: Service, subject: &str, id: &str) -> String {
    format!("reject:{service}:{subject}:{id}")
}

/// Msg-Id of a dead letter: `dlq:<stream>:<stream_seq>`.
pub fn dead_letter_msg_id(stream: &str, stream_seq: u64) -> String {
    format!("dlq:{stream}:{stream_seq}")
}

/// Key of a run in KV `tessera_runs`: `<run>`.
pub fn run_key(run: &RunId) -> String {
    run.to_string()
}

/// Key of a run's latest result in KV `tessera_latest`: `<run>`.
pub fn latest_key(run: &RunId) -> String {
    run.to_string()
}

/// Key of a run's fraction series in KV `tessera_series`: `<run>`.
pub fn series_key(run: &RunId) -> String {
    run.to_string()
}

/// Key of a run's community tracks in KV `tessera_tracks`: `<run>`.
pub fn tracks_key(run: &RunId) -> String {
    run.to_string()
}

/// Key of a frame's progress in KV `tessera_progress`: `<run>.<seq>`.
pub fn progress_key(run: &RunId, seq: u64) -> String {
    format!("{run}.{seq}")
}

/// Watch filter for every frame of a run in KV `tessera_progress`: `<run>.*`.
pub fn progress_run_filter(run: &RunId) -> String {
    format!("{run}.*")
}

/// Object name of a frame's raw samples in `tessera_frames` (uploaded by the instrument):
/// `<run>/<seq>.raw`.
pub fn raw_frame_object(run: &RunId, seq: u64) -> String {
    format!("{run}/{seq}.raw")
}

/// Object name of a normalised frame's 8-bit preview in `tessera_frames` (stored by ingest;
/// one byte per pixel, `round(255 · v)` of the normalised value `v`): `<run>/<seq>.gray8`.
pub fn normalized_object(run: &RunId, seq: u64) -> String {
    format!("{run}/{seq}.gray8")
}

/// Object name of a label map in `tessera_outputs` (16-bit gray TIFF, 65535 = no label): `<run>/<seq>.labels.tiff`.
pub fn labels_object(run: &RunId, seq: u64) -> String {
    format!("{run}/{seq}.labels.tiff")
}

/// Object name of an overlay in `tessera_outputs` (PNG): `<run>/<seq>.overlay.png`.
pub fn overlay_object(run: &RunId, seq: u64) -> String {
    format!("{run}/{seq}.overlay.png")
}

/// Object name of a class map in `tessera_outputs` (16-bit gray TIFF of class indices,
/// 65535 = unknown): `<run>/<seq>.classes.tiff`.
pub fn classes_object(run: &RunId, seq: u64) -> String {
    format!("{run}/{seq}.classes.tiff")
}

/// Object name of a class overlay in `tessera_outputs` (PNG): `<run>/<seq>.classes.png`.
pub fn classes_overlay_object(run: &RunId, seq: u64) -> String {
    format!("{run}/{seq}.classes.png")
}

/// Key of a named classifier in KV `tessera_classifiers`: its name.
pub fn classifier_key(name: &str) -> String {
    name.to_string()
}

/// Key of the classifier bound to a run in KV `tessera_classifiers`: `run.<run>` (a
/// classifier's own name has no dot).
pub fn run_classifier_key(run: &RunId) -> String {
    format!("run.{run}")
}

/// Key of a run's policy in KV `tessera_policies`: `run.<run>` (it wins over the
/// instrument's).
pub fn run_policy_key(run: &RunId) -> String {
    format!("run.{run}")
}

/// Key of an instrument's policy in KV `tessera_policies`: `instrument.<instrument>`.
pub fn instrument_policy_key(instrument: &InstrumentId) -> String {
    format!("instrument.{instrument}")
}

/// Key of a run's decider state (hysteresis counters, history) in KV `tessera_decider`.
pub fn decider_state_key(run: &RunId) -> String {
    run.to_string()
}

/// Object name of a classifier's body in `tessera_classifiers`: `<name>/<digest>.msgpack`,
/// so that every saved revision keeps its own body.
pub fn classifier_object(name: &str, digest: &str) -> String {
    format!("{name}/{digest}.msgpack")
}

/// The run and frame a message's Msg-Id names (any of the ids above but rejects and dead
/// letters): `(run, Some(seq))` for a frame or a batch of it, `(run, None)` for a run start
/// or stop, `None` for anything else. How a reject is traced back to its frame.
pub fn frame_of_msg_id(id: &str) -> Option<(&str, Option<u64>)> {
    let mut parts = id.split(':');
    let kind = parts.next()?;
    let kind = if kind == "acq" { parts.next()? } else { kind };
    let run = parts.next().filter(|r| !r.is_empty())?;
    let seq = parts.next().map(str::parse::<u64>);
    match (kind, seq) {
        ("start" | "stop", None) => Some((run, None)),
        ("frame" | "work" | "embedded" | "segmented" | "result", Some(Ok(seq))) => {
            Some((run, Some(seq)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_ids_name_their_frame() {
        let run = RunId::new("run-7").unwrap();
        let frame = |id: String| frame_of_msg_id(&id).map(|(r, s)| (r.to_string(), s));
        let at = |seq| Some(("run-7".to_string(), seq));
        assert_eq!(frame(frame_msg_id(&run, 3)), at(Some(3)));
        assert_eq!(frame(batch_msg_id(&run, 4, 2)), at(Some(4)));
        assert_eq!(frame(embedded_msg_id(&run, 5, 0)), at(Some(5)));
        assert_eq!(frame(segmented_msg_id(&run, 6)), at(Some(6)));
        assert_eq!(frame(result_msg_id(&run, 7)), at(Some(7)));
        assert_eq!(frame(start_msg_id(&run)), at(None));
        assert_eq!(frame(stop_msg_id(&run)), at(None));
        for other in [
            "",
            "acq",
            "acq:frame:run-7",
            "work:run-7:x:1",
            "dlq:ACQ:3",
            "acq:start:",
        ] {
            assert_eq!(frame_of_msg_id(other), None, "{other}");
        }
    }
}
