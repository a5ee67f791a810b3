//! Sample messages and a deterministic byte generator, shared by the integration tests.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;

use tessera_protocol::*;

pub(crate) fn run() -> RunId {
    RunId::new("run-2024_001").unwrap()
}

pub(crate) fn instrument() -> InstrumentId {
    InstrumentId::new("titan-1").unwrap()
}

pub(crate) fn limits() -> Limits {
    Limits::default()
}

/// xorshift64*: deterministic pseudo-random bytes without a dependency.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

pub(crate) fn resolved_params() -> WireParams {
    WireParams {
        preset: Some(Preset::Default),
        chip: Some(16),
        stride: Some(16),
        low_percentile: Some(0.5),
        high_percentile: Some(99.5),
        center: Some(true),
        pca: None,
        graph: Some(GraphWire::Knn),
        k: Some(30),
        algorithm: Some(AlgorithmWire::Leiden),
        resolution: Some(0.1),
        seed: Some(42),
        min_community: Some(3),
        merge_similarity: Some(0.9),
        confidence_vote: Some(true),
        model: Some("efficientnet-lite0".into()),
        ..Default::default()
    }
}

pub(crate) fn run_start() -> RunStart {
    RunStart {
        version: PROTOCOL_VERSION,
        run: run(),
        instrument: instrument(),
        sample: "Au nanoparticles on carbon".into(),
        modality: "HAADF-STEM".into(),
        started_at_ms: 1_700_000_000_000,
        params: WireParams {
            chip: Some(64),
            algorithm: Some(AlgorithmWire::Louvain),
            ..Default::default()
        },
        metadata: BTreeMap::from([("operator".into(), "ana".into())]),
    }
}

pub(crate) fn frame_inline(dtype: Dtype, width: u32, height: u32) -> Frame {
    let len = dtype.raw_len(width, height).unwrap() as usize;
    Frame {
        version: PROTOCOL_VERSION,
        run: run(),
        seq: 3,
        timestamp_ms: 1_700_000_000_500,
        width,
        height,
        dtype,
        pixel_size_nm: Some(0.12),
        dose: Some(25.0),
        scalars: BTreeMap::from([("defocus_nm".into(), -50.0)]),
        pixels: Pixels::Inline(vec![0; len]),
    }
}

pub(crate) fn frame_object() -> Frame {
    Frame {
        pixels: Pixels::Object(ObjectRef {
            bucket: "tessera_frames".into(),
            name: keys::raw_frame_object(&run(), 3),
            size: 2048 * 2048 * 2,
            digest: Some("SHA-256=abc".into()),
        }),
        width: 2048,
        height: 2048,
        dtype: Dtype::U16,
        ..frame_inline(Dtype::U8, 1, 1)
    }
}

pub(crate) fn run_stop() -> RunStop {
    RunStop {
        version: PROTOCOL_VERSION,
        run: run(),
        reason: StopReason::Abort,
        frames: 12,
        message: "stopped by operator".into(),
    }
}

pub(crate) fn meta() -> FrameMeta {
    FrameMeta {
        instrument: instrument(),
        timestamp_ms: 1_700_000_000_500,
        dose: Some(25.0),
        pixel_size_nm: None,
        normalized: Some(ObjectRef {
            bucket: "tessera_frames".into(),
            name: keys::normalized_object(&run(), 3),
            size: 64 * 48 * 4,
            digest: None,
        }),
    }
}

pub(crate) fn grid() -> GridWire {
    GridWire {
        width: 64,
        height: 48,
        chip: 16,
        stride: 16,
    }
}

pub(crate) fn chip_batch() -> ChipBatch {
    let n = 4u32;
    let values: Vec<f32> = (0..n * 16 * 16).map(|i| (i % 256) as f32 / 255.0).collect();
    ChipBatch {
        version: PROTOCOL_VERSION,
        run: run(),
        seq: 3,
        meta: meta(),
        grid: grid(),
        params: resolved_params(),
        batch: 1,
        batches: 3,
        first_chip: 4,
        n,
        total_chips: 12,
        model: "efficientnet-lite0".into(),
        chips: f32s_to_le_bytes(&values),
    }
}

