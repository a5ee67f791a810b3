//! The Redis backend: pipelined `MGET` and `SET .. EX` over a lazily connected
//! [`ConnectionManager`], and the degrade/recover state machine.
//!
//! Healthy: every call goes to Redis. The first failed call (error or timeout) flips the
//! backend to *degraded*, logs one warning and starts a probe task. Degraded: calls skip
//! Redis (gets are all misses, puts are dropped), and the probe builds a fresh connection
//! and `PING`s it every `retry_interval`; the first success swaps that connection in, clears
//! the flag and logs one info line. A fresh connection per probe also recovers from failures
//! the connection manager would not retry by itself (e.g. a password fixed server-side).

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, RedisResult};
use tracing::{debug, info, warn};

use crate::codec;
use crate::config::{CacheConfig, CacheError, redact_url, scrub};
use crate::key::ChipKey;
use crate::stats::Counters;

/// Keys per `MGET`; a larger `get_many` sends several `MGET`s in one pipeline.
const MGET_CHUNK: usize = 512;
/// `SET`s per pipeline; a larger `put_many` sends several pipelines in turn.
const SET_CHUNK: usize = 512;

/// The Redis backend. Cheap to share: everything lives behind one `Arc`.
#[derive(Debug)]
pub(crate) struct RedisBackend {
    shared: Arc<Shared>,
}

struct Shared {
    client: redis::Client,
    /// The URL with its password redacted, for logs.
    url: String,
    /// Strings scrubbed from every error text before it is logged.
    secrets: Vec<String>,
    ttl_secs: u64,
    key_prefix: String,
    timeout: Duration,
    retry_interval: Duration,
    /// Built on first use (it needs a running Tokio runtime), replaced by the probe.
    manager: Mutex<Option<ConnectionManager>>,
    degraded: AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("url", &self.url)
            .field("degraded", &self.degraded.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// Parses the URL and credentials; connects nothing yet.
    pub(crate) fn new(url: &str, config: &CacheConfig) -> Result<Self, CacheError> {
        let secrets = config.secrets();
        let invalid = |e: redis::RedisError| CacheError::InvalidUrl {
            url: redact_url(url),
            reason: scrub(&e.to_string(), &secrets),
        };
        let mut info = url.into_connection_info().map_err(invalid)?;
        let mut settings = info.redis_settings().clone();
        if let Some(user) = &config.username {
            settings = settings.set_username(user);
        }
        if let Some(pw) = &config.password {
            settings = settings.set_password(pw);
        }
        info = info.set_redis_settings(settings);
        let client = redis::Client::open(info).map_err(invalid)?;
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                url: redact_url(url),
                secrets,
                ttl_secs: config.ttl_secs,
                key_prefix: config.key_prefix.clone(),
                timeout: Duration::from_millis(config.timeout_ms),
                retry_interval: Duration::from_millis(config.retry_interval_ms),
                manager: Mutex::new(None),
                degraded: AtomicBool::new(false),
            }),
        })
    }

    /// Whether Redis is being bypassed.
    pub(crate) fn degraded(&self) -> bool {
        self.shared.degraded.load(Ordering::Relaxed)
    }

    /// One pipeline of `MGET`s; any failure makes every key a miss.
    pub(crate) async fn get_many(
        &self,
        keys: &[ChipKey],
        dim: usize,
        counters: &Counters,
    ) -> Vec<Option<Vec<f32>>> {
        let s = &self.shared;
        if keys.is_empty() {
            return Vec::new();
        }
        if !self.degraded() {
            let mut pipe = redis::pipe();
            for chunk in keys.chunks(MGET_CHUNK) {
                pipe.cmd("MGET");
                for k in chunk {
                    pipe.arg(s.full_key(k).as_ref());
                }
            }
            let reply =
                s.run(|mut c| async move {
                    pipe.query_async::<Vec<Vec<Option<Vec<u8>>>>>(&mut c).await
                })
                .await;
            match reply {
                Ok(chunks) => {
                    let values: Vec<Option<Vec<u8>>> = chunks.into_iter().flatten().collect();
                    if values.len() == keys.len() {
                        return decode_all(&values, dim, counters);
                    }
                    s.failed(
                        counters,
                        "MGET",
                        "reply has the wrong number of values".into(),
                    );
                }
                Err(e) => s.failed(counters, "MGET", e),
            }
        }
        Counters::add(&counters.misses, keys.len());
        vec![None; keys.len()]
    }

    /// Pipelines of `SET key value EX ttl`; dropped while degraded or on failure.
    pub(crate) async fn put_many(&self, entries: &[(ChipKey, &[f32])], counters: &Counters) {
        let s = &self.shared;
        for chunk in entries.chunks(SET_CHUNK) {
            if self.degraded() {
                return;
            }
            let mut pipe = redis::pipe();
            for (k, values) in chunk {
                pipe.cmd("SET")
                    .arg(s.full_key(k).as_ref())
                    .arg(codec::encode(values))
                    .arg("EX")
                    .arg(s.ttl_secs)
                    .ignore();
            }
            match s
                .run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
                .await
            {
                Ok(()) => Counters::add(&counters.writes, chunk.len()),
                Err(e) => return s.failed(counters, "SET", e),
            }
        }
    }

    /// `PING`, unless degraded (then `false` without waiting; the probe is on it).
    pub(crate) async fn ping(&self, counters: &Counters) -> bool {
        let s = &self.shared;
        if self.degraded() {
            return false;
        }
        match s.run(|mut c| async move { ping(&mut c).await }).await {
            Ok(()) => true,
            Err(e) => {
                s.failed(counters, "PING", e);
                false
            }
        }
    }
}

