//! Every subject Tessera uses: patterns (what streams capture and consumers filter), builders
//! and [`Route`], the parser that recovers ids from a subject.
//!
//! | subject | message | stream | from → to |
//! | --- | --- | --- | --- |
//! | `tessera.acq.<instrument>.start` | [`crate::RunStart`] | ACQ | instrument → ingest |
//! | `tessera.acq.<instrument>.frame` | [`crate::Frame`] | ACQ | instrument → ingest |
//! | `tessera.acq.<instrument>.stop` | [`crate::RunStop`] | ACQ | instrument → ingest |
//! | `tessera.work.<run>` | [`crate::ChipBatch`] | WORK | ingest → embedders |
//! | `tessera.embedded.<run>` | [`crate::EmbeddingBatch`] | EMBEDDED | embedders → clusterer |
//! | `tessera.segmented.<run>` | [`crate::Segmented`] | SEGMENTED | clusterer → publisher |
//! | `tessera.results.<instrument>.<run>` | [`crate::FrameResult`] | RESULTS | publisher → dashboards |
//! | `tessera.rejects.<service>` | [`crate::Reject`] | REJECTS | any service → operators |
//! | `tessera.dlq.<stream>` | [`crate::DeadLetter`] | DLQ | any consumer → operators |
//! | `tessera.status.<service>` | [`crate::ServiceStatus`] | none (core NATS) | services → monitors |
//! | `tessera.decisions.<instrument>.<run>` | [`crate::Decision`] | DECISIONS | decider → instrument, dashboards |
//! | `tessera.acks.<instrument>.<run>` | [`crate::DecisionAck`] | DECISIONS | instrument → dashboards |
//! | `tessera.classify.<run>` | [`crate::ClassifyRequest`], answered with [`crate::ClassifyReply`] | none (core NATS request) | dashboard → clusterer |

use std::{fmt, str::FromStr};

use crate::{
    InstrumentId, MessageKind, ProtocolError, RunId, error::shorten, streams, validate::check_token,
};

/// First token of every Tessera subject.
pub const PREFIX: &str = "tessera";
/// Run starts of every instrument.
pub const ACQ_START_PATTERN: &str = "tessera.acq.*.start";
/// Frames of every instrument.
pub const ACQ_FRAME_PATTERN: &str = "tessera.acq.*.frame";
/// Run stops of every instrument.
pub const ACQ_STOP_PATTERN: &str = "tessera.acq.*.stop";
/// Chip batches of every run.
pub const WORK_PATTERN: &str = "tessera.work.*";
/// Embedding batches of every run.
pub const EMBEDDED_PATTERN: &str = "tessera.embedded.*";
/// Segmented frames of every run.
pub const SEGMENTED_PATTERN: &str = "tessera.segmented.*";
/// Results of every instrument and run (what the RESULTS stream captures).
pub const RESULTS_PATTERN: &str = "tessera.results.*.*";
/// What a dashboard subscribes to for every result.
pub const RESULTS_ALL: &str = "tessera.results.>";
/// Rejects of every service.
pub const REJECTS_PATTERN: &str = "tessera.rejects.*";
/// Dead letters of every stream.
pub const DLQ_PATTERN: &str = "tessera.dlq.*";
/// Status of every service (core NATS, no stream).
pub const STATUS_PATTERN: &str = "tessera.status.*";
/// Label requests of every run (core NATS requests, no stream).
pub const CLASSIFY_PATTERN: &str = "tessera.classify.*";

/// Decisions for every instrument and run (what the DECISIONS stream captures).
pub const DECISIONS_PATTERN: &str = "tessera.decisions.*.*";
/// Instruments' answers to decisions, for every instrument and run.
pub const ACKS_PATTERN: &str = "tessera.acks.*.*";

/// `tessera.decisions.<instrument>.<run>`.
pub fn decisions_subject(instrument: &InstrumentId, run: &RunId) -> String {
    format!("{PREFIX}.decisions.{instrument}.{run}")
}

