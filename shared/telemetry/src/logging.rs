//! [`init`]: the process's `tracing` subscriber, set up once from `[telemetry]`.

use std::io::IsTerminal;

use opentelemetry_sdk::trace::SdkTracer;
use tessera_settings::{LogFormat, TelemetrySettings};
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Filter, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, filter::FilterExt, filter::filter_fn};

/// Logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The log filter does not parse.
    #[error(
        "{origin} {directives:?} is not a valid log filter ({reason}); write tracing \
         directives such as \"info\" or \"warn,tessera_embedder=debug\""
    )]
    Filter {
        /// Where the filter came from: `RUST_LOG` or `telemetry.log`.
        origin: &'static str,
        /// The directives as written.
        directives: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The metrics endpoint could not listen.
    #[error(
        "cannot serve metrics on {addr}: {reason}; set telemetry.metrics_addr \
         (TESSERA__TELEMETRY__METRICS_ADDR) to a free host:port, port 0 for any, or \"\" for none"
    )]
    Bind {
        /// The address asked for.
        addr: String,
        /// The system's answer.
        reason: String,
    },
    /// A health probe failed.
    #[error("{url} is not healthy: {reason}")]
    Probe {
        /// What was probed.
        url: String,
        /// The status and body, or why there was no answer.
        reason: String,
    },
    /// The OTLP trace exporter could not be built.
    #[error(
        "cannot export traces to {endpoint} ({reason}); check OTEL_EXPORTER_OTLP_ENDPOINT \
         (an http:// URL such as http://collector:4318), or unset it to run without traces"
    )]
    Exporter {
        /// The endpoint as configured.
        endpoint: String,
        /// The exporter's complaint.
        reason: String,
    },
}

/// Installs the global `tracing` subscriber for `service`: human-readable text or one JSON
/// object per line (`settings.format`), on stderr, keeping what `RUST_LOG` selects when it
/// is set and `settings.log` otherwise. Text is coloured only where [`ansi`] allows. The spans of Tessera's own crates are always kept,
/// whatever the filter, so that every line written inside a frame's span carries its run
/// and frame.
///
/// When `OTEL_EXPORTER_OTLP_ENDPOINT` is set (and not blank), spans are also exported as
/// OpenTelemetry traces over OTLP/HTTP, with `service.name` `tessera-<service>` (or
/// `OTEL_SERVICE_NAME`); call [`shutdown`](crate::shutdown) before the process exits.
///
/// A filter that does not parse is an error naming it. Only the first call in a process
/// installs anything; later calls (several services in one process, tests) return `Ok`
/// and keep the first subscriber. Services should put their name in their spans' fields
/// (`info_span!("embedder", instance = %id)`), since one subscriber serves them all.
pub fn init(settings: &TelemetrySettings, service: &str) -> Result<(), TelemetryError> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let fmt_filter = filter(&settings.log, rust_log.clone())?;
    if tracing::dispatcher::has_been_set() {
        tracing::debug!(service, "logging already set up in this process; kept");
        return Ok(());
    }
    let otel = match crate::otel::endpoint() {
        Some(endpoint) => Some((
            crate::otel::tracer(&endpoint, service)?,
            filter(&settings.log, rust_log)?,
            endpoint,
        )),
        None => None,
    };
    let endpoint = otel.as_ref().map(|(_, _, e)| e.clone());
    let otel = otel.map(|(tracer, filter, _)| (tracer, filter));
    match subscriber(settings.format, fmt_filter, std::io::stderr, ansi(), otel).try_init() {
        Ok(()) => {
            tracing::debug!(service, format = ?settings.format, otlp = ?endpoint, "logging started")
        }
        Err(_) => tracing::debug!(service, "logging already set up in this process; kept"),
    }
    Ok(())
}

/// Whether text logs on stderr may be coloured: only when stderr is a terminal (never in a
/// file, a pipe or a container's log) and `NO_COLOR` is unset or empty (<https://no-color.org>).
pub fn ansi() -> bool {
    colours(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// [`ansi`]'s rule, for a terminal or not and a value of `NO_COLOR`.
fn colours(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Keeps what `filter` keeps, and every span of Tessera's own crates.
fn or_our_spans<S>(filter: EnvFilter) -> impl Filter<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    filter.or(filter_fn(|meta| {
        meta.is_span() && meta.target().starts_with("tessera")
    }))
}

/// A subscriber writing `format` lines through `writer`, and exporting spans through
/// `otel`'s tracer when given.
fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
    otel: Option<(SdkTracer, EnvFilter)>,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => Box::new(fmt.with_ansi(ansi)),
        LogFormat::Json => Box::new(
            fmt.json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(true),
        ),
    };
    let otel = otel.map(|(tracer, filter)| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(or_our_spans(filter))
    });
    Box::new(
        tracing_subscriber::registry()
            .with(fmt.with_filter(or_our_spans(filter)))
            .with(otel),
    )
}

