//! [`watch`]: results as they arrive, and [`format_result`], one line per result.

use std::fmt::Write as _;

use futures::StreamExt;
use futures::stream::BoxStream;
use tessera_bus::Bus;
use tessera_protocol::{FrameResult, InstrumentId, Limits, RunId, decode, subjects};

use crate::InstrumentError;

/// The timing that holds end-to-end latency, instrument publish to result, in ms.
pub const LATENCY_TIMING: &str = "publish_to_result";
/// Communities [`format_result`] lists by name; the rest are counted.
const LISTED: usize = 4;

/// Decoded results, or why one could not be decoded.
pub type ResultStream = BoxStream<'static, Result<FrameResult, InstrumentError>>;

/// Which results to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultFilter {
    /// Every instrument and run: `tessera.results.>`.
    All,
    /// Every run of one instrument: `tessera.results.<instrument>.*`.
    Instrument(InstrumentId),
    /// One run: `tessera.results.<instrument>.<run>`.
    Run(InstrumentId, RunId),
}

impl ResultFilter {
    /// The subject (pattern) it subscribes to.
    pub fn subject(&self) -> String {
        match self {
            ResultFilter::All => subjects::RESULTS_ALL.to_string(),
            ResultFilter::Instrument(i) => subjects::results_instrument_filter(i),
            ResultFilter::Run(i, r) => subjects::results_subject(i, r),
        }
    }
}

/// Subscribes (core NATS) to the results `filter` selects and decodes each one. Only results
/// published after the call arrive; an undecodable message is an error item and the stream
/// goes on. Results are validated, except against a frame-size limit: a watcher holds no
/// pixels. The stream ends when the connection closes.
pub async fn watch(bus: &Bus, filter: ResultFilter) -> Result<ResultStream, InstrumentError> {
    let subject = filter.subject();
    // Boxed: the bus's stream type borrows nothing but names the borrows of the call.
    let messages = bus
        .subscribe(&subject)
        .await
        .map_err(|source| InstrumentError::Bus {
            context: "watching results".into(),
            source,
        })?
        .boxed();
    let limits = Limits {
        max_frame_pixels: u64::MAX,
        ..Limits::default()
    };
    Ok(messages
        .map(move |m| {
            decode::<FrameResult>(&m.payload, &limits).map_err(|source| InstrumentError::Result {
                subject: m.subject,
                source,
            })
        })
        .boxed())
}

/// One line for a result: instrument, run, frame, dose, the communities by area (largest
/// first, with their ids) and the end-to-end latency when the timings have it, e.g.
/// `titan-1/run-7 frame 3 dose 30: 3 communities #1 61.0% #0 35.2% #2 3.8%; latency 412 ms`.
pub fn format_result(r: &FrameResult) -> String {
    let mut line = format!("{}/{} frame {}", r.instrument, r.run, r.seq);
    if let Some(dose) = r.dose {
        let _ = write!(line, " dose {dose}");
    }
    let n = r.communities.len();
    let _ = write!(
        line,
        ": {n} {}",
        if n == 1 { "community" } else { "communities" }
    );
    let mut by_area: Vec<_> = r.communities.iter().collect();
    by_area.sort_by(|a, b| {
        b.area_fraction
            .total_cmp(&a.area_fraction)
            .then(a.id.cmp(&b.id))
    });
    for c in by_area.iter().take(LISTED) {
        let _ = write!(line, " #{} {:.1}%", c.id, 100.0 * c.area_fraction);
    }
    if n > LISTED {
        let _ = write!(line, " (+{} more)", n - LISTED);
    }
    match &r.classes {
        Some(k) if k.error.is_some() => {
            let _ = write!(line, "; not classified ({})", k.classifier);
        }
        Some(k) => {
            let _ = write!(line, "; classes ({}):", k.classifier);
            for c in &k.classes {
                let _ = write!(line, " {} {:.1}%", c.name, 100.0 * c.area_fraction);
            }
            let _ = write!(line, " unknown {:.1}%", 100.0 * k.unknown_fraction);
        }
        None => {}
    }
    if let Some((_, ms)) = r.timings.iter().find(|(name, _)| name == LATENCY_TIMING) {
        let _ = write!(line, "; latency {ms:.0} ms");
    }
    line
}
