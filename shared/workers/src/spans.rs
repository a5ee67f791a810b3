//! The spans around each message a service handles, and the trace context they pass on.
//!
//! Every stage opens a span named after it (`ingest`, `embed_batch`, `embedded`,
//! `cluster_batch`, `cluster`, `publish`) with the fields `service`, `run` and `frame`, so
//! that every log line written while a frame is handled names it. The span continues the
//! trace whose `traceparent` the message carries, and the messages it publishes carry the
//! span's own context on (when traces are exported; otherwise the incoming `traceparent` is
//! forwarded unchanged).

use tessera_protocol::RunId;
use tracing::Span;

/// Records the frame a span is about, once its message is decoded.
pub(crate) fn record_frame(span: &Span, run: &RunId, seq: u64) {
    span.record("run", tracing::field::display(run))
        .record("frame", seq);
}

/// Records the run a span is about (a run start or stop: no frame).
pub(crate) fn record_run(span: &Span, run: &RunId) {
    span.record("run", tracing::field::display(run));
}

/// `headers` (what a message passes on, see [`forward_headers`](crate::common::forward_headers))
/// with `span`'s trace context in place of the incoming one.
pub(crate) fn traced(mut headers: Vec<(String, String)>, span: &Span) -> Vec<(String, String)> {
    tessera_telemetry::inject_context(span, &mut headers);
    headers
}

/// Links `span` to the trace context of every message in `headers`, once per distinct
/// context.
pub(crate) fn link_all<'a>(span: &Span, headers: impl IntoIterator<Item = &'a [(String, String)]>) {
    let mut seen: Vec<&str> = Vec::new();
    for h in headers {
        let Some(tp) = tessera_bus::extract_traceparent(h) else {
            continue;
        };
        if !seen.contains(&tp) {
            seen.push(tp);
            tessera_telemetry::link_from(span, h);
        }
    }
}

/// The trace id of `span`'s context, when traces are exported.
pub(crate) fn trace_id(span: &Span) -> Option<String> {
    let mut headers = Vec::new();
    tessera_telemetry::inject_context(span, &mut headers);
    tessera_telemetry::trace_id_from(&headers)
}
