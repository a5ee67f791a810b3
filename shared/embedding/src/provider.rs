//! Which execution provider runs the network: CPU by default, CUDA or TensorRT on request.
//!
//! A provider other than the CPU is registered with `error_on_failure`, so a CUDA or TensorRT
//! request on a machine (or runtime build) without them fails loudly at start-up instead of
//! quietly running on the CPU. [`ExecutionProvider::configure`] turns the settings' words
//! (`provider = "tensorrt:1"`, `precision = "fp16"`, a memory limit, an engine cache) into a
//! provider, refusing combinations that would not do what they say.

use std::{fmt, path::PathBuf, str::FromStr};

use crate::{CudaTuning, Precision};

use ort::ep::{self, ArbitrarilyConfigurableExecutionProvider, ExecutionProviderDispatch};
use serde::{Deserialize, Serialize};

/// The execution provider an encoder asks ONNX Runtime for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ExecutionProvider {
    /// ONNX Runtime's own CPU kernels.
    #[default]
    Cpu,
    /// NVIDIA CUDA.
    Cuda {
        /// GPU ordinal.
        #[serde(default)]
        device_id: i32,
        /// Upper bound on the memory arena, in bytes.
        #[serde(default)]
        memory_limit: Option<usize>,
        /// Speed options (cuDNN's algorithm search, NHWC).
        #[serde(default)]
        tuning: CudaTuning,
    },
    /// NVIDIA TensorRT, with CUDA for the nodes TensorRT does not take.
    #[serde(rename = "tensorrt")]
    TensorRt {
        /// GPU ordinal.
        #[serde(default)]
        device_id: i32,
        /// Build FP16 engines.
        #[serde(default)]
        fp16: bool,
        /// Build INT8 engines where TensorRT supports them.
        #[serde(default)]
        int8: bool,
        /// The folder under which built engines are kept between runs; each model (and input
        /// side and precision) gets a subfolder of its own, made on first use. `None` keeps
        /// no engines, so every start rebuilds them.
        #[serde(default)]
        engine_cache: Option<PathBuf>,
        /// Upper bound on the memory arena of the CUDA provider behind TensorRT, in bytes.
        #[serde(default)]
        memory_limit: Option<usize>,
    },
}

/// What a provider is configured with besides its name and device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderConfig {
    /// Upper bound on the GPU memory arena, in bytes (GPU providers only; ignored on the CPU).
    pub memory_limit: Option<usize>,
    /// Number format; anything but FP32 needs TensorRT.
    pub precision: Precision,
    /// The TensorRT engine cache folder (TensorRT only; ignored otherwise).
    pub engine_cache: Option<PathBuf>,
    /// The CUDA provider's speed options (CUDA only; ignored otherwise).
    pub cuda: CudaTuning,
}

/// A CUDA stream (`cudaStream_t`) the caller owns, for the GPU providers to run on.
///
/// It cannot come from a settings file: only a program that created the stream (for example
/// to overlap its own copies with inference) can hand it over, through [`Self::from_raw`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComputeStream(usize);

impl ComputeStream {
    /// Wraps a raw `cudaStream_t`.
    ///
    /// # Safety
    /// `stream` must be a valid CUDA stream on the encoder's device, and must outlive every
    /// encoder (session) loaded with it.
    #[allow(unsafe_code)]
    pub unsafe fn from_raw(stream: *mut std::ffi::c_void) -> Self {
        ComputeStream(stream as usize)
    }
}

/// TensorRT's optimisation profile for the encoder's input: from one chip to a full batch, so
/// that short batches run on the engine built at start-up instead of each new shape building
/// another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrtProfile {
    /// The input's name.
    pub input: String,
    /// Its shape for one chip.
    pub min: Vec<i64>,
    /// Its shape for a full batch, which is also the shape TensorRT optimises for.
    pub max: Vec<i64>,
}

impl TrtProfile {
    /// The `name:d0xd1x…` form TensorRT's profile options take, for `shape`.
    fn spec(&self, shape: &[i64]) -> String {
        let dims: Vec<String> = shape.iter().map(i64::to_string).collect();
        format!("{}:{}", self.input, dims.join("x"))
    }
}

