//! Several services in one process (`tessera up`): one bus connection, the topology ensured
//! once, each service its own task with its own metrics, one shutdown for all.

use std::sync::Arc;

use tessera_bus::{Bus, TopologyReport};
use tessera_protocol::{Service, sites, streams};
use tessera_settings::{QueueSettings, Settings};
use tokio_util::sync::CancellationToken;

use crate::{Context, WorkerError, clusterer, decider, embedder, ingest, publisher};

/// Creates or updates the streams, consumers, KV buckets and object stores of this site
/// (`bus.site`: everything on a single site; [`sites::layout`] at a hub or an edge),
/// idempotently, the pipeline's queues sized and the consumers' ack waits set by
/// `settings.queues`.
pub async fn ensure_topology(
    bus: &Bus,
    settings: &Settings,
) -> Result<TopologyReport, WorkerError> {
    let b = &settings.bus;
    let mut layout = sites::layout(
        b.site,
        sized_streams(&settings.queues),
        &b.hub_domain,
        b.edge_domain.as_deref().unwrap_or_default(),
    );
    settings.queues.apply_ack_waits(&mut layout.consumers);
    Ok(bus
        .ensure_topology(
            &layout.streams,
            &layout.consumers,
            &layout.kv,
            &layout.objects,
        )
        .await?)
}

/// Every stream, the four queues with the byte limits of `queues`.
pub fn sized_streams(queues: &QueueSettings) -> Vec<streams::StreamSpec> {
    let sizes = [
        (streams::ACQ.name, queues.acq_max_bytes),
        (streams::WORK.name, queues.work_max_bytes),
        (streams::EMBEDDED.name, queues.embedded_max_bytes),
        (streams::SEGMENTED.name, queues.segmented_max_bytes),
    ];
    let mut specs = streams::all_streams();
    for s in &mut specs {
        if let Some((_, bytes)) = sizes.iter().find(|(name, _)| *name == s.name) {
            s.max_bytes = *bytes;
        }
    }
    specs
}

/// Runs `service` until `ctx.shutdown` is cancelled.
pub async fn run_service(service: Service, ctx: Context) -> Result<(), WorkerError> {
    match service {
        Service::Ingest => ingest::run(ctx).await,
        Service::Embedder => embedder::run(ctx).await,
        Service::Clusterer => clusterer::run(ctx).await,
        Service::Publisher => publisher::run(ctx).await,
        Service::Decider => decider::run(ctx).await,
    }
}

