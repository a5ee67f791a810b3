//! Traces across the live pipeline: the five services run as separate processes (the
//! release or debug binaries, built on first use) against a real nats-server and the tiny
//! model, exporting over OTLP/HTTP to a receiver written for this test. One frame must make
//! one trace, with spans from all five services, the embedder's batch span linked to the
//! chip batches it consumed and the decider's decision continuing the publisher's span (a
//! decision is traceable to its frame); and each pipeline process's Prometheus endpoint must
//! count the frame and its chips.
//!
//! The publisher exports with a one-minute batch delay, so its spans arrive only through
//! the flush on SIGTERM: that checks that a service stopping loses none of its last spans.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use prost::Message;
use tessera_bus::Bus;
use tessera_protocol::{Service, WireParams};
use tessera_testkit::ChildGuard;
use tessera_tests::live::*;
use tessera_tests::scrape::{scrape_until, value};
use tessera_workers::up;

/// A span as the receiver recorded it.
#[derive(Debug, Clone)]
struct Recorded {
    service: String,
    name: String,
    trace: String,
    id: String,
    parent: String,
    attributes: BTreeMap<String, String>,
    /// `(trace, span)` of each link.
    links: Vec<(String, String)>,
}

type Spans = Arc<Mutex<Vec<Recorded>>>;

fn text(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

/// `POST /v1/traces`: an OTLP/HTTP protobuf export request.
async fn export(State(spans): State<Spans>, body: Bytes) -> Vec<u8> {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf request");
    let mut got = spans.lock().unwrap();
    for rs in &request.resource_spans {
        let resource = rs
            .resource
            .as_ref()
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            got.push(Recorded {
                service: service.clone(),
                name: span.name.clone(),
                trace: hex::encode(&span.trace_id),
                id: hex::encode(&span.span_id),
                parent: hex::encode(&span.parent_span_id),
                attributes: attributes(&span.attributes),
                links: span
                    .links
                    .iter()
                    .map(|l| (hex::encode(&l.trace_id), hex::encode(&l.span_id)))
                    .collect(),
            });
        }
    }
    ExportTraceServiceResponse::default().encode_to_vec()
}

/// Starts the receiver on a free loopback port; returns its base URL and what it records.
async fn receiver() -> (String, Spans) {
    let spans = Spans::default();
    let app = axum::Router::new()
        .route("/v1/traces", post(export))
        .with_state(spans.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, spans)
}

/// Asks a service process to stop (SIGTERM, as Kubernetes does) and waits for it to exit.
fn terminate(child: &mut ChildGuard) {
    let pid = child.0.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -TERM {pid}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.0.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "{pid} did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const SERVICES: [(Service, &str); 5] = [
    (Service::Ingest, "tessera-ingest"),
    (Service::Embedder, "tessera-embedder"),
    (Service::Clusterer, "tessera-clusterer"),
    (Service::Publisher, "tessera-publisher"),
    (Service::Decider, "tessera-decider"),
];

