//! Moving chip batches through the session with IO binding, from host buffers the encoder
//! keeps between calls.
//!
//! On a GPU the buffers are pinned (page-locked) host memory where the session accepts it
//! ([`crate::host_memory`]), so uploads and downloads are DMA transfers; with
//! [`Staging::overlap`] the calling thread fills and binds (uploads) batch *k + 1* while a
//! second thread runs batch *k* on the device. On the CPU the same code runs with ordinary
//! ONNX Runtime tensors, which is how CI tests it.

use std::sync::mpsc;

use ort::{
    session::{IoBinding, Session},
    value::{DynTensor, TensorElementType},
};

use crate::{EmbeddingError, ExecutionProvider, host_memory::Memory};

/// Batches in flight when overlapping: one running, one filled and bound behind it.
const DEPTH: usize = 2;

/// How an encoder moves batches through its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staging {
    /// Fill and bind the next batch on the calling thread while another thread runs the
    /// current one, so host work and the upload overlap the device's compute.
    pub overlap: bool,
    /// Round a short batch up to a power of two (at most the batch size), so TensorRT meets a
    /// few input shapes rather than one per tail length, each of which costs an engine build.
    pub pad: bool,
}

impl Staging {
    /// What suits `provider`: both on a GPU; neither on the CPU, where the extra thread and
    /// padded rows would only compete with inference for the same cores.
    pub fn for_provider(provider: &ExecutionProvider) -> Staging {
        let gpu = provider.is_gpu();
        Staging {
            overlap: gpu,
            pad: gpu,
        }
    }

    /// The rows the input tensor has for a batch of `m` chips at batch size `batch`.
    pub(crate) fn rows(self, m: usize, batch: usize) -> usize {
        if self.pad {
            m.next_power_of_two().min(batch.max(m))
        } else {
            m
        }
    }
}

/// What one call runs: the tensors' names, types and shapes.
pub(crate) struct Job<'a> {
    pub input: &'a str,
    pub output: &'a str,
    /// Output values per chip.
    pub width: usize,
    pub dtype: TensorElementType,
    /// The input shape for a number of rows.
    pub shape: &'a (dyn Fn(usize) -> Vec<i64> + Sync),
}

/// One reusable batch slot: an IO binding and the input tensor bound to it.
pub(crate) struct Stage {
    binding: IoBinding,
    output: String,
    input: Option<(DynTensor, usize)>,
}

impl Stage {
    /// Gives the slot an input tensor of `rows` rows, allocated (zeroed) when the row count or
    /// the type changes, and binds the output to `job.output`.
    fn prepare(
        &mut self,
        memory: &Memory,
        job: &Job<'_>,
        rows: usize,
    ) -> Result<(), EmbeddingError> {
        let infer = |e: ort::Error| EmbeddingError::Inference(e.to_string());
        let fits = matches!(&self.input, Some((t, r)) if *r == rows && t.data_type() == &job.dtype);
        if !fits {
            let mut tensor =
                DynTensor::new(memory.input(), job.dtype, (job.shape)(rows)).map_err(infer)?;
            zero(&mut tensor).map_err(infer)?;
            self.input = Some((tensor, rows));
        }
        // ONNX Runtime keeps the output buffer of the first run and refuses a run whose output
        // shape differs, so the output is bound afresh whenever the rows change.
        if !fits || self.output != job.output {
            self.binding.clear_outputs();
            self.output.clear();
            self.binding
                .bind_output_to_device(job.output, memory.output())
                .map_err(infer)?;
            self.output = job.output.to_string();
        }
        Ok(())
    }
}

fn zero(tensor: &mut DynTensor) -> ort::Result<()> {
    match tensor.data_type() {
        TensorElementType::Uint8 => tensor.try_extract_tensor_mut::<u8>()?.1.fill(0),
        _ => tensor.try_extract_tensor_mut::<f32>()?.1.fill(0.0),
    }
    Ok(())
}

/// Fills a batch's input tensor from its chips: the first `chips.len() / area` rows.
pub(crate) type Fill<'f> = dyn FnMut(&[f32], &mut DynTensor) -> Result<(), EmbeddingError> + 'f;

