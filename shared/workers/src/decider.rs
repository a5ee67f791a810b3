//! The decider service: frame results in, decisions out — the closed loop. For each result
//! of a run with a policy (KV `tessera_policies`, key `run.<run>`, else
//! `instrument.<instrument>`) it evaluates the policy's rules on the frame
//! (`tessera_pipeline::decisions`), publishes one [`Decision`] on
//! `tessera.decisions.<instrument>.<run>` (Msg-Id: run and frame), then stores the run's state
//! (hysteresis counters, latches, regions asked for) in KV `tessera_decider`.
//!
//! Publishing before storing the state makes a restart safe both ways: killed between the
//! two, the redelivered result is decided again from the old state, to the same decision,
//! which the stream drops as a duplicate; killed after both, the state says the frame was
//! decided and nothing is published. Its consumer hands out one result at a time, so a
//! redelivered result is decided before any later one (a later frame decided first would
//! count the run's hysteresis without it). A run without a policy costs one or two KV reads per
//! frame and publishes nothing.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use tessera_bus::Delivery;
use tessera_pipeline::decisions::{DeciderState, decide, failed_decision};
use tessera_policy::Policy;
use tessera_protocol::{
    Decision, FrameResult, PolicyRecord, Service, decode, encode_message, keys,
    streams::{DECIDER_KV, POLICIES_KV},
    subjects,
};
use tracing::{Instrument, Span, field::Empty};

use crate::common::{FRAMES, Failure, forward_headers, next_delivery, now_ms, pull, settle};
use crate::{Context, WorkerError};

/// Policies parsed, by KV key, kept while their revision stays the same.
#[derive(Default)]
struct Policies {
    parsed: HashMap<String, (u64, Result<Policy, String>)>,
}

/// Runs the decider until `ctx.shutdown` is cancelled.
pub async fn run(ctx: Context) -> Result<(), WorkerError> {
    let spec = &ctx.settings.queues.consumer(Service::Decider);
    let mut deliveries = pull(&ctx, Service::Decider, spec, 1).await?;
    let mut policies = Policies::default();
    while let Some(d) = next_delivery(&ctx, &mut deliveries).await? {
        let span = tracing::info_span!("decide", service = "decider", run = Empty, frame = Empty);
        tessera_telemetry::set_parent_from(&span, &d.headers);
        async {
            let outcome = handle(&ctx, &mut policies, &d).await;
            settle(&ctx, Service::Decider, spec, &d, outcome).await;
        }
        .instrument(span)
        .await;
    }
    Ok(())
}

async fn handle(ctx: &Context, policies: &mut Policies, d: &Delivery) -> Result<(), Failure> {
    let t = Instant::now();
    let result: FrameResult =
        decode(&d.payload, &ctx.limits).map_err(|e| Failure::Reject(e.to_string()))?;
    crate::spans::record_frame(&Span::current(), &result.run, result.seq);
    let Some((name, policy)) = policy_for(ctx, policies, &result).await? else {
        return Ok(());
    };
    let state_key = keys::decider_state_key(&result.run);
    let mut state = match ctx.bus.kv_get(DECIDER_KV.bucket, &state_key).await? {
        Some((bytes, _)) => DeciderState::decode(&bytes).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "starting the run's decider state afresh");
            DeciderState::default()
        }),
        None => DeciderState::default(),
    };
    let decision = match policy {
        Ok(policy) => match decide(policy, &name, &mut state, &result, now_ms()) {
            Ok(Some(decision)) => decision,
            Ok(None) => {
                tracing::debug!("frame decided before; nothing to publish");
                return Ok(());
            }
            Err(e) => return Err(Failure::Reject(e.to_string())),
        },
        Err(why) => failed_decision(&result, &name, why.clone(), now_ms()),
    };
    publish(ctx, d, &decision).await?;
    let stored = state.encode().map_err(|e| Failure::Reject(e.to_string()))?;
    ctx.bus
        .kv_put(DECIDER_KV.bucket, &state_key, Bytes::from(stored))
        .await?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    ctx.metrics
        .labelled_histogram(
            "stage_seconds",
            ("stage", "decide"),
            tessera_telemetry::SECONDS,
        )
        .observe_ms(ms);
    ctx.metrics.counter("decisions").inc();
    ctx.metrics
        .counter("actions")
        .add(decision.fired.len() as u64);
    let fired: Vec<&str> = decision.fired.iter().map(|f| f.rule.as_str()).collect();
    tracing::info!(target: FRAMES, policy = %decision.policy, ?fired, ms, "decided");
    Ok(())
}

/// The run's policy (its own, else its instrument's): its name for messages ("run.r1@3")
/// and the policy, or why it cannot be used; `None` when there is none.
async fn policy_for<'a>(
    ctx: &Context,
    policies: &'a mut Policies,
    result: &FrameResult,
) -> Result<Option<(String, &'a Result<Policy, String>)>, Failure> {
    for key in [
        keys::run_policy_key(&result.run),
        keys::instrument_policy_key(&result.instrument),
    ] {
        let Some((bytes, revision)) = ctx.bus.kv_get(POLICIES_KV.bucket, &key).await? else {
            continue;
        };
        let name = format!("{key}@{revision}");
        let fresh = !matches!(policies.parsed.get(&key), Some((r, _)) if *r == revision);
        if fresh {
            let parsed = decode::<PolicyRecord>(&bytes, &ctx.limits)
                .map_err(|e| format!("the stored policy {name} cannot be read: {e}"))
                .and_then(|record| {
                    Policy::parse(&record.toml, &format!("{} ({name})", record.origin))
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = &parsed {
                tracing::warn!(policy = %name, error = %e, "policy cannot be used");
            }
            policies.parsed.insert(key.clone(), (revision, parsed));
        }
        let policy = policies.parsed.get(&key).map(|(_, p)| p);
        return Ok(policy.map(|p| (name, p)));
    }
    Ok(None)
}

/// Publishes `decision` on its run's subject, once (its Msg-Id is the run and frame),
/// continuing the frame's trace.
async fn publish(ctx: &Context, d: &Delivery, decision: &Decision) -> Result<(), Failure> {
    let payload = encode_message(decision, &ctx.limits)
        .map_err(|e| Failure::Reject(format!("the decision cannot be encoded: {e}")))?;
    let subject = subjects::decisions_subject(&decision.instrument, &decision.run);
    ctx.bus
        .publish(
            &subject,
            Bytes::from(payload),
            &crate::spans::traced(forward_headers(d), &Span::current()),
            Some(&keys::decision_msg_id(&decision.run, decision.seq)),
        )
        .await?;
    Ok(())
}
