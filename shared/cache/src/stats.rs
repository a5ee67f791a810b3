//! Counters for metrics: [`CacheStats`] is a snapshot of them.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the cache's counters, for metrics and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStats {
    /// Keys found with a valid value.
    pub hits: u64,
    /// Keys not found, skipped while degraded, or found with an unusable value.
    pub misses: u64,
    /// Of the misses, values that were present but corrupt or of the wrong width.
    pub corrupt: u64,
    /// Redis operations (a whole `get_many` or `put_many` pipeline, or a `ping`) that failed.
    pub errors: u64,
    /// Entries written.
    pub writes: u64,
    /// Entries evicted by the in-process LRU to stay within its byte budget.
    pub evictions: u64,
    /// Bytes held by the in-process LRU (0 for Redis).
    pub memory_bytes: u64,
    /// Whether Redis is unreachable and the cache is being bypassed (always false in memory).
    pub degraded: bool,
    /// `"redis"` or `"memory"`.
    pub backend: &'static str,
}

/// The live counters behind [`CacheStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) corrupt: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) evictions: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Snapshot, with the backend-specific parts filled in by the caller.
    pub(crate) fn snapshot(
        &self,
        backend: &'static str,
        degraded: bool,
        memory_bytes: u64,
    ) -> CacheStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            hits: get(&self.hits),
            misses: get(&self.misses),
            corrupt: get(&self.corrupt),
            errors: get(&self.errors),
            writes: get(&self.writes),
            evictions: get(&self.evictions),
            memory_bytes,
            degraded,
            backend,
        }
    }
}
