//! The embedding cache: a repeated chip is never embedded twice.
//!
//! [`EmbeddingCache`] is the one type the embedder uses. It looks chips up by [`ChipKey`]
//! (model digest + content hash) in Redis when `cache.url` is set, with one pipelined round
//! trip per call, and in a bounded in-process LRU otherwise. Redis trouble never reaches the
//! caller: the cache degrades to misses (one warning, then `stats().degraded`), keeps trying
//! in the background, and comes back by itself (one info line). Only a bad configuration is
//! an error, at construction. Passwords never appear in `Debug`, `Display`, logs or errors.
//!
//! This is the only crate that talks to Redis.
//!
//! ```no_run
//! # async fn demo(chips: &[Vec<f32>], embed: impl Fn(&[f32]) -> Vec<f32>)
//! # -> Result<(), tessera_cache::CacheError> {
//! use tessera_cache::{CacheConfig, ChipKey, EmbeddingCache};
//!
//! let cache = EmbeddingCache::new(&CacheConfig::default())?; // no url: in-process
//! let keys: Vec<ChipKey> = chips.iter().map(|c| ChipKey::new("sha256:9f2c", c, 64)).collect();
//! let mut found = cache.get_many(&keys, 384).await;
//! let misses: Vec<usize> = (0..keys.len()).filter(|&i| found[i].is_none()).collect();
//! let fresh: Vec<Vec<f32>> = misses.iter().map(|&i| embed(&chips[i])).collect();
//! let entries: Vec<(ChipKey, &[f32])> =
//!     misses.iter().zip(&fresh).map(|(&i, e)| (keys[i].clone(), e.as_slice())).collect();
//! cache.put_many(&entries).await;
//! for (&i, e) in misses.iter().zip(fresh) {
//!     found[i] = Some(e);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - `key`: [`ChipKey`], the content-addressed key.
//! - `config`: [`CacheConfig`], [`CacheError`], URL redaction.
//! - `codec`: the stored value (`dim` as u32 LE, then f32 LE samples).
//! - `redis_backend`: pipelines, timeouts, degrade and recover.
//! - `memory`: the in-process LRU, bounded by bytes.
//! - `stats`: counters and the [`CacheStats`] snapshot.

mod codec;
mod config;
mod key;
mod memory;
mod redis_backend;
mod stats;

use std::fmt;
use std::sync::Arc;

pub use config::{CacheConfig, CacheError, redact_url};
pub use key::{ChipKey, KEY_NAMESPACE};
pub use stats::CacheStats;

use memory::MemoryCache;
use redis_backend::RedisBackend;
use stats::Counters;

/// The embedding cache, Redis-backed or in-process. Clones share the same cache.
#[derive(Clone)]
pub struct EmbeddingCache {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    counters: Counters,
}

enum Backend {
    Redis(RedisBackend),
    Memory(MemoryCache),
}

impl EmbeddingCache {
    /// Builds the cache `config` describes: Redis if `url` is set, in-process otherwise.
    ///
    /// Connects nothing: a Redis that is down now only makes the first calls miss. Fails
    /// only on a configuration that can never work (an unparsable URL, a zero TTL).
    pub fn new(config: &CacheConfig) -> Result<Self, CacheError> {
        config.validate()?;
        let backend = match &config.url {
            Some(url) => Backend::Redis(RedisBackend::new(url, config)?),
            None => Backend::Memory(MemoryCache::new(config.memory_capacity_bytes)),
        };
        Ok(Self::from_backend(backend))
    }

    /// An in-process cache of at most `capacity_bytes`.
    pub fn in_memory(capacity_bytes: u64) -> Self {
        Self::from_backend(Backend::Memory(MemoryCache::new(capacity_bytes)))
    }

    fn from_backend(backend: Backend) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend,
                counters: Counters::default(),
            }),
        }
    }

    /// The stored embedding of each key, in order, or `None` for a miss. Values must have
    /// exactly `dim` samples; any other stored value counts as corrupt and is a miss.
    ///
    /// Redis: one pipeline of `MGET`s (512 keys each). On any Redis error or timeout the
    /// whole call is misses.
    pub async fn get_many(&self, keys: &[ChipKey], dim: usize) -> Vec<Option<Vec<f32>>> {
        let c = &self.inner.counters;
        match &self.inner.backend {
            Backend::Redis(r) => r.get_many(keys, dim, c).await,
            Backend::Memory(m) => m.get_many(keys, dim, c),
        }
    }

    /// Stores each embedding. Redis: pipelines of `SET key value EX ttl_secs` (512 per
    /// pipeline); on an error or while degraded the entries are dropped, silently for the
    /// caller (see [`stats`](Self::stats)).
    pub async fn put_many(&self, entries: &[(ChipKey, &[f32])]) {
        let c = &self.inner.counters;
        match &self.inner.backend {
            Backend::Redis(r) => r.put_many(entries, c).await,
            Backend::Memory(m) => m.put_many(entries, c),
        }
    }

    /// Whether the backend answers: Redis `PING` (false at once while degraded); always
    /// true in memory.
    pub async fn ping(&self) -> bool {
        match &self.inner.backend {
            Backend::Redis(r) => r.ping(&self.inner.counters).await,
            Backend::Memory(_) => true,
        }
    }

    /// `"redis"` or `"memory"`.
    pub fn backend(&self) -> &'static str {
        match &self.inner.backend {
            Backend::Redis(_) => "redis",
            Backend::Memory(_) => "memory",
        }
    }

    /// A snapshot of the counters, for metrics.
    pub fn stats(&self) -> CacheStats {
        let (degraded, bytes) = match &self.inner.backend {
            Backend::Redis(r) => (r.degraded(), 0),
            Backend::Memory(m) => (false, m.bytes() as u64),
        };
        self.inner
            .counters
            .snapshot(self.backend(), degraded, bytes)
    }
}

impl fmt::Debug for EmbeddingCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.backend {
            Backend::Redis(r) => f.debug_tuple("EmbeddingCache").field(r).finish(),
            Backend::Memory(m) => f.debug_tuple("EmbeddingCache").field(m).finish(),
        }
    }
}
