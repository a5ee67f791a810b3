//! Chip embedding through ONNX Runtime, driven by a model manifest.
//!
//! Any ONNX image encoder plugs in through a small TOML manifest that says what the network
//! expects (input name, size, layout, channel order, normalisation) and what it returns (output
//! name, embedding size). The crate turns grayscale chips in `[0, 1]` into that input, runs the
//! network in batches on the execution provider the caller asked for, and returns one embedding
//! row per chip. A provider that was asked for and does not load is an error, never a silent
//! fall-back to the CPU.
//!
//! # Layout
//! - [`manifest`]: the model manifest and its validation.
//! - [`preprocess`]: resizing and normalising chips into the network's input tensor.
//! - [`provider`]: execution-provider choice (CPU, CUDA, TensorRT).
//! - [`cuda_tuning`]: the CUDA provider's speed options (cuDNN's search, NHWC).
//! - [`precision`]: the number format, and the quantised model `--precision int8` picks on the CPU.
//! - [`runtime`]: loading the ONNX Runtime shared library at run time.
//! - `session`: building the session on the chosen provider, checked against the manifest;
//!   [`session_builder`] gives other graphs (the chip graph's dense steps) the same provider.
//! - [`staging`]: IO binding, pinned host buffers and the copy/compute overlap.
//! - [`encoder`]: the batched encoder itself.

pub mod cuda_tuning;
pub mod encoder;
pub mod error;
pub mod host_memory;
pub mod manifest;
pub mod precision;
pub mod preprocess;
pub mod provider;
pub mod runtime;
mod session;
pub mod staging;

pub use cuda_tuning::{ConvSearch, CudaTuning};
pub use encoder::{Encoder, EncoderOptions, read_manifest};
pub use error::EmbeddingError;
pub use host_memory::Pinning;
pub use manifest::{ChannelOrder, Layout, ModelManifest, Normalize, RawDtype, RawInput};
pub use precision::{Precision, PrecisionChoice, cpu_runs_int8_fast, running_precision};
pub use provider::{ComputeStream, ExecutionProvider, ProviderConfig};
pub use runtime::{ORT_VERSION, Runtime, load_runtime};
pub use session::session_builder;
pub use staging::Staging;