/// A policy with one rule that fires on the first frame, so the decider decides it.
const POLICY: &str = r#"
[[rule]]
name = "seen"
when = "threshold"
community = 0
above = 0.0
action = { do = "notify", message = "a frame" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_frame_is_one_trace_across_the_five_services() {
    // Built before the clock starts: a first build takes minutes.
    let bins: Vec<_> = SERVICES
        .iter()
        .map(|(s, name)| (*s, *name, service_binary(name)))
        .collect();
    let t0 = Instant::now();
    let (endpoint, spans) = receiver().await;
    let nats = nats();
    let mut settings = settings(&nats, None, "tiny");
    // Several chip batches per frame, so that the embedder's batch span has several links.
    settings.ingest.batch_chips = 16;
    settings.model.threads = 1;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    up::ensure_topology(&bus, &settings).await.unwrap();
    let mut ports = BTreeMap::new();
    let mut processes: Vec<(Service, ChildGuard)> = bins
        .iter()
        .map(|(service, name, bin)| {
            let mut cmd = service_command(bin, &settings, *service, &format!("{name}-1"));
            let port = tessera_testkit::free_port().unwrap();
            // The decider counts decisions, not frames: its metrics are not scraped here.
            if *service != Service::Decider {
                ports.insert(service.as_str(), port);
            }
            cmd.env(
                "TESSERA__TELEMETRY__METRICS_ADDR",
                format!("127.0.0.1:{port}"),
            );
            let delay = if *service == Service::Publisher {
                "60000"
            } else {
                "200"
            };
            cmd.env(tessera_telemetry::ENDPOINT_VAR, &endpoint)
                .env("OTEL_BSP_SCHEDULE_DELAY", delay)
                .env_remove(tessera_telemetry::SERVICE_NAME_VAR);
            (*service, ChildGuard(cmd.spawn().unwrap()))
        })
        .collect();

    let inst = instrument(&bus, &settings);
    let start = run_start(&inst, "traced", WireParams::default());
    let run = start.run.clone();
    let mut stream = results(&bus, &inst, &run).await;
    store_policy(&bus, &settings, &run, POLICY, "traced.toml").await;
    let mut decisions = inst.decisions(&run).await.unwrap();
    publish_run(&inst, &start, &[scene_frame(256, 7)]).await;
    let got = collect(&mut stream, 1, Duration::from_secs(240)).await;
    assert!(got.contains_key(&0));
    let decision = tokio::time::timeout(
        Duration::from_secs(60),
        futures::StreamExt::next(&mut decisions),
    )
    .await
    .expect("the frame's decision")
    .unwrap()
    .unwrap();
    assert_eq!((decision.seq, decision.fired.len()), (0, 1));
    let result_at = t0.elapsed();
    let chips = f64::from(got[&0].chips);
    let scraped = tokio::task::spawn_blocking(move || {
        ports
            .into_iter()
            .map(|(service, port)| {
                let url = format!("http://127.0.0.1:{port}/metrics");
                // Counted just after the service published what the frame produced.
                let counted = |s: &prometheus_parse::Scrape| {
                    value(s, "tessera_frames_total", service) == 1.0
                        || value(s, "tessera_chips_total", service) > 0.0
                };
                (
                    service,
                    scrape_until(&url, Duration::from_secs(30), counted),
                )
            })
            .collect::<BTreeMap<_, _>>()
    })
    .await
    .unwrap();
    // Each process's metrics endpoint counted the frame and its chips.
    assert_eq!(
        value(&scraped["ingest"], "tessera_frames_total", "ingest"),
        1.0
    );
    assert_eq!(
        value(&scraped["ingest"], "tessera_chips_total", "ingest"),
        chips
    );
    assert_eq!(
        value(&scraped["embedder"], "tessera_chips_total", "embedder"),
        chips
    );
    assert_eq!(
        value(&scraped["clusterer"], "tessera_frames_total", "clusterer"),
        1.0
    );
    assert_eq!(
        value(&scraped["publisher"], "tessera_frames_total", "publisher"),
        1.0
    );
    for (_, child) in &mut processes {
        terminate(child);
    }

    // Every service has stopped, so every span has been sent; allow the receiver a moment.
    let wanted: BTreeSet<&str> = SERVICES.iter().map(|(_, n)| *n).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let frame_spans = loop {
        let frame_spans: Vec<Recorded> = spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| {
                s.attributes.get("run") == Some(&run.to_string())
                    && s.attributes.get("frame").map(String::as_str) == Some("0")
            })
            .cloned()
            .collect();
        let services: BTreeSet<&str> = frame_spans.iter().map(|s| s.service.as_str()).collect();
        if services == wanted || Instant::now() > deadline {
            break frame_spans;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // One trace for the frame.
    let traces: BTreeSet<&str> = frame_spans.iter().map(|s| s.trace.as_str()).collect();
    assert_eq!(traces.len(), 1, "the frame's spans: {frame_spans:#?}");
    let trace = traces.into_iter().next().unwrap().to_string();
    let all = spans.lock().unwrap().clone();
    let in_trace: Vec<&Recorded> = all.iter().filter(|s| s.trace == trace).collect();
    let mut per_service: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for s in &in_trace {
        *per_service
            .entry(s.service.as_str())
            .or_default()
            .entry(s.name.as_str())
            .or_default() += 1;
    }
    eprintln!(
        "result after {:.1} s, spans checked after {:.1} s; trace {trace}: {per_service:?}",
        result_at.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    let services: BTreeSet<&str> = per_service.keys().copied().collect();
    assert_eq!(services, wanted, "services in the frame's trace");

    // The trace's root is ingest's span (the instrument sent no traceparent), and every
    // other span's parent is in the trace.
    let ids: BTreeSet<&str> = in_trace.iter().map(|s| s.id.as_str()).collect();
    let roots: Vec<&&Recorded> = in_trace.iter().filter(|s| s.parent.is_empty()).collect();
    assert_eq!(roots.len(), 1, "roots: {roots:#?}");
    assert_eq!(
        (roots[0].name.as_str(), roots[0].service.as_str()),
        ("ingest", "tessera-ingest")
    );
    for s in &in_trace {
        assert!(
            s.parent.is_empty() || ids.contains(s.parent.as_str()),
            "{} of {} has a parent outside the trace",
            s.name,
            s.service
        );
        assert_eq!(
            s.attributes
                .get("service")
                .map(|v| format!("tessera-{v}"))
                .as_deref(),
            Some(s.service.as_str())
        );
    }

    // The embedder's batch spans are linked to the chip batches they consumed: ingest's span.
    let batches: Vec<&&Recorded> = in_trace
        .iter()
        .filter(|s| s.name == "embed_batch")
        .collect();
    assert!(!batches.is_empty(), "no embed_batch span in {in_trace:#?}");
    for b in &batches {
        assert!(
            b.links
                .iter()
                .any(|(t, id)| *t == trace && *id == roots[0].id),
            "embed_batch is not linked to ingest's span: {b:#?}"
        );
    }
    // The clusterer's frame span continues the embedder's and leads to the publisher's.
    let cluster = in_trace.iter().find(|s| s.name == "cluster").unwrap();
    let publish = in_trace.iter().find(|s| s.name == "publish").unwrap();
    assert_eq!(publish.parent, cluster.id);
    // The decision is traceable to its frame: the decider's span continues the publisher's.
    let decide = in_trace.iter().find(|s| s.name == "decide").unwrap();
    assert_eq!(decide.parent, publish.id);
}
