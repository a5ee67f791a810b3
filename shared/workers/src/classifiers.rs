//! Named few-shot classifiers in NATS: saved (the body to object store
//! `tessera_classifiers` under its digest, then the record to KV `tessera_classifiers`, whose
//! history keeps who saved each revision and when), bound to a run, listed, and loaded by the
//! clusterer
//! through a cache that follows edits: each frame reads the small record, and the body is
//! fetched again only when the record's revision changed.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tessera_bus::Bus;
use tessera_fewshot::Classifier;
use tessera_pipeline::classes::{body_digest, classifier_record, decode_classifier};
use tessera_protocol::{
    ClassifierRecord, Limits, RunId, decode, encode_message, keys,
    streams::{CLASSIFIERS_KV, CLASSIFIERS_STORE},
};

use crate::WorkerError;
use crate::common::{Failure, now_ms};

/// Stores `c` under its name; returns the record and its revision.
pub async fn save(
    bus: &Bus,
    limits: &Limits,
    c: &Classifier,
    edited_by: &str,
    note: &str,
) -> Result<(ClassifierRecord, u64), WorkerError> {
    tessera_protocol::check_token("classifier name", &c.name)
        .map_err(|e| WorkerError::Task(e.to_string()))?;
    let body = tessera_pipeline::classes::encode_classifier(c)
        .map_err(|e| WorkerError::Task(e.to_string()))?;
    let name = keys::classifier_object(&c.name, &body_digest(&body));
    let stored = bus
        .put_object(CLASSIFIERS_STORE.bucket, &name, &body)
        .await?;
    let body = crate::common::object_ref(stored);
    let record = classifier_record(c, body, edited_by, now_ms(), note);
    let bytes = encode_message(&record, limits).map_err(|e| WorkerError::Task(e.to_string()))?;
    let revision = bus
        .kv_put(
            CLASSIFIERS_KV.bucket,
            &keys::classifier_key(&c.name),
            Bytes::from(bytes),
        )
        .await?;
    Ok((record, revision))
}

/// The current record of classifier `name` and its revision, if there is one.
pub async fn record(
    bus: &Bus,
    limits: &Limits,
    name: &str,
) -> Result<Option<(ClassifierRecord, u64)>, WorkerError> {
    let Some((bytes, revision)) = bus
        .kv_get(CLASSIFIERS_KV.bucket, &keys::classifier_key(name))
        .await?
    else {
        return Ok(None);
    };
    let record = decode::<ClassifierRecord>(&bytes, limits)
        .map_err(|e| WorkerError::Task(format!("classifier {name}'s record: {e}")))?;
    Ok(Some((record, revision)))
}

/// Binds classifier `name` to `run`: from the run's next frame on, the clusterer classifies
/// with it, whatever the run's start named. Kept in KV `tessera_classifiers` under
/// `run.<run>` (the bucket's history keeps earlier bindings).
pub async fn bind(bus: &Bus, run: &RunId, name: &str) -> Result<u64, WorkerError> {
    let key = keys::run_classifier_key(run);
    let revision = bus
        .kv_put(CLASSIFIERS_KV.bucket, &key, Bytes::from(name.to_string()))
        .await?;
    Ok(revision)
}

/// The classifier bound to `run` ([`bind`]), if any.
pub(crate) async fn bound(bus: &Bus, run: &RunId) -> Result<Option<String>, Failure> {
    let key = keys::run_classifier_key(run);
    let stored = bus.kv_get(CLASSIFIERS_KV.bucket, &key).await?;
    Ok(stored
        .and_then(|(bytes, _)| String::from_utf8(bytes.to_vec()).ok())
        .filter(|name| tessera_protocol::is_valid_token(name)))
}

/// Every classifier's current record, by name.
pub async fn list(bus: &Bus, limits: &Limits) -> Result<Vec<ClassifierRecord>, WorkerError> {
    let mut keys = bus.kv_keys(CLASSIFIERS_KV.bucket).await?;
    // Run bindings (`run.<run>`) share the bucket; a classifier's name has no dot.
    keys.retain(|k| !k.contains('.'));
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        if let Some((r, _)) = record(bus, limits, &key).await? {
            out.push(r);
        }
    }
    Ok(out)
}

/// Classifier `name`'s kept revisions, oldest first: `(revision, record)`; `None` marks a
/// deletion.
pub async fn history(
    bus: &Bus,
    limits: &Limits,
    name: &str,
) -> Result<Vec<(u64, Option<ClassifierRecord>)>, WorkerError> {
    let entries = bus
        .kv_history(CLASSIFIERS_KV.bucket, &keys::classifier_key(name))
        .await?;
    Ok(entries
        .into_iter()
        .map(|(bytes, revision)| {
            let record = (!bytes.is_empty())
                .then(|| decode::<ClassifierRecord>(&bytes, limits).ok())
                .flatten();
            (revision, record)
        })
        .collect())
}

/// The classifiers the clusterer has loaded, by name, with the revision each came from.
#[derive(Default)]
pub(crate) struct Loaded {
    by_name: HashMap<String, (u64, Arc<Classifier>)>,
}

impl Loaded {
    /// Classifier `name` at its current revision. `Ok(Err(why))`: it cannot be used (none of
    /// that name, an unreadable body), said for the user; `Err`: the bus failed, retry.
    pub(crate) async fn get(
        &mut self,
        bus: &Bus,
        limits: &Limits,
        name: &str,
    ) -> Result<Result<(u64, Arc<Classifier>), String>, Failure> {
        let stored = bus
            .kv_get(CLASSIFIERS_KV.bucket, &keys::classifier_key(name))
            .await?;
        let Some((bytes, revision)) = stored else {
            return Ok(Err(format!(
                "no classifier is named {name}: save one with `tessera classifier put FILE \
                 --name {name}` (FILE from `tessera segment --labels ... --save-classifier`), \
                 or start the run without it"
            )));
        };
        if let Some((have, c)) = self.by_name.get(name)
            && *have == revision
        {
            return Ok(Ok((revision, c.clone())));
        }
        let record = match decode::<ClassifierRecord>(&bytes, limits) {
            Ok(r) => r,
            Err(e) => {
                return Ok(Err(format!(
                    "classifier {name}'s record is unreadable: {e}"
                )));
            }
        };
        let body = match bus.get_object(&record.body.bucket, &record.body.name).await {
            Ok(b) => b,
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => {
                return Ok(Err(format!(
                    "classifier {name}'s body {}/{} cannot be read ({e}); save it again",
                    record.body.bucket, record.body.name
                )));
            }
        };
        let c = match decode_classifier(&body, name) {
            Ok(c) => Arc::new(c),
            Err(e) => return Ok(Err(e.to_string())),
        };
        self.by_name.insert(name.to_string(), (revision, c.clone()));
        Ok(Ok((revision, c)))
    }
}
