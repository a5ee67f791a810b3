//! Messages taken ahead of the work, kept alive until they are handed out.
//!
//! The embedders' consumer has a short ack wait (`queues.embedder_ack_wait_secs`, 4 s), so
//! that the chip batches a killed embedder held come back to work within seconds. A live
//! embedder must then send progress acks for every message it holds: the ones in the model
//! call ([`keep_alive`](crate::common::keep_alive)) and the ones waiting for the next call,
//! which [`prefetch`] holds.
//!
//! [`prefetch`] takes messages off the pull stream as soon as they arrive, as long as fewer
//! than `ahead` wait, and acks the waiting ones as in progress every `every`. The pull stream
//! under it must ask for one message at a time ([`PullOptions::batch`] 1): it asks for the
//! next one only when polled, so no message ever sits unseen (and unacked) in the client's
//! buffer while the embedder is busy.
//!
//! [`PullOptions::batch`]: tessera_bus::PullOptions::batch

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tessera_bus::{BusError, Deliveries, Delivery};
use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;

type Item = Result<Delivery, BusError>;

/// What the pump and the stream it feeds share.
#[derive(Default)]
struct Shared {
    waiting: Mutex<Waiting>,
    /// Something was added to `waiting`, or it ended.
    arrived: Notify,
    /// Something was taken from `waiting`.
    taken: Notify,
}

#[derive(Default)]
struct Waiting {
    items: VecDeque<Item>,
    /// The pull stream ended.
    ended: bool,
}

/// `deliveries`, with up to `ahead` messages taken ahead and kept alive every `every`. On
/// `shutdown` the waiting messages are handed back (nak without delay), so another copy gets
/// them at once, and the returned stream yields nothing more; it ends (`None`) only after
/// `deliveries` does.
pub(crate) fn prefetch(
    deliveries: Deliveries,
    ahead: usize,
    every: Duration,
    shutdown: CancellationToken,
) -> Deliveries {
    let shared = Arc::new(Shared::default());
    tokio::spawn(pump(
        deliveries,
        ahead.max(1),
        every,
        shared.clone(),
        shutdown,
    ));
    Box::pin(futures::stream::unfold(shared, |shared| async move {
        loop {
            {
                let mut w = shared.waiting.lock().await;
                if let Some(item) = w.items.pop_front() {
                    drop(w);
                    shared.taken.notify_one();
                    return Some((item, shared));
                }
                if w.ended {
                    return None;
                }
            }
            shared.arrived.notified().await;
        }
    }))
}

/// Fills `shared.waiting` from `deliveries` and keeps what waits alive, until shutdown or
/// until the stream it feeds is dropped.
async fn pump(
    mut deliveries: Deliveries,
    ahead: usize,
    every: Duration,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (held, ended) = {
            let w = shared.waiting.lock().await;
            (w.items.len(), w.ended)
        };
        if ended && held == 0 {
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {
                // Only the pump holds `shared` once the stream is dropped.
                if Arc::strong_count(&shared) == 1 {
                    break;
                }
                let w = shared.waiting.lock().await;
                for d in w.items.iter().flatten() {
                    let _ = d.in_progress().await;
                }
            }
            _ = shared.taken.notified(), if ended || held >= ahead => {}
            next = deliveries.next(), if !ended && held < ahead => {
                let mut w = shared.waiting.lock().await;
                match next {
                    Some(item) => w.items.push_back(item),
                    None => w.ended = true,
                }
                drop(w);
                shared.arrived.notify_one();
            }
        }
    }
    // The stream is not ended here: on shutdown the service loop stops by itself, and an end
    // would read as a lost consumer. It stays empty, and pending.
    let items: Vec<Item> = shared.waiting.lock().await.items.drain(..).collect();
    let mut handed = 0;
    for d in items.iter().flatten() {
        let _ = d.nak(None).await;
        handed += 1;
    }
    if handed > 0 {
        tracing::info!(messages = handed, "handed the messages taken ahead back");
    }
}
