//! Where a session's batch buffers live on the host, chosen by trying them.
//!
//! For a GPU session the input (and if possible the output) buffers are pinned (page-locked)
//! host memory from the CUDA provider's own allocator, so copies to and from the device are
//! DMA transfers that do not stall. Not every runtime accepts every placement (ONNX Runtime
//! 1.31.1's CUDA provider was seen failing runs bound to pinned memory, in a copy that found
//! source and destination at one address), so each placement is tried with real one-chip
//! runs when the encoder loads, best first, and the first that runs is kept; the fallbacks
//! are logged. The CPU uses ordinary memory and tries nothing.

use ort::{
    memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType},
    session::Session,
};

use crate::{
    EmbeddingError, ExecutionProvider,
    staging::{self, Job, Staging},
};

/// Which host buffers are pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinning {
    /// Input and output in pinned memory.
    Both,
    /// Input pinned; the output comes back to ordinary memory.
    Input,
    /// Ordinary (pageable) memory for both.
    None,
}

impl std::fmt::Display for Pinning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Pinning::Both => "input+output",
            Pinning::Input => "input",
            Pinning::None => "none",
        })
    }
}

/// The allocator for input tensors and the memory the output is bound to.
pub(crate) struct Memory {
    input: Allocator,
    output: MemoryInfo<'static>,
    pinning: Pinning,
}

impl Memory {
    /// The best placement that `session` runs with: on a GPU `provider`, pinned input and
    /// output, else pinned input only, else ordinary memory (each fallback logged, since only
    /// the speed of the copies depends on it). Each is tried by running `job` on one chip.
    /// The CPU gets ordinary memory.
    pub(crate) fn for_session(
        session: &mut Session,
        provider: &ExecutionProvider,
        job: &Job<'_>,
    ) -> Memory {
        let device = match provider {
            ExecutionProvider::Cpu => return Memory::ordinary(),
            ExecutionProvider::Cuda { device_id, .. }
            | ExecutionProvider::TensorRt { device_id, .. } => *device_id,
        };
        let (chosen, refused) = first_that_runs([Pinning::Both, Pinning::Input], |pinning| {
            let memory = Memory::pinned(session, device, pinning)
                .map_err(|e| EmbeddingError::Inference(e.to_string()))?;
            memory.try_runs(session, job)?;
            Ok::<_, EmbeddingError>(memory)
        });
        match chosen {
            Some(memory) => {
                if !refused.is_empty() {
                    tracing::info!(provider = %provider, pinned = %memory.pinning,
                        refused = ?refused, "pinned host memory for the input only");
                }
                memory
            }
            None => {
                tracing::warn!(provider = %provider, refused = ?refused,
                    "the session runs with no pinned host memory; batches go through ordinary \
                     (pageable) memory, which makes every upload slower");
                Memory::ordinary()
            }
        }
    }

    fn ordinary() -> Memory {
        Memory {
            input: Allocator::default(),
            output: cpu_memory(),
            pinning: Pinning::None,
        }
    }

    fn pinned(session: &Session, device: i32, pinning: Pinning) -> ort::Result<Memory> {
        let pinned = |kind| {
            MemoryInfo::new(
                AllocationDevice::CUDA_PINNED,
                device,
                AllocatorType::Device,
                kind,
            )
        };
        let input = Allocator::new(session, pinned(MemoryType::CPUInput)?)?;
        let output = match pinning {
            Pinning::Both => pinned(MemoryType::CPUOutput)?,
            _ => cpu_memory(),
        };
        Ok(Memory {
            input,
            output,
            pinning,
        })
    }

    /// Two one-chip batches through this placement by the path batches take (the second
    /// reuses the slot and its bound output, as batches do).
    fn try_runs(&self, session: &mut Session, job: &Job<'_>) -> Result<(), EmbeddingError> {
        let plain = Staging {
            overlap: false,
            pad: false,
        };
        let mut stages = Vec::new();
        // One value as one chip: the filler leaves the zeroed input as it is.
        let chip = [0.0f32];
        for _ in 0..2 {
            staging::run(
                session,
                self,
                &mut stages,
                plain,
                1,
                &chip,
                1,
                job,
                &mut |_, _| Ok(()),
            )?;
        }
        Ok(())
    }

    pub(crate) fn input(&self) -> &Allocator {
        &self.input
    }

    pub(crate) fn output(&self) -> &MemoryInfo<'static> {
        &self.output
    }

    pub(crate) fn pinning(&self) -> Pinning {
        self.pinning
    }
}

/// The first of `candidates` that `attempt` accepts, and why each one before it was refused.
fn first_that_runs<T, E: std::fmt::Display>(
    candidates: impl IntoIterator<Item = Pinning>,
    mut attempt: impl FnMut(Pinning) -> Result<T, E>,
) -> (Option<T>, Vec<String>) {
    let mut refused = Vec::new();
    for pinning in candidates {
        match attempt(pinning) {
            Ok(chosen) => return (Some(chosen), refused),
            Err(e) => refused.push(format!("pinned {pinning}: {e}")),
        }
    }
    (None, refused)
}

fn cpu_memory() -> MemoryInfo<'static> {
    MemoryInfo::new(
        AllocationDevice::CPU,
        0,
        AllocatorType::Device,
        MemoryType::Default,
    )
    .expect("the CPU memory description is always valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_placement_that_runs_is_kept_and_the_refusals_say_why() {
        let mut tried = Vec::new();
        let (chosen, refused) = first_that_runs([Pinning::Both, Pinning::Input], |p| {
            tried.push(p);
            if p == Pinning::Both {
                Err("dst_data != src_data")
            } else {
                Ok(p)
            }
        });
        assert_eq!(chosen, Some(Pinning::Input));
        assert_eq!(tried, [Pinning::Both, Pinning::Input]);
        assert_eq!(refused, ["pinned input+output: dst_data != src_data"]);

        let (chosen, refused) =
            first_that_runs([Pinning::Both, Pinning::Input], |_| Err::<(), _>("no CUDA"));
        assert_eq!(chosen, None);
        assert_eq!(refused.len(), 2, "{refused:?}");

        let (chosen, refused) = first_that_runs([Pinning::Both], Ok::<_, String>);
        assert_eq!((chosen, refused.len()), (Some(Pinning::Both), 0));
    }
}
