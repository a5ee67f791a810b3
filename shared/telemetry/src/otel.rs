//! OpenTelemetry traces: the OTLP exporter that [`init`](crate::init) installs when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, [`shutdown`] to send the last spans before exit, and
//! the W3C trace-context helpers that carry a span's context through message headers
//! (plain `(name, value)` pairs, so that the bus crate needs no OpenTelemetry).

use std::sync::OnceLock;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::TelemetryError;

/// The variable that turns the exporter on: the collector's base URL (`http://host:4318`);
/// spans go to `<endpoint>/v1/traces`.
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Overrides the `service.name` resource attribute (default `tessera-<service>`).
pub const SERVICE_NAME_VAR: &str = "OTEL_SERVICE_NAME";

/// The provider installed by `init`, kept for [`shutdown`].
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The `service.name` of `service`: `OTEL_SERVICE_NAME` when set, else `tessera-<service>`
/// (`service` as is when it already starts with `tessera`).
pub(crate) fn service_name(service: &str, env: Option<String>) -> String {
    match env {
        Some(name) if !name.trim().is_empty() => name,
        _ if service.starts_with("tessera") => service.to_string(),
        _ => format!("tessera-{service}"),
    }
}

/// The collector endpoint, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and not blank.
pub(crate) fn endpoint() -> Option<String> {
    std::env::var(ENDPOINT_VAR)
        .ok()
        .filter(|e| !e.trim().is_empty())
}

/// A tracer exporting over OTLP/HTTP (protobuf) to `endpoint` through a batch processor (its
/// own thread; `OTEL_BSP_*` variables tune it), with `service.name` set. The provider is
/// kept for [`shutdown`].
pub(crate) fn tracer(endpoint: &str, service: &str) -> Result<SdkTracer, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .map_err(|e| TelemetryError::Exporter {
            endpoint: endpoint.to_string(),
            reason: e.to_string(),
        })?;
    let name = service_name(service, std::env::var(SERVICE_NAME_VAR).ok());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(name).build())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer = provider.tracer("tessera");
    if PROVIDER.set(provider.clone()).is_err() {
        // Another provider is already installed (a second `init` racing the first): this
        // one exports nothing.
        let _ = provider.shutdown();
    }
    Ok(tracer)
}

/// Sends the spans still queued and stops the exporter. Call it once, as the process ends
/// (the service binaries do, after a signal); it blocks while the last batch is exported.
/// Without an exporter it does nothing.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(e) = provider.shutdown()
    {
        tracing::debug!(error = %e, "trace exporter shutdown");
    }
}

/// Header pairs as an OpenTelemetry carrier.
struct Pairs<'a>(&'a mut Vec<(String, String)>);

impl Injector for Pairs<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(key));
        if !value.is_empty() {
            self.0.push((key.to_string(), value));
        }
    }
}

struct ReadPairs<'a>(&'a [(String, String)]);

impl Extractor for ReadPairs<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// The trace context carried by `headers` (`traceparent`, `tracestate`).
fn extract(headers: &[(String, String)]) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&ReadPairs(headers))
}

/// Writes `span`'s trace context into `headers` (`traceparent`, and `tracestate` when not
/// empty), replacing what was there. Returns `false`, leaving `headers` as they were, when
/// the span has no trace context: no exporter is installed, or the span is disabled.
pub fn inject_context(span: &Span, headers: &mut Vec<(String, String)>) -> bool {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return false;
    }
    TraceContextPropagator::new().inject_context(&cx, &mut Pairs(headers));
    true
}

/// Makes the trace context carried by `headers` the parent of `span`, which must not have
/// been entered yet. Does nothing when the headers carry no valid context (`span` then
/// starts a trace of its own) or no exporter is installed.
pub fn set_parent_from(span: &Span, headers: &[(String, String)]) {
    let cx = extract(headers);
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// Links `span` to the trace context carried by `headers` (a message a batch consumed).
/// Does nothing when the headers carry no valid context.
pub fn link_from(span: &Span, headers: &[(String, String)]) {
    let cx = extract(headers);
    let sc = cx.span().span_context().clone();
    if sc.is_valid() {
        span.add_link(sc);
    }
}

/// The trace id carried by `headers`, as 32 lowercase hex digits, when they carry a valid
/// context.
pub fn trace_id_from(headers: &[(String, String)]) -> Option<String> {
    let cx = extract(headers);
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    fn with_tracing<T>(f: impl FnOnce() -> T) -> T {
        let provider = SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let sub = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(sub, f)
    }

    #[test]
    fn a_context_survives_inject_then_extract() {
        with_tracing(|| {
            let root = tracing::info_span!("root");
            let mut headers = vec![("Nats-Msg-Id".to_string(), "x".to_string())];
            assert!(inject_context(&root, &mut headers));
            let root_trace = root.context().span().span_context().trace_id().to_string();
            assert_eq!(trace_id_from(&headers), Some(root_trace.clone()));
            assert_eq!(headers[0].0, "Nats-Msg-Id");

            // The consumer continues it: same trace, another span.
            let child = tracing::info_span!("child");
            set_parent_from(&child, &headers);
            let mut next = Vec::new();
            assert!(inject_context(&child, &mut next));
            assert_eq!(trace_id_from(&next), Some(root_trace));
            assert_ne!(next, headers[1..]);
        });
    }

    #[test]
    fn a_remote_parent_is_continued_and_links_are_kept() {
        with_tracing(|| {
            let headers = vec![("traceparent".to_string(), TP.to_string())];
            let span = tracing::info_span!("batch");
            set_parent_from(&span, &headers);
            link_from(&span, &headers);
            let cx = span.context();
            assert_eq!(
                cx.span().span_context().trace_id().to_string(),
                "0af7651916cd43dd8448eb211c80319c"
            );
        });
    }

    #[test]
    fn without_an_exporter_nothing_is_injected() {
        let span = tracing::info_span!("plain");
        let mut headers = vec![("traceparent".to_string(), TP.to_string())];
        assert!(!inject_context(&span, &mut headers));
        assert_eq!(headers[0].1, TP);
        assert_eq!(trace_id_from(&[]), None);
        assert_eq!(
            trace_id_from(&headers).as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
    }

    #[test]
    fn service_names() {
        assert_eq!(service_name("ingest", None), "tessera-ingest");
        assert_eq!(service_name("tessera-up", None), "tessera-up");
        assert_eq!(service_name("ingest", Some(" ".into())), "tessera-ingest");
        assert_eq!(
            service_name("ingest", Some("edge-ingest".into())),
            "edge-ingest"
        );
    }
}