impl ExecutionProvider {
    /// The provider named `name` (`cpu`, `cuda[:N]`, `tensorrt[:N]`) with `config` applied.
    ///
    /// The CPU and CUDA providers run a model in the precision it was stored in: on the CPU,
    /// INT8 means the model's quantised twin (see [`crate::PrecisionChoice`]); FP16 there,
    /// and anything but FP32 on CUDA, is refused, as it would silently get FP32.
    pub fn configure(name: &str, config: &ProviderConfig) -> Result<Self, String> {
        let provider: ExecutionProvider = name.parse()?;
        let cpu_int8 =
            matches!(provider, ExecutionProvider::Cpu) && config.precision == Precision::Int8;
        match provider {
            ExecutionProvider::Cpu | ExecutionProvider::Cuda { .. }
                if config.precision != Precision::Fp32 && !cpu_int8 =>
            {
                Err(format!(
                    "precision {} needs the tensorrt provider; the {provider} provider runs the \
                     model in the precision it was stored in (choose provider = \"tensorrt\", \
                     precision = \"fp32\", or on the CPU \"int8\" for a quantised model)",
                    config.precision.name()
                ))
            }
            ExecutionProvider::Cpu => Ok(ExecutionProvider::Cpu),
            ExecutionProvider::Cuda { device_id, .. } => Ok(ExecutionProvider::Cuda {
                device_id,
                memory_limit: config.memory_limit,
                tuning: config.cuda,
            }),
            ExecutionProvider::TensorRt { device_id, .. } => Ok(ExecutionProvider::TensorRt {
                device_id,
                fp16: config.precision != Precision::Fp32,
                int8: config.precision == Precision::Int8,
                engine_cache: config.engine_cache.clone(),
                memory_limit: config.memory_limit,
            }),
        }
    }

    /// This provider, with `root` as the TensorRT engine cache when none was chosen.
    #[must_use]
    pub fn with_default_engine_cache(mut self, root: PathBuf) -> Self {
        if let ExecutionProvider::TensorRt { engine_cache, .. } = &mut self {
            engine_cache.get_or_insert(root);
        }
        self
    }

    /// The name ONNX Runtime knows the provider by.
    pub fn ort_name(&self) -> &'static str {
        match self {
            ExecutionProvider::Cpu => "CPUExecutionProvider",
            ExecutionProvider::Cuda { .. } => "CUDAExecutionProvider",
            ExecutionProvider::TensorRt { .. } => "TensorrtExecutionProvider",
        }
    }

    /// Whether the network runs on a GPU.
    pub fn is_gpu(&self) -> bool {
        !matches!(self, ExecutionProvider::Cpu)
    }

    /// The precision the network runs in.
    pub fn precision(&self) -> Precision {
        match self {
            ExecutionProvider::TensorRt { int8: true, .. } => Precision::Int8,
            ExecutionProvider::TensorRt { fp16: true, .. } => Precision::Fp16,
            _ => Precision::Fp32,
        }
    }

    /// Chips per inference call when the settings give none: 64 on the CPU, where larger
    /// batches only cost memory, and 256 on a GPU, which needs large batches to be kept busy.
    /// On an H200 with the CUDA provider, batches of 256 beat 1024 for every model measured
    /// (ResNet50 FP32 and FP16, EfficientNet-Lite0, with and without in-graph preprocessing),
    /// by 1–51 % through the Python API too; measure a device with `scripts/bench_gpu.sh`.
    pub fn default_batch(&self) -> usize {
        if self.is_gpu() { 256 } else { 64 }
    }

    /// The dispatches to register, each set to fail rather than fall back. `engine_dir` is
    /// the engine folder of this model (TensorRT only), `stream` the caller's CUDA stream,
    /// `profile` the input shapes TensorRT builds its engine for.
    pub(crate) fn dispatches(
        &self,
        engine_dir: Option<&std::path::Path>,
        stream: Option<ComputeStream>,
        profile: Option<&TrtProfile>,
    ) -> Vec<ExecutionProviderDispatch> {
        let cuda = |device_id: i32, memory_limit: Option<usize>, tuning: CudaTuning| {
            let mut cuda = tuning.apply(ep::CUDA::default().with_device_id(device_id));
            if let Some(limit) = memory_limit {
                cuda = cuda.with_memory_limit(limit);
            }
            if let Some(ComputeStream(s)) = stream {
                cuda = cuda
                    .with_arbitrary_config("has_user_compute_stream", "1")
                    .with_arbitrary_config("user_compute_stream", s);
            }
            cuda.build().error_on_failure()
        };
        match self {
            ExecutionProvider::Cpu => vec![],
            ExecutionProvider::Cuda {
                device_id,
                memory_limit,
                tuning,
            } => vec![cuda(*device_id, *memory_limit, *tuning)],
            ExecutionProvider::TensorRt {
                device_id,
                fp16,
                int8,
                memory_limit,
                ..
            } => {
                let mut trt = ep::TensorRT::default()
                    .with_device_id(*device_id)
                    .with_fp16(*fp16)
                    .with_int8(*int8);
                if let Some(dir) = engine_dir {
                    trt = trt
                        .with_engine_cache(true)
                        .with_engine_cache_path(dir.display())
                        .with_timing_cache(true)
                        .with_timing_cache_path(dir.display());
                }
                if let Some(p) = profile {
                    trt = trt
                        .with_profile_min_shapes(p.spec(&p.min))
                        .with_profile_opt_shapes(p.spec(&p.max))
                        .with_profile_max_shapes(p.spec(&p.max));
                }
                if let Some(ComputeStream(s)) = stream {
                    trt = trt
                        .with_arbitrary_config("has_user_compute_stream", "1")
                        .with_arbitrary_config("user_compute_stream", s);
                }
                vec![
                    trt.build().error_on_failure(),
                    cuda(*device_id, *memory_limit, CudaTuning::default()),
                ]
            }
        }
    }
}

