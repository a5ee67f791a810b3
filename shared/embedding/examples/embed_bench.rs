//! Throughput of one encoder: chips/s against batch size, and the host time per chip spent
//! preparing the input, for `scripts/bench_gpu.sh` (which runs it beside the ONNX Runtime
//! Python API on the same model, batch and provider).
//!
//! ```text
//! cargo run --release -p tessera-embedding --example embed_bench -- \
//!     --runtime LIB --manifest DIR/manifest.toml [--provider cpu|cuda[:N]|tensorrt[:N]] \
//!     [--precision fp32|fp16|int8] [--batches 1,8,64] [--chips 256] [--chip 64] \
//!     [--engine-cache DIR] [--threads 0] [--side N] [--staging auto|plain|overlap] \
//!     [--conv-search exhaustive|heuristic|default] [--nhwc 0|1]
//! ```
//!
//! `--conv-search` and `--nhwc` are the CUDA provider's tuning (`CudaTuning`); the line
//! names them (`cuda=exhaustive/nchw`), and `first_batch_ms` is the untimed warm-up call,
//! where cuDNN's exhaustive search spends its time.
//!
//! `--side` sets the network input side (default: the chip side for a model that takes any
//! size, else the model's own). `--staging` picks how batches move through the session:
//! `overlap` fills and uploads the next batch while the device runs the current one (and pads
//! short batches), `plain` runs one batch at a time, `auto` (the default) is what the
//! provider gets in the workers (overlap on a GPU). Each batch size gets one untimed warm-up
//! call of two batches (engine build, allocations), then `--chips` chips are embedded in
//! batches of that size. One line per batch size: `embed model=… provider=… precision=…
//! staging=… pinned=… batch=… chips=… seconds=… chips_per_s=… host_us_per_chip=…
//! upload_bytes_per_chip=…`, where `pinned` names the pinned host buffers (`input+output`,
//! `input` or `none`) and the host time is that of turning the chips into the model's input
//! (resampling and normalising, or only the conversion to bytes for a `[raw_input]` model),
//! the best of five passes over the same chips, and the upload is the size of one chip's
//! input tensor.

use std::{error::Error, path::PathBuf, time::Instant};

use tessera_embedding::{
    CudaTuning, Encoder, EncoderOptions, ExecutionProvider, ProviderConfig, RawDtype, Staging,
    load_runtime, preprocess::Preprocessor, read_manifest,
};

struct Args {
    runtime: PathBuf,
    manifest: PathBuf,
    provider: String,
    precision: String,
    batches: Vec<usize>,
    chips: usize,
    chip: usize,
    engine_cache: Option<PathBuf>,
    threads: usize,
    side: Option<usize>,
    staging: Option<Staging>,
    tuning: CudaTuning,
}

