//! [`Metrics`]: named counters, gauges, histograms and labels shared by every clone.
//!
//! Looking a name up takes a lock; bumping a [`Counter`], setting a [`Gauge`] or observing a
//! [`Histogram`] is a few atomic operations, so a service looks its metrics up once and keeps
//! the handles. `prometheus.rs` renders a registry in Prometheus' text format.

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
    histograms: Mutex<BTreeMap<HistogramKey, Histogram>>,
    labels: Mutex<BTreeMap<&'static str, String>>,
}

/// A histogram's name and its one optional label (`stage="embed"`).
type HistogramKey = (&'static str, Option<(&'static str, String)>);

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

    /// The histogram called `name` with upper bucket bounds `bounds` (ascending; the
    /// `+Inf` bucket is implied), created empty on first use; the same one on every call,
    /// whose bounds are those of the first call.
    pub fn histogram(&self, name: &'static str, bounds: &'static [f64]) -> Histogram {
        self.histogram_for(name, None, bounds)
    }

    /// The histogram called `name` for one value of a label, e.g. `("stage", "embed")`: one
    /// series of a labelled family.
    pub fn labelled_histogram(
        &self,
        name: &'static str,
        label: (&'static str, &str),
        bounds: &'static [f64],
    ) -> Histogram {
        self.histogram_for(name, Some((label.0, label.1.to_string())), bounds)
    }

    fn histogram_for(
        &self,
        name: &'static str,
        label: Option<(&'static str, String)>,
        bounds: &'static [f64],
    ) -> Histogram {
        lock(&self.inner.histograms)
            .entry((name, label))
            .or_insert_with(|| Histogram::new(bounds))
            .clone()
    }

    /// Every counter (name, value), for the Prometheus exposition.
    pub(crate) fn counters(&self) -> Vec<(&'static str, u64)> {
        let map = lock(&self.inner.counters);
        map.iter().map(|(n, c)| (*n, c.get())).collect()
    }

    /// Every gauge (name, value).
    pub(crate) fn gauges(&self) -> Vec<(&'static str, i64)> {
        let map = lock(&self.inner.gauges);
        map.iter().map(|(n, g)| (*n, g.get())).collect()
    }

    /// Every histogram series, by name and label.
    pub(crate) fn histograms(&self) -> Vec<(HistogramKey, Histogram)> {
        let map = lock(&self.inner.histograms);
        map.iter().map(|(k, h)| (k.clone(), h.clone())).collect()
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
        for ((name, label), h) in lock(&self.inner.histograms).iter() {
            let series = match label {
                Some((_, value)) => format!("{name}.{value}"),
                None => name.to_string(),
            };
            let snap = h.snapshot();
            out.insert(format!("{series}.count"), snap.count.to_string());
            out.insert(format!("{series}.sum"), format!("{:.6}", snap.sum));
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

/// Bucket bounds for durations in seconds: 1 ms to about 65 s, doubling.
pub const SECONDS: &[f64] = &[
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
    8.192, 16.384, 32.768, 65.536,
];

/// Bucket bounds for sizes in items (chips per batch): 1 to 16384, doubling.
pub const SIZES: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0,
    16384.0,
];

/// A distribution of observed values in fixed buckets, with their sum and count. Clones
/// share it.
#[derive(Clone)]
pub struct Histogram(Arc<HistogramCells>);

struct HistogramCells {
    bounds: &'static [f64],
    /// One count per bound, then the `+Inf` bucket; not cumulative.
    buckets: Vec<AtomicU64>,
    /// The sum of the observations, as `f64` bits.
    sum: AtomicU64,
}

/// A histogram's state at one moment: cumulative bucket counts, as Prometheus shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound, observations <= bound)`, the last bound being `+Inf`.
    pub cumulative: Vec<(f64, u64)>,
    /// The sum of all observations.
    pub sum: f64,
    /// How many observations there were.
    pub count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        let buckets = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram(Arc::new(HistogramCells {
            bounds,
            buckets,
            sum: AtomicU64::new(0f64.to_bits()),
        }))
    }

    /// Records one observation. NaN is ignored.
    pub fn observe(&self, v: f64) {
        if v.is_nan() {
            return;
        }
        let cells = &self.0;
        let i = cells.bounds.partition_point(|&b| b < v);
        cells.buckets[i].fetch_add(1, Ordering::Relaxed);
        let _ = cells
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
    }

    /// Records a duration in milliseconds as seconds.
    pub fn observe_ms(&self, ms: f64) {
        self.observe(ms / 1e3);
    }

    /// The cumulative counts, the sum and the count now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let cells = &self.0;
        let mut total = 0;
        let mut cumulative = Vec::with_capacity(cells.buckets.len());
        for (i, cell) in cells.buckets.iter().enumerate() {
            total += cell.load(Ordering::Relaxed);
            let bound = cells.bounds.get(i).copied().unwrap_or(f64::INFINITY);
            cumulative.push((bound, total));
        }
        HistogramSnapshot {
            cumulative,
            sum: f64::from_bits(cells.sum.load(Ordering::Relaxed)),
            count: total,
        }
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.snapshot();
        write!(f, "Histogram(count={}, sum={})", s.count, s.sum)
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
    fn histograms_count_into_cumulative_buckets() {
        let m = Metrics::new();
        let h = m.histogram("batch_chips", &[1.0, 10.0, 100.0]);
        for v in [0.5, 1.0, 3.0, 10.0, 99.0, 1000.0, f64::NAN] {
            h.observe(v);
        }
        // Bounds are inclusive, as Prometheus' `le`.
        let s = m.histogram("batch_chips", SIZES).snapshot();
        assert_eq!(
            s.cumulative,
            vec![(1.0, 2), (10.0, 4), (100.0, 5), (f64::INFINITY, 6)]
        );
        assert_eq!((s.count, s.sum), (6, 1113.5));

        let embed = m.labelled_histogram("stage_seconds", ("stage", "embed"), SECONDS);
        embed.observe_ms(250.0);
        let other = m.labelled_histogram("stage_seconds", ("stage", "graph"), SECONDS);
        assert_eq!(other.snapshot().count, 0);
        let snap = m.snapshot();
        assert_eq!(snap["stage_seconds.embed.count"], "1");
        assert_eq!(snap["stage_seconds.embed.sum"], "0.250000");
        assert_eq!(snap["batch_chips.count"], "6");
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
