//! [`Metrics`]: named counters, gauges and labels shared by every clone.
//!
//! Looking a name up takes a lock; bumping a [`Counter`] or setting a [`Gauge`] is one
//! atomic operation, so a service looks its metrics up once and keeps the handles.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A registry of counters, gauges and labels. Clones share it. Counters, gauges and labels
/// share one namespace: give each metric its own name.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Registry>,
}

#[derive(Default)]
struct Registry {
    counters: Mutex<BTreeMap<&'static str, Counter>>,
    gauges: Mutex<BTreeMap<&'static str, Gauge>>,
    labels: Mutex<BTreeMap<&'static str, String>>,
}

/// A count that only goes up (messages processed, chips embedded). Clones share it.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

/// A value that goes up and down (frames open, messages in flight). Clones share it.
#[derive(Clone, Default)]
pub struct Gauge(Arc<AtomicI64>);

/// A panic elsewhere while holding the lock leaves the maps whole, so carry on.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter called `name`, created at 0 on first use; the same one on every call.
    pub fn counter(&self, name: &'static str) -> Counter {
        lock(&self.inner.counters).entry(name).or_default().clone()
    }

    /// The gauge called `name`, created at 0 on first use; the same one on every call.
    pub fn gauge(&self, name: &'static str) -> Gauge {
        lock(&self.inner.gauges).entry(name).or_default().clone()
    }

    /// Sets the label `name`, e.g. `("cache", "degraded: redis unreachable")`.
    pub fn set_label(&self, name: &'static str, value: impl Into<String>) {
        lock(&self.inner.labels).insert(name, value.into());
    }

    /// Every counter, gauge and label, by name, values as text: the `detail` of a
    /// `ServiceStatus`.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (name, c) in lock(&self.inner.counters).iter() {
            out.insert(name.to_string(), c.get().to_string());
        }
        for (name, g) in lock(&self.inner.gauges).iter() {
            out.insert(name.to_string(), g.get().to_string());
        }
        for (name, value) in lock(&self.inner.labels).iter() {
            out.insert(name.to_string(), value.clone());
        }
        out
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.snapshot()).finish()
    }
}

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds 1.
    pub fn inc(&self) {
        self.add(1);
    }

    /// The count now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counter({})", self.get())
    }
}

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }

    /// Adds `delta`, which may be negative.
    pub fn add(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }

    /// The value now.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gauge({})", self.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_is_the_same_counter() {
        let m = Metrics::new();
        let a = m.counter("processed");
        a.inc();
        m.counter("processed").add(4);
        assert_eq!(a.get(), 5);
        // Clones of the registry share it.
        let clone = m.clone();
        clone.counter("processed").inc();
        assert_eq!(m.counter("processed").get(), 6);
        assert_eq!(m.counter("rejected").get(), 0);
    }

    #[test]
    fn gauges_go_both_ways() {
        let m = Metrics::new();
        let g = m.gauge("open_frames");
        g.set(3);
        m.gauge("open_frames").add(-5);
        assert_eq!(g.get(), -2);
    }

    #[test]
    fn snapshot_holds_everything_as_text() {
        let m = Metrics::new();
        m.counter("processed").add(7);
        m.gauge("in_flight").set(-1);
        m.set_label("cache", "degraded");
        m.set_label("cache", "ok");
        let snap = m.snapshot();
        let expected: BTreeMap<String, String> =
            [("cache", "ok"), ("in_flight", "-1"), ("processed", "7")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        assert_eq!(snap, expected);
        assert!(format!("{m:?}").contains("\"processed\": \"7\""));
    }

    #[test]
    fn counters_are_shared_across_threads() {
        let m = Metrics::new();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let c = m.counter("n");
                s.spawn(move || (0..1000).for_each(|_| c.inc()));
            }
        });
        assert_eq!(m.counter("n").get(), 4000);
    }
}