fn decode_all(
    values: &[Option<Vec<u8>>],
    dim: usize,
    counters: &Counters,
) -> Vec<Option<Vec<f32>>> {
    let (mut hits, mut corrupt) = (0, 0);
    let out: Vec<_> = values
        .iter()
        .map(|v| {
            let bytes = v.as_deref()?;
            let decoded = codec::decode(bytes, dim);
            match decoded {
                Some(_) => hits += 1,
                None => corrupt += 1,
            }
            decoded
        })
        .collect();
    Counters::add(&counters.hits, hits);
    Counters::add(&counters.misses, values.len() - hits);
    Counters::add(&counters.corrupt, corrupt);
    out
}

async fn ping(c: &mut ConnectionManager) -> RedisResult<()> {
    redis::cmd("PING").query_async::<String>(c).await.map(drop)
}

impl Shared {
    fn full_key<'a>(&self, key: &'a ChipKey) -> Cow<'a, str> {
        if self.key_prefix.is_empty() {
            Cow::Borrowed(key.as_str())
        } else {
            Cow::Owned(format!("{}{}", self.key_prefix, key.as_str()))
        }
    }

    fn new_manager(&self) -> RedisResult<ConnectionManager> {
        // One connection attempt per use: retrying is the probe's job, and a caller must
        // never wait through a backoff schedule.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        ConnectionManager::new_lazy_with_config(self.client.clone(), config)
    }

    /// The current connection manager, built on first use.
    fn manager(&self) -> RedisResult<ConnectionManager> {
        let mut slot = self.manager.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = slot.as_ref() {
            return Ok(m.clone());
        }
        let m = self.new_manager()?;
        *slot = Some(m.clone());
        Ok(m)
    }

    /// Runs `op` on the current connection under the timeout; the error text is scrubbed.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, String>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self.manager().map_err(|e| self.describe(&e))?;
        self.timed(op(conn)).await
    }

    /// Awaits one Redis round trip under the timeout; the error text is scrubbed.
    async fn timed<T>(&self, op: impl Future<Output = RedisResult<T>>) -> Result<T, String> {
        match tokio::time::timeout(self.timeout, op).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.describe(&e)),
            Err(_) => Err(format!("no reply within {:?}", self.timeout)),
        }
    }

    /// The error's text, secrets scrubbed, with a hint when the credentials are the problem.
    fn describe(&self, e: &redis::RedisError) -> String {
        let text = scrub(&e.to_string(), &self.secrets);
        let auth = e.kind() == redis::ErrorKind::AuthenticationFailed
            || ["NOAUTH", "WRONGPASS", "NOPERM"]
                .iter()
                .any(|c| text.contains(c));
        if auth {
            format!("{text}; check cache.username and cache.password")
        } else {
            text
        }
    }

    /// Counts a failed operation; the first one since healthy logs and starts the probe.
    fn failed(self: &Arc<Self>, counters: &Counters, op: &str, error: String) {
        Counters::add(&counters.errors, 1);
        if self.degraded.swap(true, Ordering::AcqRel) {
            debug!(redis = %self.url, op, %error, "Redis still unreachable");
            return;
        }
        warn!(
            redis = %self.url,
            op,
            "Redis at {} is unreachable ({error}); embedding without the cache until it comes back",
            self.url
        );
        tokio::spawn(probe(Arc::downgrade(self)));
    }
}

/// Every `retry_interval`, builds a fresh connection and pings it; on success installs it
/// and clears `degraded`. Ends when it succeeds or the cache is dropped.
async fn probe(shared: Weak<Shared>) {
    loop {
        let Some(interval) = shared.upgrade().map(|s| s.retry_interval) else {
            return;
        };
        tokio::time::sleep(interval).await;
        let Some(s) = shared.upgrade() else {
            return;
        };
        let fresh = match s.new_manager() {
            Ok(m) => m,
            Err(e) => {
                debug!(redis = %s.url, error = %s.describe(&e), "Redis probe failed");
                continue;
            }
        };
        let mut attempt = fresh.clone();
        match s.timed(ping(&mut attempt)).await {
            Ok(()) => {
                *s.manager.lock().unwrap_or_else(PoisonError::into_inner) = Some(fresh);
                s.degraded.store(false, Ordering::Release);
                info!(redis = %s.url, "Redis at {} is reachable again; the embedding cache is back", s.url);
                return;
            }
            Err(error) => debug!(redis = %s.url, %error, "Redis probe failed"),
        }
    }
}
