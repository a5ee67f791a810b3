//! [`init`]: the process's `tracing` subscriber, set up once from `[telemetry]`.

use std::io::IsTerminal;

use tessera_settings::{LogFormat, TelemetrySettings};
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

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
}

/// Installs the global `tracing` subscriber for `service`: human-readable text or one JSON
/// object per line (`settings.format`), on stderr, keeping what `RUST_LOG` selects when it
/// is set and `settings.log` otherwise.
///
/// A filter that does not parse is an error naming it. Only the first call in a process
/// installs anything; later calls (several services in one process, tests) return `Ok`
/// and keep the first subscriber. Services should put their name in their spans' fields
/// (`info_span!("embedder", instance = %id)`), since one subscriber serves them all.
pub fn init(settings: &TelemetrySettings, service: &str) -> Result<(), TelemetryError> {
    let filter = filter(&settings.log, std::env::var("RUST_LOG").ok())?;
    let ansi = std::io::stderr().is_terminal();
    match subscriber(settings.format, filter, std::io::stderr, ansi).try_init() {
        Ok(()) => tracing::debug!(service, format = ?settings.format, "logging started"),
        Err(_) => tracing::debug!(service, "logging already set up in this process; kept"),
    }
    Ok(())
}

/// A subscriber writing `format` lines through `writer`.
fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    }
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