/// Runs `services` (a service may appear more than once: several embedders) on `bus` until
/// `shutdown` is cancelled or one of them fails, which stops the others.
pub async fn run_services(
    bus: Bus,
    settings: Arc<Settings>,
    services: &[Service],
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    let site = settings.bus.site;
    if let Some(s) = services.iter().find(|s| !site.runs(**s)) {
        return Err(WorkerError::Task(format!(
            "the {} does not run at a {} site (bus.site = \"{}\"): embedders run at the \
             edge, ingest, clusterer and publisher at the hub; the hub's WORK is taken by the \
             edge's, so an embedder at the hub would embed batches twice",
            s.as_str(),
            site.as_str(),
            site.as_str()
        )));
    }
    ensure_topology(&bus, &settings).await?;
    let instance = crate::instance_name(settings.embedder.instance.as_deref());
    let mut contexts = Vec::with_capacity(services.len());
    for (i, &service) in services.iter().enumerate() {
        let name = if services.len() == 1 {
            instance.clone()
        } else {
            format!("{instance}-{}-{i}", service.as_str())
        };
        let mut ctx = Context::new(bus.clone(), settings.clone(), name);
        ctx.shutdown = shutdown.child_token();
        contexts.push((service, ctx));
    }
    serve_endpoint(&bus, &settings, &contexts, &shutdown).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for (service, ctx) in contexts {
        tasks.spawn(async move { (service, run_service(service, ctx).await) });
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let failed = match joined {
            Ok((_, Ok(()))) => None,
            Ok((service, Err(e))) => Some(WorkerError::Task(format!("{}: {e}", service.as_str()))),
            Err(e) => Some(WorkerError::Task(format!("a service task failed: {e}"))),
        };
        if let Some(e) = failed {
            tracing::error!(error = %e, "service stopped; stopping the others");
            shutdown.cancel();
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Serves the metrics of `contexts` with `/healthz` and `/readyz` on
/// `telemetry.metrics_addr` (none when it is empty) until `shutdown`. The process is ready
/// while it is connected to NATS and every service is consuming. A service that appears
/// more than once is labelled `<service>-<i>`.
async fn serve_endpoint(
    bus: &Bus,
    settings: &Settings,
    contexts: &[(Service, Context)],
    shutdown: &CancellationToken,
) -> Result<(), WorkerError> {
    let addr = settings.telemetry.metrics_addr.trim();
    if addr.is_empty() {
        return Ok(());
    }
    let mut sources = Vec::with_capacity(contexts.len());
    let mut consuming = Vec::with_capacity(contexts.len());
    for (i, (service, ctx)) in contexts.iter().enumerate() {
        let repeated = contexts.iter().filter(|(s, _)| s == service).count() > 1;
        let label = if repeated {
            format!("{}-{i}", service.as_str())
        } else {
            service.as_str().to_string()
        };
        sources.push(tessera_telemetry::Source {
            service: label.clone(),
            metrics: ctx.metrics.clone(),
        });
        consuming.push((label, ctx.metrics.gauge("ready")));
    }
    let bus = bus.clone();
    let ready: tessera_telemetry::Readiness = Arc::new(move || {
        if !bus.is_connected() {
            return Err(format!("not connected to NATS at {}", bus.url()));
        }
        match consuming.iter().find(|(_, ready)| ready.get() != 1) {
            Some((service, _)) => Err(format!("{service} is not consuming yet")),
            None => Ok(()),
        }
    });
    tessera_telemetry::serve_metrics(addr, sources, ready, shutdown.clone().cancelled_owned())
        .await?;
    Ok(())
}

/// `GET url` within [`PROBE_TIMEOUT`](tessera_telemetry::PROBE_TIMEOUT), for
/// `tessera-<service> --health URL` (container health checks): `Ok` on a 2xx answer.
pub fn probe_health(url: &str) -> Result<(), WorkerError> {
    Ok(tessera_telemetry::probe(
        url,
        tessera_telemetry::PROBE_TIMEOUT,
    )?)
}

/// Connects to NATS with `settings.bus`, waiting `bus.connect_wait_ms` for a server that is
/// still starting.
pub async fn connect(settings: &Settings) -> Result<Bus, WorkerError> {
    Ok(Bus::connect(&settings.bus).await?)
}

/// Cancels `shutdown` on Ctrl-C (SIGINT) or SIGTERM (what Kubernetes sends), so services
/// finish the message in hand and stop; unsettled messages are redelivered to another copy.
/// The handlers are in place when this returns (also in a process started in the background,
/// where the shell ignores Ctrl-C for it). Call it inside the runtime.
pub fn cancel_on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::spawn(async move {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                    tracing::info!("shutting down");
                    shutdown.cancel();
                });
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot listen for SIGINT and SIGTERM; Ctrl-C kills");
            }
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        shutdown.cancel();
    });
}

/// What a service binary does: load the settings (`config`, then `TESSERA__...` variables),
/// set up logging (and trace export), connect, ensure the topology, run `service` until a
/// signal, and send the last spans.
pub async fn run_binary(
    service: Service,
    config: Option<&std::path::Path>,
) -> Result<(), WorkerError> {
    let settings = Settings::load(config)?;
    tessera_telemetry::init(&settings.telemetry, service.as_str())?;
    let served = serve(settings, &[service]).await;
    flush_traces().await;
    served
}

/// Sends the spans still queued for the trace collector (if traces are exported), off the
/// async threads: call it once, as the process ends.
pub async fn flush_traces() {
    let _ = tokio::task::spawn_blocking(tessera_telemetry::shutdown).await;
}

/// Connects, ensures the topology and runs `services` until a signal.
pub async fn serve(settings: Settings, services: &[Service]) -> Result<(), WorkerError> {
    let bus = connect(&settings).await?;
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    run_services(bus, Arc::new(settings), services, shutdown).await
}