/// The filter: `rust_log` when set and not blank, else `log`.
fn filter(log: &str, rust_log: Option<String>) -> Result<EnvFilter, TelemetryError> {
    let (origin, directives) = match rust_log {
        Some(env) if !env.trim().is_empty() => ("RUST_LOG", env),
        _ => ("telemetry.log", log.to_string()),
    };
    EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| TelemetryError::Filter {
            origin,
            directives,
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_wins_and_bad_filters_are_named() {
        let f = filter("info", Some("warn,tessera_embedder=debug".into())).unwrap();
        assert!(f.to_string().contains("tessera_embedder=debug"), "{f}");
        let f = filter("debug", Some("  ".into())).unwrap();
        assert_eq!(f.to_string(), "debug");

        let err = filter("info", Some("tessera=loud".into())).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("RUST_LOG \"tessera=loud\""), "{msg}");
        let err = filter("tessera=[", None).unwrap_err();
        assert!(err.to_string().starts_with("telemetry.log"), "{err}");
    }

    /// Lines written through a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(format: LogFormat) -> String {
        let buf = Buffer::default();
        let out = buf.clone();
        let sub = subscriber(
            format,
            filter("info", None).unwrap(),
            move || out.clone(),
            false,
            None,
        );
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!("frame", run = "r1");
            let _enter = span.enter();
            tracing::info!(chips = 12, "embedded");
            tracing::debug!("filtered out");
        });
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn json_is_one_object_per_line() {
        let text = capture(LogFormat::Json);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["message"], "embedded");
        assert_eq!(v["chips"], 12);
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["span"]["run"], "r1");
    }

    #[test]
    fn json_lines_inside_a_frame_carry_its_run_and_frame_whatever_the_filter() {
        let buf = Buffer::default();
        let out = buf.clone();
        let sub = subscriber(
            LogFormat::Json,
            filter("warn", None).unwrap(),
            move || out.clone(),
            false,
            None,
        );
        tracing::subscriber::with_default(sub, || {
            let frame = tracing::info_span!(
                "ingest",
                service = "ingest",
                run = tracing::field::Empty,
                frame = tracing::field::Empty
            );
            let _f = frame.enter();
            // Recorded once the message is decoded.
            frame.record("run", "r7").record("frame", 3);
            let publish = tracing::info_span!("publish", batch = 2);
            let _p = publish.enter();
            tracing::warn!("queue full");
            tracing::info!("filtered out");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["span"]["name"], "publish", "{v}");
        let spans = v["spans"].as_array().unwrap();
        assert_eq!(spans[0]["name"], "ingest", "{v}");
        assert_eq!(spans[0]["run"], "r7", "{v}");
        assert_eq!(spans[0]["frame"], 3, "{v}");
        assert_eq!(spans[0]["service"], "ingest", "{v}");
        assert_eq!(spans[1]["batch"], 2, "{v}");
    }

    #[test]
    fn text_is_plain_lines() {
        let text = capture(LogFormat::Text);
        assert!(
            text.contains("INFO") && text.contains("embedded chips=12"),
            "{text}"
        );
        assert!(text.contains("frame{run=\"r1\"}"), "{text}");
        assert!(
            !text.contains("filtered out") && !text.contains('\u{1b}'),
            "{text}"
        );
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        let set = Some(std::ffi::OsStr::new("1"));
        let empty = Some(std::ffi::OsStr::new(""));
        assert!(colours(true, None));
        assert!(colours(true, empty));
        assert!(!colours(true, set));
        assert!(!colours(false, None));
        assert!(!colours(false, set));
        // Under `cargo test` stderr is captured or redirected, not a terminal.
        if !std::io::stderr().is_terminal() {
            assert!(!ansi());
        }
    }

    #[test]
    fn init_twice_is_fine() {
        let text = TelemetrySettings::default();
        init(&text, "test").unwrap();
        let json = TelemetrySettings {
            format: LogFormat::Json,
            ..TelemetrySettings::default()
        };
        init(&json, "test-again").unwrap();
        tracing::info!(n = 1, "logged after two inits");
    }
}