pub(crate) fn embedding_batch() -> EmbeddingBatch {
    let (n, dim) = (4u32, 8u32);
    let values: Vec<f32> = (0..n * dim).map(|i| i as f32 * 0.25 - 3.0).collect();
    EmbeddingBatch {
        version: PROTOCOL_VERSION,
        run: run(),
        seq: 3,
        meta: meta(),
        grid: grid(),
        params: resolved_params(),
        batch: 1,
        batches: 3,
        first_chip: 4,
        n,
        total_chips: 12,
        dim,
        model: "efficientnet-lite0".into(),
        model_digest: "0123456789abcdef".into(),
        values: f32s_to_le_bytes(&values),
        cache_hits: 2,
        embed_ms: 12.5,
        worker: "embedder-a".into(),
        cache_ms: 0.5,
    }
}

pub(crate) fn communities() -> Vec<CommunityWire> {
    vec![
        CommunityWire {
            id: 0,
            color: "#1f77b4".into(),
            chips: 8,
            area_fraction: 0.7,
            centroid_px: [30.0, 20.5],
        },
        CommunityWire {
            id: 2,
            color: "#FF7F0E".into(),
            chips: 4,
            area_fraction: 0.3,
            centroid_px: [50.0, 40.0],
        },
    ]
}

pub(crate) fn segmented() -> Segmented {
    let labels: Vec<u32> = (0..12).map(|i| if i < 8 { 0 } else { 2 }).collect();
    let weights: Vec<f32> = (0..12).map(|i| 0.5 + i as f32 / 24.0).collect();
    Segmented {
        version: PROTOCOL_VERSION,
        run: run(),
        seq: 3,
        meta: meta(),
        grid: grid(),
        params: resolved_params(),
        model: "efficientnet-lite0".into(),
        model_digest: "0123456789abcdef".into(),
        chip_labels: u32s_to_le_bytes(&labels),
        chip_weights: Some(f32s_to_le_bytes(&weights)),
        n_labels: 3,
        communities: communities(),
        modularity: Some(0.41),
        cache_hits: 5,
        timings: vec![("graph".into(), 1.5), ("cluster".into(), 3.25)],
        labels: None,
        classes: Some(frame_classes()),
    }
}

/// Twelve chips in two named classes, the last two unknown.
pub(crate) fn frame_classes() -> FrameClasses {
    let chips: Vec<u32> = (0..12)
        .map(|i| [0, 1, 2][usize::from(i >= 6) + usize::from(i >= 10)])
        .collect();
    FrameClasses {
        classifier: "oxide-2026".into(),
        revision: 4,
        classes: vec![
            ClassWire {
                name: "oxide".into(),
                color: "#d62728".into(),
                chips: 6,
                area_fraction: 0.5,
            },
            ClassWire {
                name: "crack".into(),
                color: "#1f77b4".into(),
                chips: 4,
                area_fraction: 0.4,
            },
        ],
        unknown_chips: 2,
        unknown_fraction: 0.1,
        chip_classes: u32s_to_le_bytes(&chips),
        labels: Some(ObjectRef {
            bucket: "tessera_outputs".into(),
            name: keys::classes_object(&run(), 3),
            size: 99,
            digest: None,
        }),
        overlay: None,
        error: None,
    }
}

pub(crate) fn frame_result() -> FrameResult {
    FrameResult {
        version: PROTOCOL_VERSION,
        run: run(),
        instrument: instrument(),
        seq: 3,
        timestamp_ms: 1_700_000_000_500,
        dose: Some(25.0),
        pixel_size_nm: Some(0.12),
        width: 64,
        height: 48,
        chips: 12,
        n_labels: 3,
        communities: communities(),
        source: meta().normalized,
        labels: Some(ObjectRef {
            bucket: "tessera_outputs".into(),
            name: keys::labels_object(&run(), 3),
            size: 1234,
            digest: None,
        }),
        overlay: Some(ObjectRef {
            bucket: "tessera_outputs".into(),
            name: keys::overlay_object(&run(), 3),
            size: 5678,
            digest: Some("SHA-256=xyz".into()),
        }),
        timings: vec![("publish_to_result".into(), 250.0)],
        cache_hits: 5,
        classes: Some(frame_classes()),
        model: "efficientnet-lite0".into(),
        model_digest: "0123456789abcdef".into(),
        params: resolved_params(),
        chip_map: Some(tessera_protocol::ChipMap {
            grid: tessera_protocol::GridWire {
                width: 64,
                height: 48,
                chip: 16,
                stride: 16,
            },
            labels: u32s_to_le_bytes(&[0, 0, 1, 1, 0, 2, 2, 1, 0, 0, 2, 1]),
            confidence: Some(tessera_protocol::f32s_to_le_bytes(&[0.1; 12])),
        }),
    }
}