/// `tessera.decisions.<instrument>.*`: every decision for one instrument (what its
/// credentials may read).
pub fn decisions_instrument_filter(instrument: &InstrumentId) -> String {
    format!("{PREFIX}.decisions.{instrument}.*")
}

/// `tessera.acks.<instrument>.<run>`.
pub fn acks_subject(instrument: &InstrumentId, run: &RunId) -> String {
    format!("{PREFIX}.acks.{instrument}.{run}")
}

/// `tessera.classify.<run>`: labels painted on one of the run's frames.
pub fn classify_subject(run: &RunId) -> String {
    format!("{PREFIX}.classify.{run}")
}

/// The pipeline's services, as they name themselves in subjects and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// Validates and chips frames.
    Ingest,
    /// Embeds chips.
    Embedder,
    /// Builds the graph and finds communities.
    Clusterer,
    /// Renders and publishes results.
    Publisher,
    /// Turns results into decisions for the instrument (the closed loop).
    Decider,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 5] = [
        Service::Ingest,
        Service::Embedder,
        Service::Clusterer,
        Service::Publisher,
        Service::Decider,
    ];

    /// Its name: "ingest", "embedder", "clusterer", "publisher", "decider".
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Ingest => "ingest",
            Service::Embedder => "embedder",
            Service::Clusterer => "clusterer",
            Service::Publisher => "publisher",
            Service::Decider => "decider",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Service {
    type Err = ProtocolError;

    fn from_str(s: &str) -> Result<Service, ProtocolError> {
        Service::ALL
            .into_iter()
            .find(|svc| svc.as_str() == s)
            .ok_or_else(|| ProtocolError::InvalidToken {
                what: "service",
                value: shorten(s, 80),
                reason:
                    "it is not a Tessera service (ingest, embedder, clusterer, publisher, decider)"
                        .into(),
            })
    }
}

/// `tessera.acq.<instrument>.start`.
pub fn acq_start_subject(instrument: &InstrumentId) -> String {
    format!("{PREFIX}.acq.{instrument}.start")
}

/// `tessera.acq.<instrument>.frame`.
pub fn acq_frame_subject(instrument: &InstrumentId) -> String {
    format!("{PREFIX}.acq.{instrument}.frame")
}

/// `tessera.acq.<instrument>.stop`.
pub fn acq_stop_subject(instrument: &InstrumentId) -> String {
    format!("{PREFIX}.acq.{instrument}.stop")
}

/// `tessera.acq.<instrument>.*`: one instrument's acquisition messages.
pub fn acq_instrument_filter(instrument: &InstrumentId) -> String {
    format!("{PREFIX}.acq.{instrument}.*")
}

/// `tessera.work.<run>`.
pub fn work_subject(run: &RunId) -> String {
    format!("{PREFIX}.work.{run}")
}

/// `tessera.embedded.<run>`.
pub fn embedded_subject(run: &RunId) -> String {
    format!("{PREFIX}.embedded.{run}")
}

/// `tessera.segmented.<run>`.
pub fn segmented_subject(run: &RunId) -> String {
    format!("{PREFIX}.segmented.{run}")
}

/// `tessera.results.<instrument>.<run>`.
pub fn results_subject(instrument: &InstrumentId, run: &RunId) -> String {
    format!("{PREFIX}.results.{instrument}.{run}")
}

/// `tessera.results.<instrument>.*`: every run of one instrument.
pub fn results_instrument_filter(instrument: &InstrumentId) -> String {
    format!("{PREFIX}.results.{instrument}.*")
}

/// `tessera.results.*.<run>`: one run's results, whatever its instrument.
pub fn results_run_filter(run: &RunId) -> String {
    format!("{PREFIX}.results.*.{run}")
}

/// `tessera.rejects.<service>`.
pub fn rejects_subject(service: Service) -> String {
    format!("{PREFIX}.rejects.{service}")
}

