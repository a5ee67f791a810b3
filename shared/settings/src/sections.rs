//! The sections of [`crate::Settings`] that this crate defines, one struct per `[section]`.
//!
//! `[bus]` and `[cache]` are [`tessera_bus::BusConfig`] and [`tessera_cache::CacheConfig`],
//! documented in their own crates. Every default here is also written in
//! `deploy/tessera.toml`, and a test keeps the two equal.

use std::path::PathBuf;

use serde::Deserialize;
use tessera_protocol::{
    DEFAULT_INLINE_MAX_BYTES, DEFAULT_MAX_FRAME_PIXELS, DEFAULT_MAX_PAYLOAD_BYTES,
    streams::ConsumerSpec,
};

/// How embedders load and run the model (`[model]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSettings {
    /// A provisioned model (`efficientnet-lite0`, `tiny`), or the path of a model manifest or
    /// of the folder holding one. Default: `efficientnet-lite0`.
    pub name: String,
    /// Where provisioned models and the ONNX Runtime library live. Unset: `$TESSERA_CACHE`,
    /// else `$XDG_CACHE_HOME/tessera` (usually `~/.cache/tessera`); the caller resolves it.
    pub cache_dir: Option<PathBuf>,
    /// Execution provider: `cpu`, `cuda[:N]` or `tensorrt[:N]` (N: the GPU ordinal, default 0).
    /// A GPU provider that does not load stops the service at start-up. Default: `cpu`.
    pub provider: String,
    /// Number format: `auto` (on the CPU the model's quantised INT8 twin where it has one,
    /// else as stored), `fp32`, `int8` (on the CPU the quantised twin; with `tensorrt` INT8
    /// where TensorRT supports it, FP16 elsewhere), or with `tensorrt` `fp16`. Default: `auto`.
    pub precision: String,
    /// Upper bound on the GPU memory arena, in bytes (GPU providers only). Unset: no bound.
    pub memory_limit: Option<usize>,
    /// Where TensorRT keeps the engines it builds, so that a restart is quick (one subfolder
    /// per model, input side and precision). Unset: `<cache_dir>/trt-engines`.
    pub engine_cache: Option<PathBuf>,
    /// cuDNN's convolution algorithm search with the `cuda` provider: `exhaustive` (ONNX
    /// Runtime's default: the first batch of each shape times every algorithm), `heuristic`
    /// (a fast first batch) or `default`. Default: `exhaustive`.
    pub cuda_conv_search: String,
    /// NHWC convolutions with the `cuda` provider (`prefer_nhwc`), for FP16 models.
    /// Default: false.
    pub cuda_prefer_nhwc: bool,
    /// Intra-op threads of the model; 0 means one per core. Default: 0.
    pub threads: usize,
    /// Chips per inference call. Unset: by provider, 64 on the CPU and 256 on a GPU.
    pub batch: Option<usize>,
    /// Side of the square the chips are resized to before inference. Unset: the chip size
    /// when the model accepts any size, else the model's own input size.
    pub input_size: Option<usize>,
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            name: "efficientnet-lite0".into(),
            cache_dir: None,
            provider: "cpu".into(),
            precision: "auto".into(),
            memory_limit: None,
            engine_cache: None,
            cuda_conv_search: "exhaustive".into(),
            cuda_prefer_nhwc: false,
            threads: 0,
            batch: None,
            input_size: None,
        }
    }
}

/// What the services accept (`[limits]`); see [`tessera_protocol::Limits`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Largest message accepted, in bytes; keep it at or below the NATS server's
    /// `max_payload`. Default: 8 MiB.
    pub max_payload_bytes: usize,
    /// Largest frame accepted, in pixels (width × height). Default: 8192 × 8192.
    pub max_frame_pixels: u64,
    /// Largest raw pixel buffer sent inside a frame message; larger frames travel through
    /// the object store. At most `max_payload_bytes`. Default: 960 KiB.
    pub inline_max_bytes: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            max_frame_pixels: DEFAULT_MAX_FRAME_PIXELS,
            inline_max_bytes: DEFAULT_INLINE_MAX_BYTES,
        }
    }
}

