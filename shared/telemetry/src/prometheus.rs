//! [`render`]: registries in Prometheus' text exposition format (version 0.0.4).
//!
//! Written here rather than with `prometheus-client` because a process may hold several
//! services (`tessera up`), each with its own lazily filled [`Metrics`]: their series must be
//! merged into one family per name, told apart by a `service` label, which that crate's
//! registries (registration up front, one per encoder) do not do.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::Metrics;

/// Every metric name gets this prefix.
const PREFIX: &str = "tessera_";

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One registry to expose and the `service` label its series carry.
#[derive(Clone, Debug)]
pub struct Source {
    /// `ingest`, `embedder`, ...
    pub service: String,
    /// Its metrics.
    pub metrics: Metrics,
}

/// One sample line: the series' labels (beyond `service`) and value.
type Sample = (String, String);

/// A family: its type and its lines, by metric name without prefix.
#[derive(Default)]
struct Families(BTreeMap<String, (&'static str, Vec<Sample>)>);

impl Families {
    fn add(&mut self, name: String, kind: &'static str, labels: String, value: String) {
        self.0
            .entry(name)
            .or_insert_with(|| (kind, Vec::new()))
            .1
            .push((labels, value));
    }
}

/// Every counter (as `tessera_<name>_total`), gauge (`tessera_<name>`) and histogram
/// (`tessera_<name>_bucket`, `_sum`, `_count`) of `sources`, one `# TYPE` line per family.
/// Labels set with [`Metrics::set_label`] are left to the status messages.
pub fn render(sources: &[Source]) -> String {
    let mut families = Families::default();
    for source in sources {
        let service = format!("service=\"{}\"", escape(&source.service));
        for (name, value) in source.metrics.counters() {
            let family = format!("{name}_total");
            families.add(family, "counter", service.clone(), value.to_string());
        }
        for (name, value) in source.metrics.gauges() {
            families.add(
                name.to_string(),
                "gauge",
                service.clone(),
                value.to_string(),
            );
        }
        for ((name, label), histogram) in source.metrics.histograms() {
            let mut labels = service.clone();
            if let Some((key, value)) = label {
                let _ = write!(labels, ",{key}=\"{}\"", escape(&value));
            }
            let snap = histogram.snapshot();
            for (bound, count) in snap.cumulative {
                let le = if bound.is_infinite() {
                    "+Inf".to_string()
                } else {
                    bound.to_string()
                };
                let series = format!("{labels},le=\"{le}\"");
                families.add(format!("{name}_bucket"), "", series, count.to_string());
            }
            families.add(
                format!("{name}_sum"),
                "",
                labels.clone(),
                snap.sum.to_string(),
            );
            families.add(
                format!("{name}_count"),
                "",
                labels.clone(),
                snap.count.to_string(),
            );
            // The family's TYPE line goes on its base name, before the _bucket lines.
            families
                .0
                .entry(name.to_string())
                .or_insert(("histogram", Vec::new()));
        }
    }
    let mut out = String::new();
    let mut current_histogram: Option<String> = None;
    for (name, (kind, samples)) in &families.0 {
        if !kind.is_empty() {
            let _ = writeln!(out, "# TYPE {PREFIX}{name} {kind}");
            current_histogram = (*kind == "histogram").then(|| name.clone());
        } else if !current_histogram
            .as_deref()
            .is_some_and(|base| name.starts_with(base))
        {
            // A histogram's parts sort right after its base name; nothing else lacks a type.
            let _ = writeln!(out, "# TYPE {PREFIX}{name} untyped");
        }
        for (labels, value) in samples {
            let _ = writeln!(out, "{PREFIX}{name}{{{labels}}} {value}");
        }
    }
    out
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SECONDS, SIZES};

    #[test]
    fn families_merge_across_services_and_parse() {
        let ingest = Metrics::new();
        ingest.counter("frames").add(3);
        ingest.gauge("queue_lag").set(2);
        let embedder = Metrics::new();
        embedder.counter("frames").add(1);
        embedder.counter("chips").add(4096);
        embedder.histogram("batch_chips", SIZES).observe(64.0);
        embedder
            .labelled_histogram("stage_seconds", ("stage", "a \"quoted\"\nstage"), SECONDS)
            .observe(0.003);
        let text = render(&[
            Source {
                service: "ingest".into(),
                metrics: ingest,
            },
            Source {
                service: "embedder".into(),
                metrics: embedder,
            },
        ]);
        // One TYPE line per family, the histogram's on its base name.
        assert_eq!(
            text.matches("# TYPE tessera_frames_total counter").count(),
            1,
            "{text}"
        );
        assert!(
            text.contains("# TYPE tessera_batch_chips histogram"),
            "{text}"
        );
        assert!(!text.contains("untyped"), "{text}");
        assert!(
            text.contains("tessera_frames_total{service=\"ingest\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("tessera_frames_total{service=\"embedder\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("tessera_batch_chips_bucket{service=\"embedder\",le=\"64\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("tessera_batch_chips_bucket{service=\"embedder\",le=\"32\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("stage=\"a \\\"quoted\\\"\\nstage\",le=\"0.004\"} 1"),
            "{text}"
        );

        // An independent parser of the format reads every sample back.
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
        let value = |name: &str, service: &str| {
            scrape
                .samples
                .iter()
                .find(|s| s.metric == name && s.labels.get("service") == Some(service))
                .map(|s| s.value.clone())
        };
        assert!(matches!(
            value("tessera_frames_total", "ingest"),
            Some(prometheus_parse::Value::Counter(v)) if v == 3.0
        ));
        assert!(matches!(
            value("tessera_queue_lag", "ingest"),
            Some(prometheus_parse::Value::Gauge(v)) if v == 2.0
        ));
        let histogram = value("tessera_batch_chips", "embedder");
        let Some(prometheus_parse::Value::Histogram(buckets)) = histogram else {
            panic!("batch_chips is not read as a histogram: {histogram:?}\n{text}");
        };
        assert_eq!(buckets.len(), SIZES.len() + 1);
    }
}
