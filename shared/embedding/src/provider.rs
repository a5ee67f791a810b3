//! Which execution provider runs the network: CPU by default, CUDA or TensorRT on request.
//!
//! A provider other than the CPU is registered with `error_on_failure`, so a CUDA or TensorRT
//! request on a machine (or runtime build) without them fails loudly at start-up instead of
//! quietly running on the CPU.

use std::{fmt, path::PathBuf, str::FromStr};

use ort::ep::{self, ExecutionProviderDispatch};
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
        /// Where built engines are kept between runs.
        #[serde(default)]
        engine_cache: Option<PathBuf>,
    },
}

impl ExecutionProvider {
    /// The name ONNX Runtime knows the provider by.
    pub fn ort_name(&self) -> &'static str {
        match self {
            ExecutionProvider::Cpu => "CPUExecutionProvider",
            ExecutionProvider::Cuda { .. } => "CUDAExecutionProvider",
            ExecutionProvider::TensorRt { .. } => "TensorrtExecutionProvider",
        }
    }

    /// The dispatches to register, each set to fail rather than fall back.
    pub(crate) fn dispatches(&self) -> Vec<ExecutionProviderDispatch> {
        match self {
            ExecutionProvider::Cpu => vec![],
            ExecutionProvider::Cuda {
                device_id,
                memory_limit,
            } => {
                let mut cuda = ep::CUDA::default().with_device_id(*device_id);
                if let Some(limit) = memory_limit {
                    cuda = cuda.with_memory_limit(*limit);
                }
                vec![cuda.build().error_on_failure()]
            }
            ExecutionProvider::TensorRt {
                device_id,
                fp16,
                int8,
                engine_cache,
            } => {
                let mut trt = ep::TensorRT::default()
                    .with_device_id(*device_id)
                    .with_fp16(*fp16)
                    .with_int8(*int8);
                if let Some(dir) = engine_cache {
                    trt = trt
                        .with_engine_cache(true)
                        .with_engine_cache_path(dir.display())
                        .with_timing_cache(true)
                        .with_timing_cache_path(dir.display());
                }
                let cuda = ep::CUDA::default().with_device_id(*device_id);
                vec![
                    trt.build().error_on_failure(),
                    cuda.build().error_on_failure(),
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
            }),
            "tensorrt" | "trt" => Ok(ExecutionProvider::TensorRt {
                device_id,
                fp16: false,
                int8: false,
                engine_cache: None,
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
        assert!(ExecutionProvider::Cpu.dispatches().is_empty());
        let trt: ExecutionProvider = "tensorrt".parse().unwrap();
        assert_eq!(trt.dispatches().len(), 2);
        assert_eq!(trt.to_string(), "tensorrt:0");
    }
}
