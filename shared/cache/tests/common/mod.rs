//! Helpers shared by the integration tests: time bounds, log capture, raw Redis access.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tessera_cache::{CacheConfig, ChipKey, EmbeddingCache};

/// Fails the test if `f` takes longer than 30 s.
pub async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test exceeded its 30 s bound")
}

/// A Redis cache config with short timeouts, so outages are noticed and recovered quickly.
pub fn redis_config(url: &str) -> CacheConfig {
    CacheConfig {
        url: Some(url.to_owned()),
        timeout_ms: 1000,
        retry_interval_ms: 100,
        ..CacheConfig::default()
    }
}

/// `n` distinct keys under model `m`, and an embedding of width `dim` for each.
pub fn chips(n: usize, dim: usize) -> (Vec<ChipKey>, Vec<Vec<f32>>) {
    let keys = (0..n)
        .map(|i| ChipKey::new("test-model", &[i as f32, 1.0, 2.0, 3.0], 2))
        .collect();
    let values = (0..n)
        .map(|i| {
            (0..dim)
                .map(|j| (i * dim + j) as f32 * 0.001 - 0.5)
                .collect()
        })
        .collect();
    (keys, values)
}

/// `(key, &values)` pairs for `put_many`.
pub fn entries<'a>(keys: &[ChipKey], values: &'a [Vec<f32>]) -> Vec<(ChipKey, &'a [f32])> {
    keys.iter()
        .cloned()
        .zip(values.iter().map(Vec::as_slice))
        .collect()
}

/// Polls until the cache is no longer degraded; panics after 10 s. Returns the wait.
pub async fn wait_recovered(cache: &EmbeddingCache) -> Duration {
    let start = Instant::now();
    while cache.stats().degraded {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "cache never recovered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

/// A raw connection, for checking what the cache wrote.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Captured log output of the current thread (use with a current-thread runtime, so the
/// cache's background probe logs here too).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Installs a DEBUG-level subscriber writing here, for as long as the guard lives.
    pub fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Lines at `level` (e.g. `"WARN"`) containing `needle`.
    pub fn count(&self, level: &str, needle: &str) -> usize {
        self.text()
            .lines()
            .filter(|l| l.contains(level) && l.contains(needle))
            .count()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
