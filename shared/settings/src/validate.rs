//! [`Settings::validate`]: the checks that need no server.

use crate::{Settings, SettingsError};

/// The shortest ack wait a consumer may have: progress acks for held messages go out every
/// third of it, and a second apart is as tight as that should get.
pub const MIN_ACK_WAIT_SECS: u64 = 3;

/// `Err` naming `key` unless `ok`.
fn check(ok: bool, key: &str, problem: &str) -> Result<(), SettingsError> {
    if ok {
        Ok(())
    } else {
        Err(SettingsError::invalid(key, format!("{key} {problem}")))
    }
}

impl Settings {
    /// Checks every value for range and consistency; [`Settings::load`] calls it.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.bus.validate().map_err(|e| {
            // The bus's messages start with the key: "bus.url is empty; ...".
            let text = e.to_string();
            let key = text.split([' ', ':']).next().unwrap_or("bus").to_string();
            SettingsError::invalid(key, text)
        })?;
        self.check_cache()?;
        self.check_model()?;
        self.check_limits()?;
        self.check_services()?;
        self.dashboard.validate()?;
        self.check_queues()?;
        check(
            self.telemetry.status_interval_ms > 0,
            "telemetry.status_interval_ms",
            "is 0; set a positive interval (default: 1000)",
        )?;
        let addr = self.telemetry.metrics_addr.trim();
        check(
            addr.is_empty() || addr.parse::<std::net::SocketAddr>().is_ok(),
            "telemetry.metrics_addr",
            &format!(
                "{addr:?} is not an address to listen on; write host:port such as \
                 \"0.0.0.0:9090\" (port 0 picks a free one), or \"\" to serve no metrics"
            ),
        )
    }

    /// Queues must hold at least one largest message, and retries need a pause.
    fn check_queues(&self) -> Result<(), SettingsError> {
        let q = &self.queues;
        // A stored message is a little larger than its payload (subject, headers): room for
        // two of the largest keeps a full queue from refusing one that could never fit.
        let floor = 2 * self.limits.max_payload_bytes as i64;
        for (key, bytes) in [
            ("queues.acq_max_bytes", q.acq_max_bytes),
            ("queues.work_max_bytes", q.work_max_bytes),
            ("queues.embedded_max_bytes", q.embedded_max_bytes),
            ("queues.segmented_max_bytes", q.segmented_max_bytes),
        ] {
            check(
                bytes >= floor,
                key,
                &format!(
                    "is {bytes} bytes, less than two of the largest messages take (2 × \
                     limits.max_payload_bytes = {floor}); set it to at least that, better many \
                     times more"
                ),
            )?;
        }
        check(
            q.full_retry_ms > 0,
            "queues.full_retry_ms",
            "is 0; set a positive pause (default: 1000)",
        )?;
        for (key, secs) in [
            ("queues.ingest_ack_wait_secs", q.ingest_ack_wait_secs),
            ("queues.embedder_ack_wait_secs", q.embedder_ack_wait_secs),
            ("queues.clusterer_ack_wait_secs", q.clusterer_ack_wait_secs),
            ("queues.publisher_ack_wait_secs", q.publisher_ack_wait_secs),
        ] {
            check(
                secs >= MIN_ACK_WAIT_SECS,
                key,
                &format!(
                    "is {secs} s; an ack wait under {MIN_ACK_WAIT_SECS} s redelivers messages \
                     still being worked on (progress acks go out every third of it); set at \
                     least {MIN_ACK_WAIT_SECS}"
                ),
            )?;
        }
        let progress = self.embedder.progress_interval_ms;
        check(
            progress.saturating_mul(2) <= q.embedder_ack_wait_secs.saturating_mul(1000),
            "embedder.progress_interval_ms",
            &format!(
                "is {progress} ms, more than half of queues.embedder_ack_wait_secs ({} s): a \
                 batch an embedder holds could be delivered again to another; set it to at \
                 most half the ack wait (default: 1000)",
                q.embedder_ack_wait_secs
            ),
        )
    }

    /// The checks of `tessera-cache`, under their `cache.` keys.
    fn check_cache(&self) -> Result<(), SettingsError> {
        match self.cache.validate() {
            Err(tessera_cache::CacheError::InvalidSetting { field, reason }) => {
                let key = format!("cache.{field}");
                Err(SettingsError::invalid(
                    key.clone(),
                    format!("{key} {reason}"),
                ))
            }
            Err(e) => Err(SettingsError::invalid("cache", e.to_string())),
            Ok(()) => Ok(()),
        }
    }

    fn check_model(&self) -> Result<(), SettingsError> {
        let m = &self.model;
        check(
            !m.name.trim().is_empty(),
            "model.name",
            "is empty; name a provisioned model (efficientnet-lite0, tiny) or a manifest",
        )?;
        check(
            provider_is_known(&m.provider),
            "model.provider",
            &format!(
                "is {:?}; choose cpu, cuda[:N] or tensorrt[:N] (N: the GPU ordinal)",
                m.provider
            ),
        )?;
        let precision = m.precision.to_ascii_lowercase();
        check(
            matches!(precision.as_str(), "auto" | "fp32" | "fp16" | "int8"),
            "model.precision",
            &format!("is {:?}; choose auto, fp32, fp16 or int8", m.precision),
        )?;
        let kind = provider_kind(&m.provider);
        check(
            matches!(precision.as_str(), "auto" | "fp32")
                || kind == Some("tensorrt")
                || (precision == "int8" && kind == Some("cpu")),
            "model.precision",
            &format!(
                "is {:?}, which needs provider = \"tensorrt\"; the {} provider runs the model in \
                 the precision it was stored in (use precision = \"auto\" or \"fp32\", or \
                 \"int8\" on the CPU for the model's quantised twin)",
                m.precision, m.provider
            ),
        )?;
        check(
            matches!(
                m.cuda_conv_search.to_ascii_lowercase().as_str(),
                "exhaustive" | "heuristic" | "default"
            ),
            "model.cuda_conv_search",
            &format!(
                "is {:?}; choose exhaustive (the slow first batch finds the fastest kernels), \
                 heuristic (a fast first batch) or default",
                m.cuda_conv_search
            ),
        )?;
        check(
            m.memory_limit != Some(0),
            "model.memory_limit",
            "is 0; give a size in bytes, or leave it unset for no bound",
        )?;
        check(
            m.batch != Some(0),
            "model.batch",
            "is 0; use at least 1, or leave it unset for the provider's default",
        )?;
        check(
            m.input_size != Some(0),
            "model.input_size",
            "is 0; give a side in pixels, or leave it unset to follow the model",
        )
    }

    fn check_limits(&self) -> Result<(), SettingsError> {
        let l = &self.limits;
        check(
            l.max_payload_bytes > 0,
            "limits.max_payload_bytes",
            "is 0; set it to the NATS server's max_payload (default: 8388608)",
        )?;
        check(
            l.max_frame_pixels > 0,
            "limits.max_frame_pixels",
            "is 0; set a positive pixel count (default: 67108864)",
        )?;
        check(
            l.inline_max_bytes > 0,
            "limits.inline_max_bytes",
            "is 0; set a positive size (default: 983040)",
        )?;
        check(
            l.inline_max_bytes <= l.max_payload_bytes as u64,
            "limits.inline_max_bytes",
            &format!(
                "({}) is larger than limits.max_payload_bytes ({}); an inline frame must fit \
                 in one message, so lower it",
                l.inline_max_bytes, l.max_payload_bytes
            ),
        )
    }

    fn check_services(&self) -> Result<(), SettingsError> {
        let (i, e, c, p) = (
            &self.ingest,
            &self.embedder,
            &self.clusterer,
            &self.publisher,
        );
        check(
            i.batch_chips >= 1,
            "ingest.batch_chips",
            "is 0; use at least 1 (default: 256)",
        )?;
        check(
            e.instance.as_ref().is_none_or(|s| !s.trim().is_empty()),
            "embedder.instance",
            "is empty; give a name, or leave it unset for <hostname>-<pid>",
        )?;
        check(
            e.max_batch_chips >= 1,
            "embedder.max_batch_chips",
            "is 0; use at least 1 (default: 512)",
        )?;
        check(
            e.pull_batch >= 1,
            "embedder.pull_batch",
            "is 0; use at least 1 (default: 8)",
        )?;
        check(
            e.progress_interval_ms > 0,
            "embedder.progress_interval_ms",
            "is 0; set a positive interval (default: 1000)",
        )?;
        check(
            c.max_open_frames >= 1,
            "clusterer.max_open_frames",
            "is 0; use at least 1 (default: 64)",
        )?;
        check(
            c.frame_timeout_secs > 0,
            "clusterer.frame_timeout_secs",
            "is 0; set a positive timeout (default: 300)",
        )?;
        check(
            (-1.0..=1.0).contains(&c.track_min_similarity),
            "clusterer.track_min_similarity",
            &format!(
                "is {}; a cosine similarity lies in [-1, 1] (default: 0.5)",
                c.track_min_similarity
            ),
        )?;
        check(
            (0.0..=1.0).contains(&p.overlay_alpha),
            "publisher.overlay_alpha",
            &format!(
                "is {}; an opacity lies in [0, 1] (default: 0.45)",
                p.overlay_alpha
            ),
        )?;
        check(
            p.series_max_points >= 1,
            "publisher.series_max_points",
            "is 0; use at least 1 (default: 10000)",
        )
    }
}

