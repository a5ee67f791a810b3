//! A run's live event stream (server-sent events). It subscribes to the run's results
//! first, then sends what the run holds so far, then follows: nothing falls in the gap,
//! and a frame seen twice is sent once. Events:
//! - `run`: the run's [`crate::runs::RunSummary`], at once and whenever it changes;
//! - `frame`: a [`tessera_protocol::FrameResult`], as JSON;
//! - `ready`: the history has been sent (data: how many frames);
//! - `problem`: something could not be read (data: a sentence); the stream goes on.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use tessera_protocol::{RunId, subjects};
use tokio::sync::mpsc;

use crate::routes::Dashboard;
use crate::runs::{decode_result, read_frames};

/// How often the run record is re-read for changes (state, frame counts).
const RUN_POLL: Duration = Duration::from_secs(1);
/// Events buffered for a slow browser before the follower waits.
const BUFFER: usize = 256;

/// The event stream of `run`.
pub(crate) fn run_events(
    dash: Dashboard,
    run: RunId,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::spawn(follow(dash, run, tx));
    let events =
        futures::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
        );
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// Feeds `tx` until the browser goes away, the connection to NATS closes, or the dashboard
/// stops.
async fn follow(dash: Dashboard, run: RunId, tx: mpsc::Sender<Event>) {
    let mut closing = dash.closing.clone();
    let mut live = match dash
        .bus
        .subscribe(&subjects::results_run_filter(&run))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            let _ = tx
                .send(problem(format!("cannot follow the run: {e}")))
                .await;
            return;
        }
    };
    let mut summary = None;
    if !send_run_if_changed(&dash, &run, &mut summary, &tx).await {
        return;
    }
    let mut seen = HashSet::new();
    let history = match read_frames(&dash.bus, &run, dash.max_history).await {
        Ok(frames) => frames,
        Err(e) => {
            let _ = tx
                .send(problem(format!("cannot read the run's frames: {e}")))
                .await;
            Vec::new()
        }
    };
    for r in &history {
        if seen.insert(r.seq) && !send_frame(&dash, r, &tx).await {
            return;
        }
    }
    if tx
        .send(Event::default().event("ready").data(seen.len().to_string()))
        .await
        .is_err()
    {
        return;
    }
    let mut poll = tokio::time::interval(RUN_POLL);
    loop {
        tokio::select! {
            message = live.next() => {
                let Some(message) = message else { break };
                match decode_result(&message.payload) {
                    Ok(r) if r.run == run => {
                        if seen.insert(r.seq) && !send_frame(&dash, &r, &tx).await {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(subject = %message.subject, error = %e, "undecodable result");
                    }
                }
            }
            _ = poll.tick() => {
                if !send_run_if_changed(&dash, &run, &mut summary, &tx).await {
                    break;
                }
            }
            _ = tx.closed() => break,
            _ = closing.changed() => break,
        }
    }
}

/// Sends `r` as a `frame` event; false when the browser has gone.
async fn send_frame(
    dash: &Dashboard,
    r: &tessera_protocol::FrameResult,
    tx: &mpsc::Sender<Event>,
) -> bool {
    dash.looks.remember(r);
    match serde_json::to_string(r) {
        Ok(json) => tx
            .send(Event::default().event("frame").data(json))
            .await
            .is_ok(),
        Err(e) => {
            tracing::warn!(error = %e, "a result cannot be written as JSON");
            true
        }
    }
}

/// Re-reads the run and sends it when it differs from `last`; false when the browser has
/// gone.
async fn send_run_if_changed(
    dash: &Dashboard,
    run: &RunId,
    last: &mut Option<crate::runs::RunSummary>,
    tx: &mpsc::Sender<Event>,
) -> bool {
    let event = match dash.run(run).await {
        Ok(Some(s)) if last.as_ref() != Some(&s) => {
            let json = serde_json::to_string(&s).unwrap_or_default();
            *last = Some(s);
            Event::default().event("run").data(json)
        }
        Ok(_) => return !tx.is_closed(),
        Err(e) => problem(format!("cannot read the run: {e}")),
    };
    tx.send(event).await.is_ok()
}

fn problem(text: String) -> Event {
    Event::default().event("problem").data(text)
}