pub(crate) fn reject() -> Reject {
    Reject {
        version: PROTOCOL_VERSION,
        subject: "tessera.acq.titan-1.frame".into(),
        service: Service::Ingest.as_str().into(),
        reason: "empty frame payload".into(),
        msg_id: Some(keys::frame_msg_id(&run(), 3)),
        payload_bytes: 0,
        at_ms: 1_700_000_001_000,
    }
}

pub(crate) fn dead_letter() -> DeadLetter {
    DeadLetter {
        version: PROTOCOL_VERSION,
        stream: "WORK".into(),
        consumer: "embedder".into(),
        subject: subjects::work_subject(&run()),
        stream_seq: 99,
        deliveries: 5,
        reason: "model failed".into(),
        msg_id: Some(keys::batch_msg_id(&run(), 3, 1)),
        payload: vec![1, 2, 3],
        at_ms: 1_700_000_002_000,
    }
}

pub(crate) fn service_status() -> ServiceStatus {
    ServiceStatus {
        version: PROTOCOL_VERSION,
        service: Service::Embedder.as_str().into(),
        instance: "embedder-a".into(),
        pending: 3,
        lag: 40,
        processed: 1000,
        rejected: 2,
        at_ms: 1_700_000_003_000,
        detail: BTreeMap::from([("cache".into(), "degraded: redis unreachable".into())]),
    }
}

pub(crate) fn run_record() -> RunRecord {
    RunRecord {
        version: PROTOCOL_VERSION,
        run: run(),
        instrument: instrument(),
        sample: "Au".into(),
        modality: "SEM-SE".into(),
        state: RunState::Stopped,
        stop_reason: Some(StopReason::Success),
        started_at_ms: 1,
        stopped_at_ms: Some(2),
        frames_expected: Some(12),
        frames_accepted: 11,
        frames_rejected: 1,
        params: resolved_params(),
        updated_at_ms: 3,
    }
}

pub(crate) fn frame_progress() -> FrameProgress {
    FrameProgress {
        version: PROTOCOL_VERSION,
        run: run(),
        seq: 3,
        state: ProgressState::Assembling,
        batches: 3,
        received: 2,
        updated_at_ms: 4,
    }
}

/// Every sample message, encoded, with a function that decodes it as its own kind.
pub(crate) type Decoder = fn(&[u8], &Limits) -> Result<(), ProtocolError>;

fn dec<T: Message>(bytes: &[u8], limits: &Limits) -> Result<(), ProtocolError> {
    decode::<T>(bytes, limits).map(|_| ())
}

pub(crate) fn all_encoded() -> Vec<(MessageKind, Vec<u8>, Decoder)> {
    let l = limits();
    vec![
        (
            MessageKind::RunStart,
            encode_message(&run_start(), &l).unwrap(),
            dec::<RunStart>,
        ),
        (
            MessageKind::Frame,
            encode_message(&frame_inline(Dtype::U16, 32, 16), &l).unwrap(),
            dec::<Frame>,
        ),
        (
            MessageKind::Frame,
            encode_message(&frame_object(), &l).unwrap(),
            dec::<Frame>,
        ),
        (
            MessageKind::RunStop,
            encode_message(&run_stop(), &l).unwrap(),
            dec::<RunStop>,
        ),
        (
            MessageKind::ChipBatch,
            encode_message(&chip_batch(), &l).unwrap(),
            dec::<ChipBatch>,
        ),
        (
            MessageKind::EmbeddingBatch,
            encode_message(&embedding_batch(), &l).unwrap(),
            dec::<EmbeddingBatch>,
        ),
        (
            MessageKind::Segmented,
            encode_message(&segmented(), &l).unwrap(),
            dec::<Segmented>,
        ),
        (
            MessageKind::FrameResult,
            encode_message(&frame_result(), &l).unwrap(),
            dec::<FrameResult>,
        ),
        (
            MessageKind::Reject,
            encode_message(&reject(), &l).unwrap(),
            dec::<Reject>,
        ),
        (
            MessageKind::DeadLetter,
            encode_message(&dead_letter(), &l).unwrap(),
            dec::<DeadLetter>,
        ),
        (
            MessageKind::ServiceStatus,
            encode_message(&service_status(), &l).unwrap(),
            dec::<ServiceStatus>,
        ),
        (
            MessageKind::RunRecord,
            encode_message(&run_record(), &l).unwrap(),
            dec::<RunRecord>,
        ),
        (
            MessageKind::FrameProgress,
            encode_message(&frame_progress(), &l).unwrap(),
            dec::<FrameProgress>,
        ),
    ]
}
