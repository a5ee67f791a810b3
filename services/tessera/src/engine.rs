//! Loads the runtime and the encoder that a command's flags ask for.

use anyhow::{Context, Result};
use tessera_device_graph::DeviceSteps;
use tessera_embedding::{
    CudaTuning, Encoder, EncoderOptions, ExecutionProvider, PrecisionChoice, ProviderConfig,
    Runtime, load_runtime,
};
use tessera_provision::Cache;
use tessera_segment::{DenseSteps, HostSteps};

use crate::cli::{GraphOn, ModelArgs};

/// Loads the encoder for chips of side `chip`. The network input side is `--input-size`, or
/// the chip size itself when the model accepts any size, or the model's own size.
pub(crate) fn load_encoder(cache: &Cache, args: &ModelArgs, chip: usize) -> Result<Loaded> {
    let start = std::time::Instant::now();
    let (encoder, runtime) = load(cache, args, chip)?;
    let load_ms = start.elapsed().as_secs_f64() * 1e3;
    tracing::info!(ms = load_ms, "runtime and model loaded");
    Ok(Loaded {
        encoder,
        runtime,
        load_ms,
    })
}

/// An encoder, the runtime it runs in, and how long the two took to load.
pub(crate) struct Loaded {
    pub encoder: Encoder,
    pub runtime: Runtime,
    pub load_ms: f64,
}

/// Where `--graph-on` puts the chip graph's dense steps, for `encoder`'s provider.
pub(crate) fn dense_steps(
    runtime: &Runtime,
    graph_on: GraphOn,
    encoder: &Encoder,
    threads: usize,
) -> Result<Box<dyn DenseSteps>> {
    let provider = encoder.provider();
    let device = match graph_on {
        GraphOn::Auto => provider.is_gpu(),
        GraphOn::Host => false,
        GraphOn::Device => true,
    };
    if !device {
        return Ok(Box::new(HostSteps));
    }
    let steps = DeviceSteps::new(runtime, provider, threads)
        .context("setting up the chip graph's k-NN and margins beside the model")?;
    Ok(Box::new(steps))
}

fn load(cache: &Cache, args: &ModelArgs, chip: usize) -> Result<(Encoder, Runtime)> {
    let choice: PrecisionChoice = args.precision.parse().map_err(anyhow::Error::msg)?;
    let config = ProviderConfig {
        precision: choice.for_provider(&args.provider),
        cuda: CudaTuning {
            conv_search: args.cuda_conv_search.parse().map_err(anyhow::Error::msg)?,
            prefer_nhwc: args.cuda_nhwc,
        },
        ..ProviderConfig::default()
    };
    let provider = ExecutionProvider::configure(&args.provider, &config)
        .map_err(anyhow::Error::msg)?
        .with_default_engine_cache(cache.root().join("trt-engines"));
    let runtime_path = cache.runtime()?;
    let runtime = load_runtime(&runtime_path)?;
    let manifest_path = cache.model_for(&args.model, choice.wants_int8_model(&provider))?;
    let manifest = tessera_embedding::read_manifest(&manifest_path)?;
    choice
        .check_model(&provider, &args.model, &manifest)
        .map_err(anyhow::Error::msg)?;
    let input_size = manifest.input_side(args.input_size, chip);
    if provider.is_gpu()
        && let Some(advice) = manifest.upload_advice(&args.model, input_size, chip)
    {
        tracing::warn!("{advice}");
    }
    let options = EncoderOptions {
        provider: provider.clone(),
        threads: args.threads,
        batch_size: args.batch.unwrap_or_else(|| provider.default_batch()),
        input_size: Some(input_size),
        ..EncoderOptions::default()
    };
    let encoder = Encoder::load(&runtime, &manifest_path, &options)
        .with_context(|| format!("loading model {}", manifest_path.display()))?;
    Ok((encoder, runtime))
}