/// `cpu`, `cuda` or `tensorrt` for the names `tessera-embedding` parses (`cpu`, `cuda`,
/// `cuda:N`, `tensorrt`, `trt`, `tensorrt:N`, any case); `None` for any other.
fn provider_kind(provider: &str) -> Option<&'static str> {
    let lower = provider.to_ascii_lowercase();
    let (kind, id) = lower.split_once(':').unwrap_or((&lower, "0"));
    id.parse::<i32>().ok()?;
    match kind {
        "cpu" => Some("cpu"),
        "cuda" => Some("cuda"),
        "tensorrt" | "trt" => Some("tensorrt"),
        _ => None,
    }
}

fn provider_is_known(provider: &str) -> bool {
    provider_kind(provider).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names() {
        for ok in ["cpu", "CUDA", "cuda:1", "tensorrt:0", "trt"] {
            assert!(provider_is_known(ok), "{ok}");
        }
        for bad in ["gpu", "cuda:x", "", "rocm:0"] {
            assert!(!provider_is_known(bad), "{bad}");
        }
    }

    /// The key a change to the defaults is refused for.
    fn refused(change: impl FnOnce(&mut Settings)) -> String {
        let mut s = Settings::default();
        change(&mut s);
        let err = s.validate().unwrap_err();
        let key = err.key().unwrap().to_string();
        assert!(err.to_string().contains(&key), "{err}");
        key
    }

    #[test]
    fn each_out_of_range_value_is_named() {
        assert!(Settings::default().validate().is_ok());
        assert_eq!(refused(|s| s.model.batch = Some(0)), "model.batch");
        assert_eq!(
            refused(|s| s.model.precision = "bf16".into()),
            "model.precision"
        );
        assert_eq!(
            refused(|s| s.model.cuda_conv_search = "fastest".into()),
            "model.cuda_conv_search"
        );
        assert_eq!(
            refused(|s| s.model.precision = "fp16".into()),
            "model.precision"
        );
        assert_eq!(
            refused(|s| {
                s.model.provider = "cuda:1".into();
                s.model.precision = "int8".into();
            }),
            "model.precision"
        );
        assert_eq!(
            refused(|s| s.model.memory_limit = Some(0)),
            "model.memory_limit"
        );
        let mut trt = Settings::default();
        trt.model.provider = "TRT:1".into();
        trt.model.precision = "INT8".into();
        assert!(trt.validate().is_ok());
        assert_eq!(
            refused(|s| s.model.provider = "gpu".into()),
            "model.provider"
        );
        assert_eq!(refused(|s| s.model.name = " ".into()), "model.name");
        assert_eq!(
            refused(|s| s.model.input_size = Some(0)),
            "model.input_size"
        );
        assert_eq!(
            refused(|s| s.limits.max_payload_bytes = 0),
            "limits.max_payload_bytes"
        );
        assert_eq!(
            refused(|s| s.limits.inline_max_bytes = 1 << 40),
            "limits.inline_max_bytes"
        );
        assert_eq!(refused(|s| s.ingest.batch_chips = 0), "ingest.batch_chips");
        assert_eq!(
            refused(|s| s.queues.work_max_bytes = 8 << 20),
            "queues.work_max_bytes"
        );
        assert_eq!(
            refused(|s| s.queues.embedder_ack_wait_secs = 1),
            "queues.embedder_ack_wait_secs"
        );
        assert_eq!(
            refused(|s| s.queues.full_retry_ms = 0),
            "queues.full_retry_ms"
        );
        // Progress acks at most every half ack wait: 2001 ms against the default 4 s.
        assert_eq!(
            refused(|s| s.embedder.progress_interval_ms = 2001),
            "embedder.progress_interval_ms"
        );
        let mut s = Settings::default();
        s.embedder.progress_interval_ms = 2000;
        s.validate().unwrap();
        assert_eq!(
            refused(|s| s.embedder.pull_batch = 0),
            "embedder.pull_batch"
        );
        assert_eq!(
            refused(|s| s.embedder.instance = Some(String::new())),
            "embedder.instance"
        );
        assert_eq!(
            refused(|s| s.clusterer.track_min_similarity = 1.5),
            "clusterer.track_min_similarity"
        );
        assert_eq!(
            refused(|s| s.clusterer.track_min_similarity = f32::NAN),
            "clusterer.track_min_similarity"
        );
        assert_eq!(
            refused(|s| s.publisher.overlay_alpha = -0.1),
            "publisher.overlay_alpha"
        );
        assert_eq!(refused(|s| s.cache.ttl_secs = 0), "cache.ttl_secs");
        assert_eq!(
            refused(|s| s.telemetry.status_interval_ms = 0),
            "telemetry.status_interval_ms"
        );
        assert_eq!(
            refused(|s| s.telemetry.metrics_addr = "localhost:9090".into()),
            "telemetry.metrics_addr"
        );
        assert_eq!(refused(|s| s.bus.url = String::new()), "bus.url");
        assert_eq!(
            refused(|s| {
                s.bus.token = Some("t".into());
                s.bus.nkey = Some("n".into());
            }),
            "bus"
        );
    }
}
