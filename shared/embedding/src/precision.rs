//! The number format a network runs in, and what `--precision` asks for.
//!
//! On TensorRT the precision is a build option of the engine. The CPU and CUDA providers run a
//! model as it was stored, so there a precision picks the model file: `int8` on the CPU is the
//! model's quantised twin (`efficientnet-lite0-int8`), made at provisioning. `auto`, the
//! default, is INT8 on a CPU with 8-bit dot-product instructions ([`cpu_runs_int8_fast`]:
//! VNNI on x86-64, DOTPROD on Arm) where the model has such a twin, and the model as stored
//! elsewhere. Without them ONNX Runtime's uint8 × int8 kernels saturate (provisioning then
//! quantises the weights to uint8, which is correct there but about 5× slower than FP32:
//! 3.95 s against 0.77 s for one 1024² image on an AVX2-only AMD EPYC).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{ExecutionProvider, ModelManifest};

/// The number format the network runs in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// As the model was exported (usually 32-bit floats).
    #[default]
    Fp32,
    /// 16-bit floats, where TensorRT finds them faster.
    Fp16,
    /// 8-bit integers where TensorRT supports them, else 16-bit floats. Without a
    /// calibration table or a quantised (Q/DQ) model, TensorRT keeps layers it has no ranges
    /// for in higher precision.
    Int8,
}

impl Precision {
    /// The lower-case name, as settings spell it.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Int8 => "int8",
        }
    }
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "fp32" => Ok(Precision::Fp32),
            "fp16" => Ok(Precision::Fp16),
            "int8" => Ok(Precision::Int8),
            _ => Err(format!(
                "unknown precision {s:?}; choose fp32, fp16 or int8"
            )),
        }
    }
}

/// What the settings ask for: a precision, or `auto`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PrecisionChoice {
    /// INT8 on a CPU that runs it fast ([`cpu_runs_int8_fast`]) where the model has a
    /// quantised twin; as stored on CUDA; FP32 engines on TensorRT.
    #[default]
    Auto,
    /// Exactly this precision.
    Exactly(Precision),
}

impl FromStr for PrecisionChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(PrecisionChoice::Auto);
        }
        s.parse()
            .map(PrecisionChoice::Exactly)
            .map_err(|_| format!("unknown precision {s:?}; choose auto, fp32, fp16 or int8"))
    }
}

impl PrecisionChoice {
    /// The precision to configure a provider named `provider` (`cpu`, `cuda:1`, ...) with.
    pub fn for_provider(self, provider: &str) -> Precision {
        match self {
            PrecisionChoice::Exactly(p) => p,
            PrecisionChoice::Auto if is_cpu(provider) && cpu_runs_int8_fast() => Precision::Int8,
            PrecisionChoice::Auto => Precision::Fp32,
        }
    }

    /// Whether the model's quantised twin is to be loaded in place of the model named.
    pub fn wants_int8_model(self, provider: &ExecutionProvider) -> bool {
        matches!(provider, ExecutionProvider::Cpu)
            && match self {
                PrecisionChoice::Auto => cpu_runs_int8_fast(),
                PrecisionChoice::Exactly(p) => p == Precision::Int8,
            }
    }

    /// Refuses an explicit `int8` on the CPU for a model that has no quantised twin and is not
    /// itself quantised, rather than running it in FP32 under the name INT8.
    pub fn check_model(
        self,
        provider: &ExecutionProvider,
        model: &str,
        manifest: &ModelManifest,
    ) -> Result<(), String> {
        if self == PrecisionChoice::Exactly(Precision::Int8)
            && matches!(provider, ExecutionProvider::Cpu)
            && manifest.precision != Precision::Int8
        {
            return Err(format!(
                "precision int8 on the CPU needs a quantised model, and {model} has no INT8 \
                 twin (efficientnet-lite0 has one: efficientnet-lite0-int8); choose \
                 --precision fp32 or auto, or quantise the model with \
                 scripts/tessera_provision/quantize.py"
            ));
        }
        Ok(())
    }
}

/// The precision a loaded encoder runs in: the engine's on TensorRT, else the model's as
/// stored.
pub fn running_precision(provider: &ExecutionProvider, manifest: &ModelManifest) -> Precision {
    match provider {
        ExecutionProvider::TensorRt { .. } => provider.precision(),
        _ => manifest.precision,
    }
}

/// Whether this CPU has the 8-bit dot-product instructions that make ONNX Runtime's INT8
/// kernels both exact and faster than FP32: AVX-512 VNNI or AVX-VNNI on x86-64, DOTPROD on
/// 64-bit Arm.
pub fn cpu_runs_int8_fast() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512vnni")
            || std::arch::is_x86_feature_detected!("avxvnni")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("dotprod")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

fn is_cpu(provider: &str) -> bool {
    provider
        .parse::<ExecutionProvider>()
        .is_ok_and(|p| matches!(p, ExecutionProvider::Cpu))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_int8_only_on_a_cpu_that_runs_it_fast() {
        let auto = PrecisionChoice::Auto;
        let fast = cpu_runs_int8_fast();
        let on_cpu = if fast {
            Precision::Int8
        } else {
            Precision::Fp32
        };
        assert_eq!(auto.for_provider("cpu"), on_cpu);
        assert_eq!(auto.for_provider("cuda:1"), Precision::Fp32);
        assert_eq!(auto.for_provider("tensorrt"), Precision::Fp32);
        assert_eq!(auto.wants_int8_model(&ExecutionProvider::Cpu), fast);
        let int8 = PrecisionChoice::Exactly(Precision::Int8);
        assert!(int8.wants_int8_model(&ExecutionProvider::Cpu));
        let fp32: PrecisionChoice = "FP32".parse().unwrap();
        assert!(!fp32.wants_int8_model(&ExecutionProvider::Cpu));
        let err = "int4".parse::<PrecisionChoice>().unwrap_err();
        assert!(err.contains("auto, fp32, fp16 or int8"), "{err}");
    }
}
