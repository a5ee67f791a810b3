//! The configuration of every Tessera service, loaded through the `config` crate: the
//! built-in defaults, then a TOML file, then `TESSERA__SECTION__KEY` environment variables,
//! each overriding the one before. `deploy/tessera.toml` lists every option with its default.
//!
//! # Environment variables
//!
//! `TESSERA__<SECTION>__<KEY>` sets `<section>.<key>`, and a nested table adds one more
//! level: `TESSERA__BUS__URL=nats://h:4222`, `TESSERA__EMBEDDER__MAX_BATCH_CHIPS=256`,
//! `TESSERA__BUS__TLS__CA=/etc/ca.pem`. The separator is a double underscore, so keys keep
//! their single ones; names are matched in any case. A value is taken as written and
//! converted to the type the key wants (`"1234"` stays a string for a password). An empty
//! variable counts as unset. Variables with a single underscore after `TESSERA`, such as
//! `TESSERA_CACHE`, are not settings and are ignored.
//!
//! # Layout
//!
//! - `lib.rs`: [`Settings`], the whole configuration.
//! - `sections.rs`: one struct per section this crate defines (`dashboard.rs`: `[dashboard]`) (`[bus]` and `[cache]` come
//!   from `tessera-bus` and `tessera-cache`).
//! - `file.rs`: reading and strictly checking the file; `load.rs`: merging the sources; `validate.rs`: range checks; `error.rs`:
//!   [`SettingsError`], whose messages name the file or variable and the key at fault.

mod dashboard;
mod error;
mod file;
mod load;
mod sections;
mod validate;

use std::path::Path;

use serde::Deserialize;

pub use dashboard::DashboardSettings;
pub use error::SettingsError;
pub use sections::{
    ClustererSettings, EMBEDDER_ACK_WAIT_SECS, EmbedderSettings, IngestSettings, LimitSettings,
    LogFormat, ModelSettings, PublisherSettings, QueueSettings, TelemetrySettings,
};
pub use validate::MIN_ACK_WAIT_SECS;

/// The configuration of a Tessera service; every section is optional and defaults apply.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `[bus]`: where NATS is and how to log in. `Debug` redacts the secrets.
    pub bus: tessera_bus::BusConfig,
    /// `[cache]`: the embedding cache, Redis or in-process. `Debug` redacts the password.
    pub cache: tessera_cache::CacheConfig,
    /// `[model]`: how embedders load and run the model.
    pub model: ModelSettings,
    /// `[limits]`: the message and frame sizes services accept.
    pub limits: LimitSettings,
    /// `[ingest]`: the ingest service.
    pub ingest: IngestSettings,
    /// `[embedder]`: the embedder service.
    pub embedder: EmbedderSettings,
    /// `[clusterer]`: the clusterer service.
    pub clusterer: ClustererSettings,
    /// `[publisher]`: the publisher service.
    pub publisher: PublisherSettings,
    /// `[dashboard]`: the browser dashboard. `Debug` redacts the token.
    pub dashboard: DashboardSettings,
    /// `[queues]`: how much each stream between the services may hold.
    pub queues: QueueSettings,
    /// `[telemetry]`: logs and status messages.
    pub telemetry: TelemetrySettings,
}

impl Settings {
    /// The defaults, overridden by `file` (TOML) if given, overridden by the process's
    /// `TESSERA__...` variables, then [validated](Settings::validate).
    ///
    /// A `file` that does not exist is an error; `None` means defaults and variables only.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        // Variables that are not Unicode cannot be ours by name; values are made readable
        // so that a bad one is reported rather than skipped.
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())));
        Self::load_from(file, env)
    }

    /// [`Settings::load`] with the environment given as `(name, value)` pairs, for tests
    /// and for callers that filter the environment.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        load::load_from(file, env)
    }

    /// `[limits]` as the protocol's decoder limits.
    pub fn protocol_limits(&self) -> tessera_protocol::Limits {
        tessera_protocol::Limits {
            max_payload_bytes: self.limits.max_payload_bytes,
            max_frame_pixels: self.limits.max_frame_pixels,
            inline_max_bytes: self.limits.inline_max_bytes,
        }
    }
}