/// `tessera.dlq.<stream>`; the stream name must be a subject token (Tessera's all are).
pub fn dlq_subject(stream: &str) -> Result<String, ProtocolError> {
    check_token("stream name", stream)?;
    Ok(format!("{PREFIX}.dlq.{stream}"))
}

/// `tessera.status.<service>`.
pub fn status_subject(service: Service) -> String {
    format!("{PREFIX}.status.{service}")
}

/// A parsed Tessera subject: what it carries and the ids in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Route {
    /// `tessera.acq.<instrument>.start`.
    AcqStart(InstrumentId),
    /// `tessera.acq.<instrument>.frame`.
    AcqFrame(InstrumentId),
    /// `tessera.acq.<instrument>.stop`.
    AcqStop(InstrumentId),
    /// `tessera.work.<run>`.
    Work(RunId),
    /// `tessera.embedded.<run>`.
    Embedded(RunId),
    /// `tessera.segmented.<run>`.
    Segmented(RunId),
    /// `tessera.results.<instrument>.<run>`.
    Results {
        /// The instrument.
        instrument: InstrumentId,
        /// The run.
        run: RunId,
    },
    /// `tessera.decisions.<instrument>.<run>`.
    Decisions {
        /// The instrument.
        instrument: InstrumentId,
        /// The run.
        run: RunId,
    },
    /// `tessera.acks.<instrument>.<run>`.
    Acks {
        /// The instrument.
        instrument: InstrumentId,
        /// The run.
        run: RunId,
    },
    /// `tessera.rejects.<service>`.
    Rejects(Service),
    /// `tessera.dlq.<stream>`.
    DeadLetters(String),
    /// `tessera.status.<service>`.
    Status(Service),
}

impl Route {
    /// Parses a concrete subject (no wildcards); the error says which shape was expected.
    pub fn parse(subject: &str) -> Result<Route, ProtocolError> {
        let fail = |reason: String| ProtocolError::Subject {
            subject: shorten(subject, 200),
            reason,
        };
        let tokens: Vec<&str> = subject.split('.').collect();
        if tokens.first() != Some(&PREFIX) {
            return Err(fail(format!("it does not start with {PREFIX:?}")));
        }
        let wrap = |e: ProtocolError| fail(e.to_string());
        let run = |t: &str| RunId::new(t).map_err(wrap);
        let instrument = |t: &str| InstrumentId::new(t).map_err(wrap);
        let service = |t: &str| t.parse::<Service>().map_err(wrap);
        match tokens[1..] {
            ["acq", i, "start"] => Ok(Route::AcqStart(instrument(i)?)),
            ["acq", i, "frame"] => Ok(Route::AcqFrame(instrument(i)?)),
            ["acq", i, "stop"] => Ok(Route::AcqStop(instrument(i)?)),
            ["acq", ..] => Err(fail(
                "expected tessera.acq.<instrument>.start, .frame or .stop".into(),
            )),
            ["work", r] => Ok(Route::Work(run(r)?)),
            ["embedded", r] => Ok(Route::Embedded(run(r)?)),
            ["segmented", r] => Ok(Route::Segmented(run(r)?)),
            ["results", i, r] => Ok(Route::Results {
                instrument: instrument(i)?,
                run: run(r)?,
            }),
            ["decisions", i, r] => Ok(Route::Decisions {
                instrument: instrument(i)?,
                run: run(r)?,
            }),
            ["acks", i, r] => Ok(Route::Acks {
                instrument: instrument(i)?,
                run: run(r)?,
            }),
            ["rejects", s] => Ok(Route::Rejects(service(s)?)),
            ["dlq", s] => {
                check_token("stream name", s).map_err(wrap)?;
                Ok(Route::DeadLetters(s.to_owned()))
            }
            ["status", s] => Ok(Route::Status(service(s)?)),
            [kind @ ("work" | "embedded" | "segmented"), ..] => {
                Err(fail(format!("expected tessera.{kind}.<run>")))
            }
            [kind @ ("results" | "decisions" | "acks"), ..] => {
                Err(fail(format!("expected tessera.{kind}.<instrument>.<run>")))
            }
            [kind @ ("rejects" | "status"), ..] => {
                Err(fail(format!("expected tessera.{kind}.<service>")))
            }
            ["dlq", ..] => Err(fail("expected tessera.dlq.<stream>".into())),
            _ => Err(fail(
                "the second token must be acq, work, embedded, segmented, results, decisions, \
                 acks, rejects, dlq or status"
                    .into(),
            )),
        }
    }

