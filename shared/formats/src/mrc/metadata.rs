//! The acquisition's metadata and the note on the extended header.

use crate::bytes::Endian;
use crate::{DType, Metadata};

use super::fei::FeiRecord;
use super::header::Header;

/// The acquisition's metadata: the FEI record's settings and the header's own values.
pub(super) fn metadata(h: &Header, dtype: DType, fei: Option<&FeiRecord>) -> Metadata {
    let mut m = Metadata::default();
    let mut put = |k: &str, v: String| {
        m.extra.insert(k.to_string(), v);
    };
    let triple = |v: [f32; 3]| format!("{} {} {}", v[0], v[1], v[2]);
    put("mode", format!("{} ({})", h.mode, dtype.name()));
    put("space_group", h.ispg.to_string());
    if h.nversion != 0 {
        put("mrc_version", h.nversion.to_string());
    }
    put(
        "byte_order",
        match h.endian {
            Endian::Little => "little-endian",
            Endian::Big => "big-endian",
        }
        .into(),
    );
    if h.nsymbt > 0 {
        let typ = if h.exttyp.is_empty() {
            "type not stated"
        } else {
            &h.exttyp
        };
        put("extended_header", format!("{typ}, {} bytes", h.nsymbt));
    }
    put("cell_angstrom", triple(h.cell));
    put("cell_angles_deg", triple(h.angles));
    put("sampling_mxyz", format!("{} {} {}", h.m[0], h.m[1], h.m[2]));
    put(
        "start_crs",
        format!("{} {} {}", h.start[0], h.start[1], h.start[2]),
    );
    put(
        "axis_order_crs",
        format!("{} {} {}", h.map_crs[0], h.map_crs[1], h.map_crs[2]),
    );
    put("origin_angstrom", triple(h.origin));
    put("dmin", h.dmin.to_string());
    put("dmax", h.dmax.to_string());
    put("dmean", h.dmean.to_string());
    put("rms", h.rms.to_string());
    for (slot, text) in &h.labels {
        put(&format!("label_{slot}"), text.clone());
    }
    if let Some(f) = fei {
        put("fei_metadata_version", f.version.to_string());
        if let Some(c) = &f.camera {
            put("detector", c.clone());
        }
        if let Some(a) = &f.application {
            let v = f.application_version.as_deref().unwrap_or("");
            put("application", format!("{a} {v}").trim().to_string());
        }
        if let Some(d) = &f.d_number {
            put("d_number", d.clone());
        }
        if let Some(d) = f.dose_e_per_m2 {
            put("dose_e_per_m2", format!("{d:e}"));
        }
        if let Some(d) = f.defocus_m {
            put("defocus_m", format!("{d:e}"));
        }
        if let Some((x, y)) = f.pixel_m {
            put("pixel_size_m", format!("{x:e} {y:e}"));
        }
        if let Some(t) = f.timestamp_days {
            put("fei_timestamp_days", t.to_string());
        }
        m.microscope = f.microscope.clone();
        m.voltage_kv = f.ht_v.map(|v| v / 1e3);
        m.magnification = f.magnification;
        m.exposure_s = f.integration_s;
    }
    m
}

/// One sentence on the extended header, if there is one.
pub(super) fn extended_header_note(h: &Header, fei_read: bool) -> Option<String> {
    if h.nsymbt == 0 {
        return None;
    }
    let what = match h.exttyp.as_str() {
        "FEI1" | "FEI2" => "Thermo Fisher per-section metadata",
        "CCP4" => "CCP4 symmetry records",
        "MRCO" => "MRC-format records",
        "SERI" => "SerialEM per-section metadata",
        "AGAR" => "Agard per-section metadata",
        "" if h.ispg > 0 => "type not stated; symmetry records by the CCP4 convention",
        "" => "type not stated",
        _ => "a type this reader does not know",
    };
    let typ = if h.exttyp.is_empty() {
        String::new()
    } else {
        format!("\"{}\", ", h.exttyp)
    };
    let done = if fei_read {
        "the first section's microscope settings were read, the rest skipped"
    } else {
        "skipped"
    };
    Some(format!(
        "extended header of {} bytes ({typ}{what}): {done}",
        h.nsymbt
    ))
}
