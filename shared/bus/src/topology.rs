//! [`Bus::ensure_topology`]: creates or updates streams, durable consumers, KV buckets and
//! object stores from the protocol's specs.
//!
//! Each item is read first and compared on the settings the spec controls; only a missing
//! item is created and only a differing one is updated, so a second call changes nothing.
//! Settings the spec does not control (those the server filled in) are left as they are.
//! When NATS refuses an update (a stream's retention or storage, a consumer's deliver
//! policy), the error names the item, what differs, and how to get out of it.

use std::time::Duration;

use async_nats::jetstream::consumer::{self, AckPolicy, FromConsumer, pull};
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};
use async_nats::jetstream::{ErrorCode, kv, object_store};
use tessera_protocol::sites::StreamSource;
use tessera_protocol::streams::{
    ConsumerSpec, Discard, KvSpec, ObjectStoreSpec, Retention, Storage, StreamSpec,
};

use crate::{Bus, BusError};

/// What [`Bus::ensure_topology`] did, item by item (`"stream FRAMES"`,
/// `"consumer FRAMES/ingest"`, `"kv tessera_progress"`, `"object store tessera_frames"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopologyReport {
    /// Items that did not exist.
    pub created: Vec<String>,
    /// Items whose settings were changed to match the specs.
    pub updated: Vec<String>,
    /// Items that already matched.
    pub unchanged: Vec<String>,
}

impl TopologyReport {
    /// Whether nothing was created or changed.
    pub fn is_noop(&self) -> bool {
        self.created.is_empty() && self.updated.is_empty()
    }
}

/// What happened to one item.
enum Outcome {
    Created,
    Updated,
    Unchanged,
}

impl Bus {
    /// Creates what is missing and updates what differs, in order: streams, consumers, KV
    /// buckets, object stores. Idempotent; safe to call from every service at start-up, at
    /// the same time. Fails with [`BusError::Topology`] when an existing item cannot be
    /// changed to match.
    pub async fn ensure_topology(
        &self,
        streams: &[StreamSpec],
        consumers: &[ConsumerSpec],
        kv: &[KvSpec],
        objects: &[ObjectStoreSpec],
    ) -> Result<TopologyReport, BusError> {
        // A JetStream API call this user may not make gets no answer, only an asynchronous
        // `-ERR`: fail with it at once rather than time out.
        let mut refusals = self.refusals.subscribe();
        tokio::select! {
            report = self.ensure_topology_unguarded(streams, consumers, kv, objects) => report,
            detail = crate::connect::refused(&mut refusals, "publish", "$JS.API.") => {
                Err(BusError::Denied {
                    op: "ensuring the NATS topology (streams, consumers, buckets, object \
                         stores; with per-service users, an admin user creates it)"
                        .into(),
                    detail,
                })
            }
        }
    }

    async fn ensure_topology_unguarded(
        &self,
        streams: &[StreamSpec],
        consumers: &[ConsumerSpec],
        kv: &[KvSpec],
        objects: &[ObjectStoreSpec],
    ) -> Result<TopologyReport, BusError> {
        let mut report = TopologyReport::default();
        let mut note = |what: String, outcome: Outcome| {
            tracing::debug!(item = %what, "topology");
            match outcome {
                Outcome::Created => report.created.push(what),
                Outcome::Updated => report.updated.push(what),
                Outcome::Unchanged => report.unchanged.push(what),
            }
        };
        for s in streams {
            note(format!("stream {}", s.name), self.ensure_stream(s).await?);
        }
        for c in consumers {
            note(
                format!("consumer {}/{}", c.stream, c.durable),
                self.ensure_consumer(c).await?,
            );
        }
        for k in kv {
            note(format!("kv {}", k.bucket), self.ensure_kv(k).await?);
        }
        for o in objects {
            note(
                format!("object store {}", o.bucket),
                self.ensure_objects(o).await?,
            );
        }
        if !report.is_noop() {
            tracing::info!(created = ?report.created, updated = ?report.updated, "NATS topology ensured");
        }
        Ok(report)
    }

