//! Several services in one process (`tessera up`): one bus connection, the topology ensured
//! once, each service its own task with its own metrics, one shutdown for all.

use std::sync::Arc;

use tessera_bus::{Bus, TopologyReport};
use tessera_protocol::{Service, streams};
use tessera_settings::{QueueSettings, Settings};
use tokio_util::sync::CancellationToken;

use crate::{Context, WorkerError, clusterer, embedder, ingest, publisher};

/// Creates or updates every stream, consumer, KV bucket and object store (idempotent), the
/// pipeline's queues sized by `queues`.
pub async fn ensure_topology(
    bus: &Bus,
    queues: &QueueSettings,
) -> Result<TopologyReport, WorkerError> {
    Ok(bus
        .ensure_topology(
            &sized_streams(queues),
            &streams::CONSUMERS,
            &streams::KV_BUCKETS,
            &streams::OBJECT_STORES,
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
    ensure_topology(&bus, &settings.queues).await?;
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

/// `GET url` within 3 s, for `tessera-<service> --health URL` (container health checks):
/// `Ok` on a 2xx answer.
pub fn probe_health(url: &str) -> Result<(), WorkerError> {
    Ok(tessera_telemetry::probe(
        url,
        std::time::Duration::from_secs(3),
    )?)
}

/// Connects to NATS with `settings.bus`, waiting `bus.connect_wait_ms` for a server that is
/// still starting.
pub async fn connect(settings: &Settings) -> Result<Bus, WorkerError> {
    Ok(Bus::connect(&settings.bus).await?)
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM (what Kubernetes sends), so services finish the
/// message in hand and stop; unsettled messages are redelivered to another copy.
pub fn cancel_on_signal(shutdown: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for SIGTERM");
                        let _ = ctrl_c.await;
                        shutdown.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        shutdown.cancel();
    });
}

/// What a service binary does: load the settings (`config`, then `TESSERA__...` variables),
/// set up logging, connect, ensure the topology, and run `service` until a signal.
pub async fn run_binary(
    service: Service,
    config: Option<&std::path::Path>,
) -> Result<(), WorkerError> {
    let settings = Settings::load(config)?;
    tessera_telemetry::init(&settings.telemetry, service.as_str())?;
    serve(settings, &[service]).await
}

/// Connects, ensures the topology and runs `services` until a signal.
pub async fn serve(settings: Settings, services: &[Service]) -> Result<(), WorkerError> {
    let bus = connect(&settings).await?;
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    run_services(bus, Arc::new(settings), services, shutdown).await
}