    /// The subject this route stands for.
    pub fn subject(&self) -> String {
        match self {
            Route::AcqStart(i) => acq_start_subject(i),
            Route::AcqFrame(i) => acq_frame_subject(i),
            Route::AcqStop(i) => acq_stop_subject(i),
            Route::Work(r) => work_subject(r),
            Route::Embedded(r) => embedded_subject(r),
            Route::Segmented(r) => segmented_subject(r),
            Route::Results { instrument, run } => results_subject(instrument, run),
            Route::Decisions { instrument, run } => decisions_subject(instrument, run),
            Route::Acks { instrument, run } => acks_subject(instrument, run),
            Route::Rejects(s) => rejects_subject(*s),
            Route::DeadLetters(stream) => format!("{PREFIX}.dlq.{stream}"),
            Route::Status(s) => status_subject(*s),
        }
    }

    /// The one kind of message this subject carries.
    pub fn kind(&self) -> MessageKind {
        match self {
            Route::AcqStart(_) => MessageKind::RunStart,
            Route::AcqFrame(_) => MessageKind::Frame,
            Route::AcqStop(_) => MessageKind::RunStop,
            Route::Work(_) => MessageKind::ChipBatch,
            Route::Embedded(_) => MessageKind::EmbeddingBatch,
            Route::Segmented(_) => MessageKind::Segmented,
            Route::Results { .. } => MessageKind::FrameResult,
            Route::Decisions { .. } => MessageKind::Decision,
            Route::Acks { .. } => MessageKind::DecisionAck,
            Route::Rejects(_) => MessageKind::Reject,
            Route::DeadLetters(_) => MessageKind::DeadLetter,
            Route::Status(_) => MessageKind::ServiceStatus,
        }
    }

    /// The stream that captures this subject (`None` for status, which is core NATS only).
    pub fn stream(&self) -> Option<&'static str> {
        let subject = self.subject();
        streams::stream_for_subject(&subject).map(|s| s.name)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.subject())
    }
}

/// Whether the concrete `subject` matches `pattern` (`*`: one token, `>`: one or more
/// trailing tokens).
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether some subject matches both patterns; JetStream refuses streams whose subjects
/// overlap.
pub fn patterns_overlap(a: &str, b: &str) -> bool {
    let mut a = a.split('.');
    let mut b = b.split('.');
    loop {
        match (a.next(), b.next()) {
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some("*"), Some(_)) | (Some(_), Some("*")) => {}
            (Some(x), Some(y)) if x == y => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(subject_matches("tessera.work.*", "tessera.work.r1"));
        assert!(!subject_matches("tessera.work.*", "tessera.work.r1.x"));
        assert!(!subject_matches("tessera.work.*", "tessera.work"));
        assert!(subject_matches("tessera.results.>", "tessera.results.i.r"));
        assert!(!subject_matches("tessera.results.>", "tessera.results"));
        assert!(patterns_overlap("tessera.acq.*.start", "tessera.acq.>"));
        assert!(patterns_overlap("tessera.*.x", "tessera.acq.*"));
        assert!(patterns_overlap("a.*", "*.b"));
        assert!(!patterns_overlap(
            "tessera.acq.*.start",
            "tessera.acq.*.frame"
        ));
        assert!(!patterns_overlap("tessera.work.*", "tessera.work.*.*"));
        assert!(!patterns_overlap("tessera.>", "tessera"));
        assert!(patterns_overlap("tessera.>", "tessera.a.b.c"));
    }
}