    /// The stream's current config, or `None` when it does not exist.
    pub(crate) async fn stream_config(
        &self,
        name: &str,
    ) -> Result<Option<stream::Config>, BusError> {
        match self.js.get_stream(name).await {
            Ok(s) => Ok(Some(s.cached_info().config.clone())),
            Err(e) => match e.kind() {
                GetStreamErrorKind::JetStream(j)
                    if j.error_code() == ErrorCode::STREAM_NOT_FOUND =>
                {
                    Ok(None)
                }
                _ => Err(BusError::classify(format!("reading stream {name}"), &e)),
            },
        }
    }

    async fn ensure_stream(&self, spec: &StreamSpec) -> Result<Outcome, BusError> {
        // Two services may race to create it: the loser finds it on the second pass.
        for _ in 0..2 {
            let Some(have) = self.stream_config(spec.name).await? else {
                let mut want = stream::Config {
                    name: spec.name.to_string(),
                    num_replicas: 1,
                    ..Default::default()
                };
                apply_stream(spec, &mut want);
                match self.js.create_stream(want).await {
                    Ok(_) => return Ok(Outcome::Created),
                    Err(e) if e.to_string().contains("already in use") => continue,
                    Err(e) if e.to_string().contains("insufficient storage") => {
                        return Err(BusError::Topology(format!(
                            "creating stream {}: {}. Its max_bytes ({} bytes) does not fit in \
                             what JetStream may still reserve (jetstream.max_file_store, by \
                             default 75% of the free disk, less the max_bytes of the streams \
                             already there): lower max_bytes in the spec or raise \
                             max_file_store",
                            spec.name,
                            chain_of(&e),
                            spec.max_bytes
                        )));
                    }
                    Err(e) => {
                        return Err(topology(format!("creating stream {}", spec.name), &e));
                    }
                }
            };
            let mut want = have.clone();
            apply_stream(spec, &mut want);
            return self
                .update_stream(&format!("stream {}", spec.name), &have, want)
                .await;
        }
        Err(BusError::Topology(format!(
            "stream {} could be neither created nor read; is another process deleting it?",
            spec.name
        )))
    }

    /// Updates a stream from `have` to `want` if they differ.
    async fn update_stream(
        &self,
        what: &str,
        have: &stream::Config,
        want: stream::Config,
    ) -> Result<Outcome, BusError> {
        if *have == want {
            return Ok(Outcome::Unchanged);
        }
        let diffs = stream_diffs(have, &want);
        match self.js.update_stream(&want).await {
            Ok(_) => {
                tracing::warn!(item = %what, changed = %diffs, "updated to match the spec");
                Ok(Outcome::Updated)
            }
            Err(e) => Err(BusError::Topology(format!(
                "{what} exists with settings NATS cannot change in place ({diffs}): {}. Restore \
                 the old settings in the spec, or delete it (nats stream rm {}; its messages \
                 are lost) and start again",
                chain_of(&e),
                have.name
            ))),
        }
    }