/// The ingest service (`[ingest]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSettings {
    /// Most chips per chip batch; lowered automatically so a batch fits the server's
    /// `max_payload`. Default: 256.
    pub batch_chips: u32,
    /// Store the normalised frame in the object store, so that overlays can be drawn.
    /// Default: true.
    pub store_normalized: bool,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            batch_chips: 256,
            store_normalized: true,
        }
    }
}

/// The embedder service (`[embedder]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedderSettings {
    /// This instance's name in status messages. Unset: `<hostname>-<pid>`, chosen by the
    /// caller.
    pub instance: Option<String>,
    /// Most chips gathered across messages into one model call. Default: 512.
    pub max_batch_chips: usize,
    /// How long to wait for more messages before running a partial batch, in milliseconds.
    /// Default: 2.
    pub linger_ms: u64,
    /// Messages taken ahead of the model (kept alive with progress acks until their turn).
    /// Default: 8.
    pub pull_batch: usize,
    /// How often every message an embedder holds (taken ahead or in the model) is acked as
    /// in progress, in milliseconds, so that the server does not deliver it again; at most
    /// half of `queues.embedder_ack_wait_secs`. Default: 1000.
    pub progress_interval_ms: u64,
}

impl Default for EmbedderSettings {
    fn default() -> Self {
        Self {
            instance: None,
            max_batch_chips: 512,
            linger_ms: 2,
            pull_batch: 8,
            progress_interval_ms: 1000,
        }
    }
}

/// The clusterer service (`[clusterer]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClustererSettings {
    /// Frames assembled at once; batches of further frames wait, held unacknowledged, until
    /// one finishes. Default: 64.
    pub max_open_frames: usize,
    /// A frame whose batches stop arriving is given up after this many seconds, with a
    /// reject. Default: 300.
    pub frame_timeout_secs: u64,
    /// Cosine similarity, in \[-1, 1\], below which a community is counted as new rather
    /// than matched to one of the previous frame. Default: 0.5.
    pub track_min_similarity: f32,
}

impl Default for ClustererSettings {
    fn default() -> Self {
        Self {
            max_open_frames: 64,
            frame_timeout_secs: 300,
            track_min_similarity: 0.5,
        }
    }
}

/// The publisher service (`[publisher]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublisherSettings {
    /// Draw a segmentation overlay for each frame. Default: true.
    pub overlay: bool,
    /// Opacity of the overlay's colours, in \[0, 1\]. Default: 0.45.
    pub overlay_alpha: f32,
    /// Points kept in a run's fraction-versus-dose series. Default: 10000.
    pub series_max_points: usize,
}

impl Default for PublisherSettings {
    fn default() -> Self {
        Self {
            overlay: true,
            overlay_alpha: 0.45,
            series_max_points: 10_000,
        }
    }
}

/// The pipeline's queues (`[queues]`): how many bytes each JetStream stream between the
/// services may hold, and how a service waits when the next one is full. Every service of a
/// deployment must use the same values: each applies them to the streams at start-up.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSettings {
    /// Bytes ACQ (acquisitions, kept 7 days) may hold; when full, instruments' publishes
    /// are refused. Default: 50 GiB.
    pub acq_max_bytes: i64,
    /// Bytes WORK (chip batches waiting for an embedder) may hold; when full, ingest waits.
    /// Default: 20 GiB.
    pub work_max_bytes: i64,
    /// Bytes EMBEDDED (embeddings waiting for the clusterer) may hold; when full, embedders
    /// wait. Default: 20 GiB.
    pub embedded_max_bytes: i64,
    /// Bytes SEGMENTED (segmentations waiting for the publisher) may hold; when full, the
    /// clusterer waits. Default: 5 GiB.
    pub segmented_max_bytes: i64,
    /// How often a service that found the next queue full tries again, in milliseconds. It
    /// keeps its own message meanwhile (progress acks), so nothing is dropped. Default: 1000.
    pub full_retry_ms: u64,
    /// Seconds before a message ingest took but did not acknowledge (a crashed copy's) is
    /// delivered again. Default: 60.
    pub ingest_ack_wait_secs: u64,
    /// The same for the embedders' chip batches, short so that a killed embedder's batches
    /// go back to work soon: live embedders keep theirs alive with progress acks every
    /// `embedder.progress_interval_ms`. Default: 4.
    pub embedder_ack_wait_secs: u64,
    /// The same for the clusterer's embedding batches (it sends progress acks for the
    /// frames it holds every third of this). Default: 60.
    pub clusterer_ack_wait_secs: u64,
    /// The same for the publisher's segmentations. Default: 60.
    pub publisher_ack_wait_secs: u64,
}

