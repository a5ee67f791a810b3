//! Reading a service's metrics endpoint the way Prometheus does.

use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};

/// `GET url` (a `/metrics` endpoint), parsed.
pub fn scrape(url: &str) -> Scrape {
    let mut response = ureq::get(url)
        .call()
        .unwrap_or_else(|e| panic!("scraping {url}: {e}"));
    let text = response
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("reading {url}: {e}"));
    Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("{url} is not in Prometheus' text format: {e}\n{text}"))
}

/// Scrapes `url` until `done` holds of what it serves, or `within` has passed: the last
/// scrape either way. Services count a message after they have published what it produced,
/// so a result can arrive a moment before its counters do.
pub fn scrape_until(url: &str, within: Duration, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + within;
    loop {
        let scraped = scrape(url);
        if done(&scraped) || Instant::now() >= deadline {
            return scraped;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of the counter or gauge `name` of `service` (0 when absent, as Prometheus
/// treats a counter not yet created).
pub fn value(scrape: &Scrape, name: &str, service: &str) -> f64 {
    series(scrape, name, service, None)
        .map(|v| match v {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{name} is not a counter or gauge: {other:?}"),
        })
        .unwrap_or(0.0)
}

/// How many observations the histogram `name` of `service` holds, in the series whose
/// label `label` = `value` when given.
pub fn observations(
    scrape: &Scrape,
    name: &str,
    service: &str,
    label: Option<(&str, &str)>,
) -> u64 {
    match series(scrape, name, service, label) {
        Some(Value::Histogram(buckets)) => buckets.last().map_or(0, |b| b.count as u64),
        Some(other) => panic!("{name} is not a histogram: {other:?}"),
        None => 0,
    }
}

fn series<'a>(
    scrape: &'a Scrape,
    name: &str,
    service: &str,
    label: Option<(&str, &str)>,
) -> Option<&'a Value> {
    scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == name
                && s.labels.get("service") == Some(service)
                && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v))
        })
        .map(|s| &s.value)
}