fn parse() -> Result<Args, Box<dyn Error>> {
    let mut a = Args {
        runtime: std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .unwrap_or_default(),
        manifest: PathBuf::new(),
        provider: "cpu".into(),
        precision: "fp32".into(),
        batches: vec![1, 8, 64],
        chips: 256,
        chip: 64,
        engine_cache: None,
        threads: 0,
        side: None,
        staging: None,
        tuning: CudaTuning::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--runtime" => a.runtime = value.into(),
            "--manifest" => a.manifest = value.into(),
            "--provider" => a.provider = value,
            "--precision" => a.precision = value,
            "--batches" => {
                a.batches = value.split(',').map(str::parse).collect::<Result<_, _>>()?
            }
            "--chips" => a.chips = value.parse()?,
            "--chip" => a.chip = value.parse()?,
            "--engine-cache" => a.engine_cache = Some(value.into()),
            "--threads" => a.threads = value.parse()?,
            "--side" => a.side = Some(value.parse()?),
            "--conv-search" => a.tuning.conv_search = value.parse()?,
            "--nhwc" => a.tuning.prefer_nhwc = value == "1",
            "--staging" => {
                a.staging = match value.as_str() {
                    "auto" => None,
                    "plain" => Some(Staging {
                        overlap: false,
                        pad: false,
                    }),
                    "overlap" => Some(Staging {
                        overlap: true,
                        pad: true,
                    }),
                    _ => {
                        return Err(
                            format!("--staging {value}: choose auto, plain or overlap").into()
                        );
                    }
                }
            }
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    if a.manifest.as_os_str().is_empty() || a.runtime.as_os_str().is_empty() {
        return Err("give --manifest and --runtime (or set ORT_DYLIB_PATH)".into());
    }
    Ok(a)
}

/// Deterministic textured chips in [0, 1].
fn chips(n: usize, chip: usize) -> Vec<f32> {
    (0..n * chip * chip)
        .map(|i| {
            let (k, p) = ((i / (chip * chip)) as f32, (i % (chip * chip)) as f32);
            0.5 + 0.45 * (p * (0.01 + 0.003 * k)).sin()
        })
        .collect()
}

/// Microseconds per chip of the host-side input preparation the encoder does for `manifest`
/// (the best of five passes), and the bytes per chip it uploads.
fn host_cost(
    manifest: &tessera_embedding::ModelManifest,
    side: usize,
    c: &[f32],
    chip: usize,
) -> (f64, usize) {
    let best = (0..5)
        .map(|_| host_pass(manifest, side, c, chip))
        .fold(f64::INFINITY, f64::min);
    let bytes = match manifest.raw_input {
        None => 4 * Preprocessor::new(manifest, chip, side).input_len(),
        Some(raw) => match raw.dtype {
            RawDtype::Uint8 => chip * chip,
            RawDtype::Float32 => 4 * chip * chip,
        },
    };
    (best, bytes)
}

/// One timed pass of [`host_cost`], in microseconds per chip.
fn host_pass(
    manifest: &tessera_embedding::ModelManifest,
    side: usize,
    c: &[f32],
    chip: usize,
) -> f64 {
    let n = c.len() / (chip * chip);
    let start = Instant::now();
    match manifest.raw_input {
        None => {
            let pre = Preprocessor::new(manifest, chip, side);
            let mut out = vec![0.0f32; n * pre.input_len()];
            pre.fill(c, &mut out, &mut Vec::new());
            std::hint::black_box(&out);
        }
        Some(raw) => match raw.dtype {
            RawDtype::Float32 => {}
            RawDtype::Uint8 => {
                let bytes: Vec<u8> = c.iter().map(|v| (v * 255.0).round() as u8).collect();
                std::hint::black_box(&bytes);
            }
        },
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn main() -> Result<(), Box<dyn Error>> {
    let a = parse()?;
    let runtime = load_runtime(&a.runtime)?;
    let manifest = read_manifest(&a.manifest)?;
    let config = ProviderConfig {
        precision: a.precision.parse()?,
        engine_cache: a.engine_cache.clone(),
        cuda: a.tuning,
        ..ProviderConfig::default()
    };
    let provider = ExecutionProvider::configure(&a.provider, &config)?;
    let side = manifest.input_side(a.side, a.chip);
    let c = chips(a.chips, a.chip);
    let (host, upload) = host_cost(&manifest, side, &c, a.chip);
    for &batch in &a.batches {
        let options = EncoderOptions {
            provider: provider.clone(),
            threads: a.threads,
            batch_size: batch,
            input_size: Some(side),
            staging: a.staging,
            ..EncoderOptions::default()
        };
        let mut enc = Encoder::load(&runtime, &a.manifest, &options)?;
        // Two batches, so that with overlap both slots exist (their buffers allocated, their
        // bindings run once) before the clock starts, as in a worker that has run a while.
        let first = Instant::now();
        enc.embed(&c[..(2 * batch).min(a.chips) * a.chip * a.chip], a.chip)?;
        let first_ms = first.elapsed().as_secs_f64() * 1e3;
        let start = Instant::now();
        let e = enc.embed(&c, a.chip)?;
        let seconds = start.elapsed().as_secs_f64();
        std::hint::black_box(&e);
        println!(
            "embed model={} provider={} precision={} staging={} pinned={} batch={batch} \
             chips={} side={side} \
             seconds={seconds:.4} chips_per_s={:.1} host_us_per_chip={host:.1} \
             upload_bytes_per_chip={upload} cuda={}/{} first_batch_ms={first_ms:.1}",
            manifest.name,
            provider,
            provider.precision().name(),
            if enc.staging().overlap {
                "overlap"
            } else {
                "plain"
            },
            enc.pinning(),
            a.chips,
            a.chips as f64 / seconds,
            a.tuning.conv_search,
            if a.tuning.prefer_nhwc { "nhwc" } else { "nchw" },
        );
    }
    Ok(())
}