    async fn ensure_consumer(&self, spec: &ConsumerSpec) -> Result<Outcome, BusError> {
        let what = format!("consumer {}/{}", spec.stream, spec.durable);
        let stream = self.js.get_stream(spec.stream).await.map_err(|e| {
            BusError::Topology(format!(
                "{what}: stream {} is not there ({}); list it among the streams",
                spec.stream,
                chain_of(&e)
            ))
        })?;
        let have = match stream.consumer_info(spec.durable).await {
            Ok(info) => Some(info.config),
            Err(e)
                if e.kind() == async_nats::jetstream::context::ConsumerInfoErrorKind::NotFound =>
            {
                None
            }
            Err(e) => return Err(BusError::classify(format!("reading {what}"), &e)),
        };
        let (base, outcome) = match &have {
            Some(config) if consumer_matches(spec, config) => return Ok(Outcome::Unchanged),
            Some(config) => (
                pull::Config::try_from_consumer_config(config.clone()).map_err(|e| {
                    BusError::Topology(format!("{what} is not a pull consumer: {e}"))
                })?,
                Outcome::Updated,
            ),
            None => (pull::Config::default(), Outcome::Created),
        };
        let want = pull::Config {
            durable_name: Some(spec.durable.to_string()),
            filter_subject: spec.filter_subject.to_string(),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(spec.ack_wait_secs),
            max_deliver: normalise(spec.max_deliver),
            max_ack_pending: if spec.max_ack_pending == 0 {
                base.max_ack_pending
            } else {
                normalise(spec.max_ack_pending)
            },
            ..base
        };
        stream.create_consumer(want).await.map_err(|e| {
            BusError::Topology(format!(
                "{what}: NATS refused {}: {}. A work-queue stream takes one consumer per \
                 subject filter; a consumer's deliver policy cannot change (delete it with \
                 nats consumer rm {} {})",
                if have.is_some() { "the update" } else { "it" },
                chain_of(&e),
                spec.stream,
                spec.durable
            ))
        })?;
        if have.is_some() {
            tracing::warn!(item = %what, "updated to match the spec");
        }
        Ok(outcome)
    }

    async fn ensure_kv(&self, spec: &KvSpec) -> Result<Outcome, BusError> {
        let what = format!("kv {}", spec.bucket);
        let config = kv::Config {
            bucket: spec.bucket.to_string(),
            description: spec.description.to_string(),
            history: spec.history.max(1),
            max_age: Duration::from_secs(spec.max_age_secs),
            storage: StorageType::File,
            num_replicas: 1,
            ..Default::default()
        };
        match self.stream_config(&format!("KV_{}", spec.bucket)).await? {
            None => match self.js.create_key_value(config).await {
                Ok(store) => {
                    self.cache_kv(spec.bucket, store);
                    Ok(Outcome::Created)
                }
                Err(e) => Err(topology(format!("creating {what}"), &e)),
            },
            Some(have)
                if have.max_messages_per_subject == spec.history.max(1)
                    && have.max_age == Duration::from_secs(spec.max_age_secs)
                    && have.description.as_deref().unwrap_or("") == spec.description =>
            {
                Ok(Outcome::Unchanged)
            }
            Some(_) => {
                let store = self
                    .js
                    .update_key_value(config)
                    .await
                    .map_err(|e| topology(format!("updating {what}"), &e))?;
                self.cache_kv(spec.bucket, store);
                tracing::warn!(item = %what, "updated to match the spec");
                Ok(Outcome::Updated)
            }
        }
    }

    async fn ensure_objects(&self, spec: &ObjectStoreSpec) -> Result<Outcome, BusError> {
        let what = format!("object store {}", spec.bucket);
        match self.stream_config(&format!("OBJ_{}", spec.bucket)).await? {
            None => {
                let config = object_store::Config {
                    bucket: spec.bucket.to_string(),
                    description: non_empty(spec.description),
                    max_age: Duration::from_secs(spec.max_age_secs),
                    storage: StorageType::File,
                    num_replicas: 1,
                    ..Default::default()
                };
                let store = self
                    .js
                    .create_object_store(config)
                    .await
                    .map_err(|e| topology(format!("creating {what}"), &e))?;
                self.cache_objects(spec.bucket, store);
                Ok(Outcome::Created)
            }
            Some(have) => {
                let mut want = have.clone();
                want.max_age = Duration::from_secs(spec.max_age_secs);
                want.description = non_empty(spec.description);
                self.update_stream(&what, &have, want).await
            }
        }
    }
}

