//! [`CudaTuning`]: the CUDA provider's session options that change its speed, not its results.
//!
//! Measured against ONNX Runtime's Python API by `scripts/bench_gpu.sh` (each variant beside
//! the default session); they are settings because the best choice depends on the card, the
//! model and the precision.

use std::{fmt, str::FromStr};

use ort::ep::cuda::ConvAlgorithmSearch;
use serde::{Deserialize, Serialize};

/// How cuDNN picks each convolution's algorithm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConvSearch {
    /// Times every algorithm on the first run of each input shape (ONNX Runtime's default):
    /// the fastest kernels, after a slow first batch.
    #[default]
    Exhaustive,
    /// cuDNN's heuristics: no timing runs, so the first batch is fast; the kernels may be
    /// slower.
    Heuristic,
    /// cuDNN's default algorithm, never searched.
    Default,
}

impl ConvSearch {
    /// The setting's word.
    pub fn name(self) -> &'static str {
        match self {
            ConvSearch::Exhaustive => "exhaustive",
            ConvSearch::Heuristic => "heuristic",
            ConvSearch::Default => "default",
        }
    }

    pub(crate) fn ort(self) -> ConvAlgorithmSearch {
        match self {
            ConvSearch::Exhaustive => ConvAlgorithmSearch::Exhaustive,
            ConvSearch::Heuristic => ConvAlgorithmSearch::Heuristic,
            ConvSearch::Default => ConvAlgorithmSearch::Default,
        }
    }
}

impl fmt::Display for ConvSearch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ConvSearch {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "exhaustive" => Ok(ConvSearch::Exhaustive),
            "heuristic" => Ok(ConvSearch::Heuristic),
            "default" => Ok(ConvSearch::Default),
            _ => Err(format!(
                "unknown cuDNN convolution search {s:?}; choose exhaustive (the slow first \
                 batch finds the fastest kernels), heuristic (a fast first batch) or default"
            )),
        }
    }
}

/// The CUDA provider's speed options (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CudaTuning {
    /// How cuDNN picks convolution algorithms.
    pub conv_search: ConvSearch,
    /// Run convolutions in NHWC (`prefer_nhwc`), the layout FP16 tensor cores work in; ONNX
    /// Runtime then inserts the transposes at the graph's edges.
    pub prefer_nhwc: bool,
}

impl CudaTuning {
    /// `cuda` with these options set.
    pub(crate) fn apply(self, cuda: ort::ep::CUDA) -> ort::ep::CUDA {
        let cuda = cuda.with_conv_algorithm_search(self.conv_search.ort());
        if self.prefer_nhwc {
            cuda.with_prefer_nhwc(true)
        } else {
            cuda
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_words_parse_and_a_wrong_one_says_the_choices() {
        for s in [
            ConvSearch::Exhaustive,
            ConvSearch::Heuristic,
            ConvSearch::Default,
        ] {
            assert_eq!(s.name().parse::<ConvSearch>(), Ok(s));
        }
        assert_eq!("HEURISTIC".parse::<ConvSearch>(), Ok(ConvSearch::Heuristic));
        let err = "fastest".parse::<ConvSearch>().unwrap_err();
        assert!(
            err.contains("exhaustive") && err.contains("heuristic"),
            "{err}"
        );
    }

    #[test]
    fn tuning_reads_from_a_settings_table_and_refuses_unknown_keys() {
        let t: CudaTuning =
            toml::from_str("conv_search = \"heuristic\"\nprefer_nhwc = true").unwrap();
        assert_eq!(
            t,
            CudaTuning {
                conv_search: ConvSearch::Heuristic,
                prefer_nhwc: true
            }
        );
        assert_eq!(
            toml::from_str::<CudaTuning>("").unwrap(),
            CudaTuning::default()
        );
        assert!(toml::from_str::<CudaTuning>("nhwc = true").is_err());
    }
}