/// Runs `chips` (`area` values each) through `session` in batches of `batch`, returning
/// `job.width` outputs per chip in order. `stages` keeps the slots between calls.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    session: &mut Session,
    memory: &Memory,
    stages: &mut Vec<Stage>,
    staging: Staging,
    batch: usize,
    chips: &[f32],
    area: usize,
    job: &Job<'_>,
    fill: &mut Fill<'_>,
) -> Result<Vec<f32>, EmbeddingError> {
    let batches = chips.len().div_ceil(batch * area);
    let depth = if staging.overlap && batches > 1 {
        DEPTH
    } else {
        1
    };
    while stages.len() < depth {
        let binding = session
            .create_binding()
            .map_err(|e| EmbeddingError::Inference(e.to_string()))?;
        stages.push(Stage {
            binding,
            output: String::new(),
            input: None,
        });
    }
    let mut load = |stage: &mut Stage, part: &[f32]| -> Result<usize, EmbeddingError> {
        let m = part.len() / area;
        stage.prepare(memory, job, staging.rows(m, batch))?;
        let Stage { binding, input, .. } = stage;
        let (tensor, _) = input.as_mut().expect("prepare allocates the input");
        fill(part, tensor)?;
        binding
            .bind_input(job.input, tensor)
            .map_err(|e| EmbeddingError::Inference(e.to_string()))?;
        Ok(m)
    };
    let mut result = Vec::with_capacity(chips.len() / area * job.width);
    if depth == 1 {
        let stage = &mut stages[0];
        for part in chips.chunks(batch * area) {
            let m = load(stage, part)?;
            collect(session, stage, m, job, &mut result)?;
        }
        return Ok(result);
    }
    let mut free = std::mem::take(stages);
    let (full_tx, full_rx) = mpsc::sync_channel::<(Stage, usize)>(1);
    let (free_tx, free_rx) = mpsc::channel::<Stage>();
    let (fed, ran) = std::thread::scope(|scope| {
        let result = &mut result;
        let runner = scope.spawn(move || -> Result<(), EmbeddingError> {
            for (stage, m) in full_rx {
                let done = collect(session, &stage, m, job, result);
                // The filler may have stopped already; the slot then comes back below.
                let _ = free_tx.send(stage);
                done?;
            }
            Ok(())
        });
        let fed = (|| {
            for part in chips.chunks(batch * area) {
                let Some(mut stage) = free.pop().or_else(|| free_rx.recv().ok()) else {
                    break; // the runner stopped; its error says why
                };
                let m = load(&mut stage, part)?;
                if let Err(mpsc::SendError((stage, _))) = full_tx.send((stage, m)) {
                    free.push(stage);
                    break;
                }
            }
            Ok(())
        })();
        drop(full_tx);
        let ran = runner.join().unwrap_or_else(|_| {
            Err(EmbeddingError::Inference(
                "the inference thread panicked".into(),
            ))
        });
        free.extend(free_rx.try_iter());
        (fed, ran)
    });
    *stages = free;
    fed.and(ran)?;
    Ok(result)
}

/// Runs one bound batch and appends its first `m` output rows to `result`.
fn collect(
    session: &mut Session,
    stage: &Stage,
    m: usize,
    job: &Job<'_>,
    result: &mut Vec<f32>,
) -> Result<(), EmbeddingError> {
    let infer = |e: ort::Error| EmbeddingError::Inference(e.to_string());
    let rows = stage.input.as_ref().map_or(0, |(_, r)| *r);
    let outputs = session.run_binding(&stage.binding).map_err(infer)?;
    let value = outputs.get(job.output).ok_or_else(|| {
        EmbeddingError::Inference(format!(
            "the model returned no output named {:?}",
            job.output
        ))
    })?;
    let (shape, data) = value.try_extract_tensor::<f32>().map_err(infer)?;
    if data.len() != rows * job.width {
        return Err(EmbeddingError::Inference(format!(
            "output {:?} has shape {shape:?}, expected [{rows}, {}]",
            job.output, job.width
        )));
    }
    result.extend_from_slice(&data[..m * job.width]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_rounds_short_batches_up_to_a_power_of_two_within_the_batch() {
        let pad = Staging {
            overlap: true,
            pad: true,
        };
        assert_eq!(pad.rows(512, 512), 512);
        assert_eq!(pad.rows(300, 512), 512);
        assert_eq!(pad.rows(129, 512), 256);
        assert_eq!(pad.rows(1, 512), 1);
        assert_eq!(pad.rows(3, 512), 4);
        assert_eq!(pad.rows(100, 100), 100, "never past the batch size");
        assert_eq!(pad.rows(70, 100), 100);
        let exact = Staging {
            overlap: false,
            pad: false,
        };
        assert_eq!(exact.rows(300, 512), 300);
    }

    #[test]
    fn gpus_overlap_and_pad_and_the_cpu_does_neither() {
        let cpu = Staging::for_provider(&ExecutionProvider::Cpu);
        assert!(!cpu.overlap && !cpu.pad);
        let cuda = Staging::for_provider(&"cuda:1".parse().unwrap());
        assert!(cuda.overlap && cuda.pad);
    }
}