/// Sets the fields a [`StreamSpec`] controls.
fn apply_stream(spec: &StreamSpec, c: &mut stream::Config) {
    c.subjects = spec.subjects.iter().map(|s| s.to_string()).collect();
    c.retention = match spec.retention {
        Retention::Limits => RetentionPolicy::Limits,
        Retention::WorkQueue => RetentionPolicy::WorkQueue,
    };
    c.storage = match spec.storage {
        Storage::File => StorageType::File,
        Storage::Memory => StorageType::Memory,
    };
    c.discard = match spec.discard {
        Discard::Old => DiscardPolicy::Old,
        Discard::New => DiscardPolicy::New,
    };
    c.max_age = Duration::from_secs(spec.max_age_secs);
    c.max_bytes = normalise(spec.max_bytes);
    c.max_message_size = if spec.max_msg_size <= 0 {
        -1
    } else {
        spec.max_msg_size
    };
    // 0: leave the server's choice (2 minutes, or less with a short max_age).
    if spec.duplicate_window_secs > 0 {
        c.duplicate_window = Duration::from_secs(spec.duplicate_window_secs);
    }
    c.description = non_empty(spec.description);
    // Sources are compared on what the spec says (upstream and its domain); what the server
    // filled in around them is kept.
    if !sources_match(c.sources.as_deref().unwrap_or_default(), &spec.sources) {
        c.sources = (!spec.sources.is_empty()).then(|| {
            spec.sources
                .iter()
                .map(|s| stream::Source {
                    name: s.stream.to_string(),
                    external: Some(stream::External {
                        api_prefix: s.api_prefix(),
                        delivery_prefix: None,
                    }),
                    ..Default::default()
                })
                .collect()
        });
    }
}

/// Whether `have` copies in exactly the upstreams of `want`, each from its domain's API and
/// unfiltered.
fn sources_match(have: &[stream::Source], want: &[StreamSource]) -> bool {
    have.len() == want.len()
        && have.iter().zip(want).all(|(h, w)| {
            h.name == w.stream
                && h.external.as_ref().map(|e| e.api_prefix.as_str())
                    == Some(w.api_prefix().as_str())
                && h.filter_subject.as_deref().unwrap_or("").is_empty()
                && h.domain.as_deref().unwrap_or("").is_empty()
        })
}

/// The names of the fields that differ, with their values, e.g.
/// `retention: Limits -> WorkQueue`.
fn stream_diffs(have: &stream::Config, want: &stream::Config) -> String {
    let mut out = Vec::new();
    macro_rules! cmp {
        ($($field:ident),*) => {$(
            if have.$field != want.$field {
                out.push(format!(
                    "{}: {:?} -> {:?}",
                    stringify!($field),
                    have.$field,
                    want.$field
                ));
            }
        )*};
    }
    cmp!(
        subjects,
        retention,
        storage,
        discard,
        max_age,
        max_bytes,
        max_message_size,
        duplicate_window,
        description,
        sources
    );
    if out.is_empty() {
        out.push("other settings".into());
    }
    out.join(", ")
}

fn consumer_matches(spec: &ConsumerSpec, c: &consumer::Config) -> bool {
    c.durable_name.as_deref() == Some(spec.durable)
        && c.filter_subject == spec.filter_subject
        && c.filter_subjects.is_empty()
        && c.ack_policy == AckPolicy::Explicit
        && c.ack_wait == Duration::from_secs(spec.ack_wait_secs)
        && c.max_deliver == normalise(spec.max_deliver)
        && (spec.max_ack_pending == 0 || c.max_ack_pending == normalise(spec.max_ack_pending))
}

/// NATS writes "unlimited" as -1; the specs may say 0 or any negative number.
fn normalise(v: i64) -> i64 {
    if v <= 0 { -1 } else { v }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn chain_of(e: &dyn std::error::Error) -> String {
    crate::error::chain(e)
}

/// A creation or update failure: transient ones keep their class, others are topology errors.
fn topology(op: String, e: &dyn std::error::Error) -> BusError {
    match BusError::classify(op.clone(), e) {
        t if t.is_transient() => t,
        BusError::Denied { op, detail } => BusError::Denied { op, detail },
        _ => BusError::Topology(format!("{op}: {}", chain_of(e))),
    }
}
