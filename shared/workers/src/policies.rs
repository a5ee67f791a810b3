//! Closed-loop policies in NATS (KV `tessera_policies`): checked, then stored for a run
//! (`run.<run>`) or an instrument (`instrument.<instrument>`); the bucket's history keeps
//! earlier revisions. The decider reads them (`decider`).

use bytes::Bytes;
use tessera_bus::Bus;
use tessera_policy::Policy;
use tessera_protocol::{
    InstrumentId, Limits, PROTOCOL_VERSION, PolicyRecord, RunId, encode_message, keys,
    streams::POLICIES_KV,
};

use crate::WorkerError;
use crate::common::now_ms;

/// What a policy is for.
#[derive(Debug, Clone)]
pub enum PolicyFor {
    /// One run (wins over its instrument's).
    Run(RunId),
    /// Every run of one instrument.
    Instrument(InstrumentId),
}

impl PolicyFor {
    /// Its key in KV `tessera_policies`.
    pub fn key(&self) -> String {
        match self {
            PolicyFor::Run(run) => keys::run_policy_key(run),
            PolicyFor::Instrument(i) => keys::instrument_policy_key(i),
        }
    }
}

/// Checks `toml` (from `origin`, e.g. its file name) and stores it for `target`; returns the
/// parsed policy and the revision. A policy that does not parse is refused with the parser's
/// message (file, line, what is wrong) and nothing is stored.
pub async fn save(
    bus: &Bus,
    limits: &Limits,
    target: &PolicyFor,
    toml: &str,
    origin: &str,
    saved_by: &str,
) -> Result<(Policy, u64), WorkerError> {
    let policy = Policy::parse(toml, origin).map_err(|e| WorkerError::Task(e.to_string()))?;
    let record = PolicyRecord {
        version: PROTOCOL_VERSION,
        toml: toml.to_string(),
        origin: origin.to_string(),
        saved_by: saved_by.to_string(),
        saved_ms: now_ms(),
    };
    let bytes = encode_message(&record, limits).map_err(|e| WorkerError::Task(e.to_string()))?;
    let revision = bus
        .kv_put(POLICIES_KV.bucket, &target.key(), Bytes::from(bytes))
        .await?;
    Ok((policy, revision))
}