/// The default ack wait of the embedders' consumer on WORK, in seconds: shorter than the
/// protocol's base spec (30 s), since embedders keep every message they hold alive.
pub const EMBEDDER_ACK_WAIT_SECS: u64 = 4;

impl Default for QueueSettings {
    fn default() -> Self {
        use tessera_protocol::streams::{
            ACQ, CLUSTERER_CONSUMER, EMBEDDED, INGEST_CONSUMER, PUBLISHER_CONSUMER, SEGMENTED, WORK,
        };
        Self {
            acq_max_bytes: ACQ.max_bytes,
            work_max_bytes: WORK.max_bytes,
            embedded_max_bytes: EMBEDDED.max_bytes,
            segmented_max_bytes: SEGMENTED.max_bytes,
            full_retry_ms: 1000,
            ingest_ack_wait_secs: INGEST_CONSUMER.ack_wait_secs,
            embedder_ack_wait_secs: EMBEDDER_ACK_WAIT_SECS,
            clusterer_ack_wait_secs: CLUSTERER_CONSUMER.ack_wait_secs,
            publisher_ack_wait_secs: PUBLISHER_CONSUMER.ack_wait_secs,
        }
    }
}

impl QueueSettings {
    /// The durable consumer `service` reads with: its spec from
    /// [`tessera_protocol::streams`], with the ack wait of these settings.
    pub fn consumer(&self, service: tessera_protocol::Service) -> ConsumerSpec {
        use tessera_protocol::{Service, streams};
        let (base, ack_wait_secs) = match service {
            Service::Ingest => (streams::INGEST_CONSUMER, self.ingest_ack_wait_secs),
            Service::Embedder => (streams::EMBEDDER_CONSUMER, self.embedder_ack_wait_secs),
            Service::Clusterer => (streams::CLUSTERER_CONSUMER, self.clusterer_ack_wait_secs),
            Service::Publisher => (streams::PUBLISHER_CONSUMER, self.publisher_ack_wait_secs),
            Service::Decider => (
                streams::DECIDER_CONSUMER,
                streams::DECIDER_CONSUMER.ack_wait_secs,
            ),
        };
        ConsumerSpec {
            ack_wait_secs,
            ..base
        }
    }

    /// `consumers` with the ack waits of these settings (matched by durable name; others
    /// unchanged).
    pub fn apply_ack_waits(&self, consumers: &mut [ConsumerSpec]) {
        use tessera_protocol::Service;
        for c in consumers {
            for s in Service::ALL {
                let spec = self.consumer(s);
                if spec.durable == c.durable {
                    c.ack_wait_secs = spec.ack_wait_secs;
                }
            }
        }
    }
}

/// Logs and status messages (`[telemetry]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// Which logs to keep, as `tracing` filter directives (`info`,
    /// `warn,tessera_embedder=debug`). `RUST_LOG` wins when it is set. Default: `info`.
    pub log: String,
    /// How logs are written. Default: text.
    pub format: LogFormat,
    /// How often each service publishes its status on `tessera.status.<service>`, in
    /// milliseconds. Default: 5000.
    pub status_interval_ms: u64,
    /// Where a service binary serves Prometheus metrics (`/metrics`) and its health
    /// (`/healthz`) and readiness (`/readyz`), as `host:port`; port 0 picks a free one, empty
    /// turns the endpoint off. Default: `0.0.0.0:9090`, the port the Helm chart and
    /// `compose.yaml` probe.
    pub metrics_addr: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log: "info".into(),
            format: LogFormat::Text,
            status_interval_ms: 5000,
            metrics_addr: "0.0.0.0:9090".into(),
        }
    }
}

/// How logs are written (`telemetry.format`): `text` or `json`, in any case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum LogFormat {
    /// Human-readable lines (`text`).
    #[default]
    Text,
    /// One JSON object per line (`json`), for log collectors.
    Json,
}

impl TryFrom<String> for LogFormat {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        match name.to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(format!("unknown log format {name:?}; choose text or json")),
        }
    }
}
