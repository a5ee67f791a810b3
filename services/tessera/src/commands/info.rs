//! `tessera info`: what an instrument file holds — its signals with shapes, sample types and
//! calibrated axes, the pixel size, the instrument's settings, and what the reader skipped.
//! What a user runs first on a file nobody has opened before.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use tessera_formats::{Acquisition, ReadLimits, Signal};
use tessera_imaging::readable_length;

use crate::cli::InfoArgs;
use crate::inputs::{expand, read};

pub(crate) fn run(args: &InfoArgs) -> Result<ExitCode> {
    let files = expand(&args.inputs)?;
    let mut failed = 0;
    for path in &files {
        match read(path, &ReadLimits::default()) {
            Ok(a) if args.json => {
                let mut v = serde_json::to_value(&a)?;
                v["file"] = path.display().to_string().into();
                println!("{}", serde_json::to_string(&v)?);
            }
            Ok(a) => print!("{}", describe(&path.display().to_string(), &a)),
            Err(e) => {
                eprintln!("{}: error: {}", path.display(), crate::describe(&e));
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The human-readable description of one file.
fn describe(name: &str, a: &Acquisition) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{name}: {}, {} signal(s)",
        a.format.name(),
        a.signals.len()
    );
    for (i, sig) in a.signals.iter().enumerate() {
        let default = a.pick(None).is_ok_and(|d| std::ptr::eq(d, sig));
        let _ = writeln!(
            s,
            "  [{i}] {} — {:?}, {}, shape {:?}{}",
            sig.name,
            sig.kind,
            sig.dtype.name(),
            sig.shape(),
            if default {
                " (segmented by default)"
            } else {
                ""
            }
        );
        for axis in &sig.axes {
            let cal = if axis.unit.is_empty() {
                "uncalibrated".to_string()
            } else {
                format!(
                    "{} {u} per step, from {} {u}",
                    g(axis.scale),
                    g(axis.offset),
                    u = axis.unit
                )
            };
            let _ = writeln!(s, "      {:<8} {:>6}  {cal}", axis.name, axis.size);
        }
        let _ = writeln!(s, "      pixel size: {}", pixel_size(sig));
        for (k, v) in &sig.metadata {
            let _ = writeln!(s, "      {k}: {v}");
        }
    }
    let m = &a.metadata;
    let fields = [
        ("microscope", m.microscope.clone()),
        ("voltage", m.voltage_kv.map(|v| format!("{} kV", g(v)))),
        (
            "magnification",
            m.magnification.map(|v| format!("{}×", g(v))),
        ),
        ("exposure", m.exposure_s.map(|v| format!("{} s", g(v)))),
        ("acquired", m.acquired.clone()),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            let _ = writeln!(s, "  {k}: {v}");
        }
    }
    for (k, v) in &m.extra {
        let _ = writeln!(s, "  {k}: {v}");
    }
    for n in &a.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    s
}

fn pixel_size(sig: &Signal) -> String {
    match sig.pixel_size() {
        Some(p) => {
            let (x, ux) = readable_length(p.x_nm);
            let (y, uy) = readable_length(p.y_nm);
            format!("{} {ux} × {} {uy}", g(x), g(y))
        }
        None if sig.is_image() => "none (sizes stay in pixels)".into(),
        None => "n/a".into(),
    }
}

/// A number in at most 6 significant digits, without trailing zeros.
fn g(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-3) {
        return format!("{v:.4e}");
    }
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_formats::{Axis, DType, FileFormat, Metadata, SignalKind};

    #[test]
    fn a_description_names_signals_axes_pixel_size_and_settings() {
        let a = Acquisition {
            format: FileFormat::Dm4,
            signals: vec![Signal {
                name: "HAADF".into(),
                kind: SignalKind::Image,
                dtype: DType::U16,
                axes: vec![
                    Axis::calibrated("y", 2, 0.5, 0.0, "nm"),
                    Axis::calibrated("x", 3, 0.5, 0.0, "nm"),
                ],
                data: vec![0.0; 6],
                metadata: Default::default(),
            }],
            metadata: Metadata {
                voltage_kv: Some(300.0),
                ..Metadata::default()
            },
            notes: vec!["thumbnail skipped".into()],
        };
        let d = describe("x.dm4", &a);
        for want in [
            "x.dm4: DM4, 1 signal(s)",
            "HAADF — Image, u16, shape [2, 3] (segmented by default)",
            "0.5 nm per step",
            "pixel size: 500 pm × 500 pm",
            "voltage: 300 kV",
            "note: thumbnail skipped",
        ] {
            assert!(d.contains(want), "{want:?} not in\n{d}");
        }
    }
}
