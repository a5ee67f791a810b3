//! The instrument side of Tessera's wire protocol, as a library: what `tessera publish` (an
//! instrument simulator) and `tessera watch` are built on, and what tests and benchmarks use
//! to drive the live pipeline.
//!
//! An [`Instrument`] publishes a run's [`RunStart`](tessera_protocol::RunStart), its frames
//! ([`FrameData`]; inline, or through the `tessera_frames` object store when large) and its
//! [`RunStop`](tessera_protocol::RunStop) onto the ACQ stream, each with the `Nats-Msg-Id`
//! the protocol derives, so a resend is dropped as a duplicate. [`simulate`] runs a whole
//! run from a [`FrameSource`] (image files or a synthetic [`DoseSeries`]) at a set frame
//! rate, skipping files it cannot read. [`watch`] streams decoded results; [`format_result`]
//! prints one line for each.
//!
//! # Layout
//! - `error.rs`: [`InstrumentError`].
//! - `frame.rs`: [`FrameData`] and the dtype choice of [`FrameData::from_raster`].
//! - `instrument.rs`: [`Instrument`], [`Published`].
//! - `source.rs`: [`FrameSource`], [`DoseSeries`].
//! - `files.rs`: instrument files on disk ([`files::expand`], [`files::read_acquisition`]);
//!   `isolated.rs` reads HDF5 files in a child process when asked to.
//! - `simulate.rs`: [`simulate`], [`SimulationSummary`].
//! - `closed_loop.rs`: [`obey`], a synthetic run that carries out the decider's decisions
//!   (stop, dose rate, a region at a higher magnification) and answers each.
//! - `watch.rs`: [`watch`], [`ResultFilter`], [`format_result`].
//! - `outcome.rs`: a published run's results and rejects ([`watch_run`]), their tally
//!   ([`RunOutcome`]), and what missing frames were last seen doing ([`describe_missing`]).

mod closed_loop;
mod error;
pub mod files;
mod frame;
mod instrument;
mod isolated;
mod outcome;
mod simulate;
mod source;
mod watch;

pub use closed_loop::{LoopEvent, LoopOptions, LoopSummary, obey};
pub use error::InstrumentError;
pub use frame::{FrameData, now_ms};
pub use instrument::{Instrument, Published};
pub use outcome::{RunEvent, RunEventStream, RunOutcome, RunReject, describe_missing, watch_run};
pub use simulate::{Progress, SimulationSummary, Skipped, simulate};
pub use source::{
    DISORDERED_FRACTION_SCALAR, DOSE_STEP, DoseSeries, FrameSource, SYNTHETIC_PIXEL_SIZE_NM,
    SYNTHETIC_SIDES, Zoom,
};
pub use watch::{LATENCY_TIMING, ResultFilter, ResultStream, format_result, watch};
