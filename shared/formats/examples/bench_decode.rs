//! Decode benchmark: how long `tessera_formats::read` takes on each file given, from bytes
//! already in memory, beside one plain pass over the same samples (u16 little-endian to f32,
//! the least any reader must do) measured in the same run.
//!
//! ```sh
//! ~/.cache/tessera/venv/bin/python shared/formats/tests/seeds/make_bench.py /tmp/bench-formats
//! cargo run --release -p tessera-formats --example bench_decode -- /tmp/bench-formats/*
//! ```
//!
//! Prints, per file: the first signal's shape and dtype, the median and fastest of `RUNS`
//! (default 11) reads, and the median as a multiple of the plain pass.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tessera_formats::{NoCompanions, ReadLimits};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// One pass over `n` u16 samples into f32: the floor for any reader of 16-bit data.
fn plain_pass(bytes: &[u8], n: usize) -> Vec<f32> {
    bytes[..2 * n]
        .chunks_exact(2)
        .map(|b| f32::from(u16::from_le_bytes([b[0], b[1]])))
        .collect()
}

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(11)
        .max(1);
    let paths: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    anyhow::ensure!(
        !paths.is_empty(),
        "give the files to decode, e.g. those make_bench.py writes (see the doc comment)"
    );
    println!("{runs} reads each, bytes already in memory");
    println!(
        "{:<28} {:>14} {:>5} {:>9} {:>9} {:>9} {:>6}",
        "file", "shape", "dtype", "median", "fastest", "plain", "ratio"
    );
    for path in &paths {
        let bytes = std::fs::read(path)?;
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let limits = ReadLimits::default();
        let mut times = Vec::with_capacity(runs);
        let mut shape = String::new();
        let mut dtype = "";
        let mut values = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let acq = tessera_formats::read(&name, &bytes, &NoCompanions, &limits)
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            times.push(t.elapsed());
            let s = &acq.signals[0];
            shape = format!("{:?}", s.shape());
            dtype = s.dtype.name();
            values = s.data.len();
            std::hint::black_box(acq);
        }
        let mut plain = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            std::hint::black_box(plain_pass(&bytes, values.min(bytes.len() / 2)));
            plain.push(t.elapsed());
        }
        let fastest = times.iter().min().copied().unwrap_or_default();
        let (m, p) = (median(times), median(plain));
        println!(
            "{:<28} {:>14} {:>5} {:>6.1} ms {:>6.1} ms {:>6.1} ms {:>5.1}×",
            name,
            shape,
            dtype,
            m.as_secs_f64() * 1e3,
            fastest.as_secs_f64() * 1e3,
            p.as_secs_f64() * 1e3,
            m.as_secs_f64() / p.as_secs_f64()
        );
    }
    Ok(())
}