impl fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecutionProvider::Cpu => f.write_str("cpu"),
            ExecutionProvider::Cuda { device_id, .. } => write!(f, "cuda:{device_id}"),
            ExecutionProvider::TensorRt { device_id, .. } => write!(f, "tensorrt:{device_id}"),
        }
    }
}

impl FromStr for ExecutionProvider {
    type Err = String;

    /// Parses `cpu`, `cuda`, `cuda:N`, `tensorrt`, `tensorrt:N` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let (kind, id) = lower.split_once(':').unwrap_or((&lower, "0"));
        let device_id: i32 = id
            .parse()
            .map_err(|_| format!("bad device id {id:?} in provider {s:?}; use e.g. cuda:0"))?;
        match kind {
            "cpu" => Ok(ExecutionProvider::Cpu),
            "cuda" => Ok(ExecutionProvider::Cuda {
                device_id,
                memory_limit: None,
                tuning: CudaTuning::default(),
            }),
            "tensorrt" | "trt" => Ok(ExecutionProvider::TensorRt {
                device_id,
                fp16: false,
                int8: false,
                engine_cache: None,
                memory_limit: None,
            }),
            _ => Err(format!(
                "unknown execution provider {s:?}; choose cpu, cuda[:N] or tensorrt[:N]"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_provider_names() {
        assert_eq!(
            "cpu".parse::<ExecutionProvider>(),
            Ok(ExecutionProvider::Cpu)
        );
        assert!(matches!(
            "CUDA:1".parse(),
            Ok(ExecutionProvider::Cuda { device_id: 1, .. })
        ));
        assert!(matches!(
            "tensorrt".parse(),
            Ok(ExecutionProvider::TensorRt { device_id: 0, .. })
        ));
        assert!(
            "rocm"
                .parse::<ExecutionProvider>()
                .unwrap_err()
                .contains("choose cpu")
        );
        assert!(
            "cuda:x"
                .parse::<ExecutionProvider>()
                .unwrap_err()
                .contains("device id")
        );
    }

    #[test]
    fn cpu_registers_nothing_and_gpus_refuse_to_fall_back() {
        assert!(
            ExecutionProvider::Cpu
                .dispatches(None, None, None)
                .is_empty()
        );
        let trt: ExecutionProvider = "tensorrt".parse().unwrap();
        assert_eq!(trt.dispatches(None, None, None).len(), 2);
        assert_eq!(trt.to_string(), "tensorrt:0");
    }

    #[test]
    fn tensorrt_profiles_run_from_one_chip_to_a_full_batch() {
        let profile = TrtProfile {
            input: "chips".into(),
            min: vec![1, 1, 64, 64],
            max: vec![512, 1, 64, 64],
        };
        assert_eq!(profile.spec(&profile.min), "chips:1x1x64x64");
        assert_eq!(profile.spec(&profile.max), "chips:512x1x64x64");
    }

    #[test]
    fn settings_words_become_a_provider() {
        let config = ProviderConfig {
            memory_limit: Some(8 << 30),
            precision: Precision::Fp16,
            engine_cache: Some(PathBuf::from("/engines")),
            cuda: CudaTuning::default(),
        };
        assert_eq!(
            ExecutionProvider::configure("trt:1", &config),
            Ok(ExecutionProvider::TensorRt {
                device_id: 1,
                fp16: true,
                int8: false,
                engine_cache: Some(PathBuf::from("/engines")),
                memory_limit: Some(8 << 30),
            })
        );
        let int8 = ProviderConfig {
            precision: Precision::Int8,
            ..ProviderConfig::default()
        };
        let p = ExecutionProvider::configure("tensorrt", &int8).unwrap();
        assert_eq!(p.precision(), Precision::Int8);
        assert!(matches!(
            p,
            ExecutionProvider::TensorRt {
                fp16: true,
                int8: true,
                ..
            }
        ));
        let tuning = CudaTuning {
            conv_search: crate::ConvSearch::Heuristic,
            prefer_nhwc: true,
        };
        let cuda = ProviderConfig {
            memory_limit: Some(1 << 30),
            cuda: tuning,
            ..ProviderConfig::default()
        };
        assert_eq!(
            ExecutionProvider::configure("cuda:2", &cuda),
            Ok(ExecutionProvider::Cuda {
                device_id: 2,
                memory_limit: Some(1 << 30),
                tuning,
            })
        );
        // The GPU-only settings do not stop a CPU run.
        assert_eq!(
            ExecutionProvider::configure("cpu", &cuda),
            Ok(ExecutionProvider::Cpu)
        );
    }

    #[test]
    fn reduced_precision_without_tensorrt_is_refused() {
        for (name, precision) in [
            ("cpu", Precision::Fp16),
            ("cuda", Precision::Fp16),
            ("cuda", Precision::Int8),
        ] {
            let config = ProviderConfig {
                precision,
                ..ProviderConfig::default()
            };
            let err = ExecutionProvider::configure(name, &config).unwrap_err();
            assert!(
                err.contains(precision.name()) && err.contains("tensorrt"),
                "{name}/{precision:?}: {err}"
            );
        }
        // INT8 on the CPU is the quantised model, which the CPU runs as stored.
        let int8 = ProviderConfig {
            precision: Precision::Int8,
            ..ProviderConfig::default()
        };
        assert_eq!(
            ExecutionProvider::configure("cpu", &int8),
            Ok(ExecutionProvider::Cpu)
        );
        assert!("bf16".parse::<Precision>().unwrap_err().contains("fp16"));
        assert_eq!("FP16".parse::<Precision>(), Ok(Precision::Fp16));
    }

    #[test]
    fn the_engine_cache_defaults_only_when_unset() {
        let root = PathBuf::from("/cache/trt-engines");
        let trt: ExecutionProvider = "tensorrt".parse().unwrap();
        assert!(matches!(
            trt.with_default_engine_cache(root.clone()),
            ExecutionProvider::TensorRt { engine_cache: Some(p), .. } if p == root
        ));
        let chosen = ExecutionProvider::configure(
            "tensorrt",
            &ProviderConfig {
                engine_cache: Some(PathBuf::from("/mine")),
                ..ProviderConfig::default()
            },
        )
        .unwrap();
        assert!(matches!(
            chosen.with_default_engine_cache(root.clone()),
            ExecutionProvider::TensorRt { engine_cache: Some(p), .. } if p == std::path::Path::new("/mine")
        ));
        assert_eq!(
            ExecutionProvider::Cpu.with_default_engine_cache(root),
            ExecutionProvider::Cpu
        );
    }

    #[test]
    fn gpus_get_larger_batches_by_default() {
        assert_eq!(ExecutionProvider::Cpu.default_batch(), 64);
        for name in ["cuda", "tensorrt:3"] {
            let p: ExecutionProvider = name.parse().unwrap();
            assert!(p.default_batch() >= 256, "{name}");
        }
    }
}
