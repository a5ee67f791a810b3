//! An [`Acquisition`] as bytes and back, with its sample data: for handing a file's contents
//! from a reader running in another process (the command line reads HDF5 files in a child
//! process, because libhdf5 can crash on a damaged file).
//!
//! Layout: the magic `TSRA1\n`, the acquisition without its data as JSON (u64 little-endian
//! length, then the text), then each signal's values in order (u64 little-endian count, then
//! that many little-endian `f32`).

use crate::{Acquisition, FormatError};

const MAGIC: &[u8] = b"TSRA1\n";
const WHAT: &str = "acquisition transfer";

/// Encodes `a`, data included.
pub fn encode(a: &Acquisition) -> Result<Vec<u8>, FormatError> {
    let json = serde_json::to_vec(a)
        .map_err(|e| FormatError::corrupt("transfer", format!("{WHAT}: {e}")))?;
    let values: usize = a.signals.iter().map(|s| s.data.len()).sum();
    let mut out =
        Vec::with_capacity(MAGIC.len() + 8 + json.len() + 8 * a.signals.len() + 4 * values);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for s in &a.signals {
        out.extend_from_slice(&(s.data.len() as u64).to_le_bytes());
        for v in &s.data {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    Ok(out)
}

/// Decodes what [`encode`] wrote; fails on anything else, or on data that does not match the
/// signals' shapes.
pub fn decode(bytes: &[u8]) -> Result<Acquisition, FormatError> {
    let corrupt = |d: &str| FormatError::corrupt("transfer", format!("{WHAT}: {d}"));
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| corrupt("it does not start with the transfer's magic"))?;
    let (len, rest) = take_u64(rest).ok_or_else(|| corrupt("no JSON length"))?;
    let len = usize::try_from(len).map_err(|_| corrupt("JSON length overflows"))?;
    if rest.len() < len {
        return Err(corrupt("the JSON is cut short"));
    }
    let (json, mut rest) = rest.split_at(len);
    let mut a: Acquisition =
        serde_json::from_slice(json).map_err(|e| corrupt(&format!("bad JSON: {e}")))?;
    for s in &mut a.signals {
        let (n, r) = take_u64(rest).ok_or_else(|| corrupt("a signal's count is missing"))?;
        let expected = crate::Signal::len_from_axes(&s.axes);
        if usize::try_from(n).ok() != expected {
            return Err(corrupt(&format!(
                "signal '{}' carries {n} values, its axes {:?}",
                s.name,
                s.shape()
            )));
        }
        let bytes_len = (n as usize)
            .checked_mul(4)
            .filter(|&b| b <= r.len())
            .ok_or_else(|| corrupt("a signal's values are cut short"))?;
        let (data, r) = r.split_at(bytes_len);
        s.data = data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        rest = r;
    }
    if !rest.is_empty() {
        return Err(corrupt("bytes follow the last signal"));
    }
    Ok(a)
}

fn take_u64(b: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = b.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*head), rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Axis, DType, FileFormat, Metadata, Signal, SignalKind};

    fn sample() -> Acquisition {
        Acquisition {
            format: FileFormat::Hdf5,
            signals: vec![Signal {
                name: "HAADF".into(),
                kind: SignalKind::Image,
                dtype: DType::U16,
                axes: vec![
                    Axis::calibrated("y", 2, 0.5, 1.0, "nm"),
                    Axis::pixels("x", 3),
                ],
                data: vec![1.0, 2.0, 3.0, 4.0, 5.0, f32::MAX],
                metadata: [("detector".to_string(), "HAADF".to_string())].into(),
            }],
            metadata: Metadata {
                voltage_kv: Some(300.0),
                ..Metadata::default()
            },
            notes: vec!["a note".into()],
        }
    }

    #[test]
    fn an_acquisition_survives_the_round_trip_with_its_data() {
        let a = sample();
        assert_eq!(decode(&encode(&a).unwrap()).unwrap(), a);
    }

    #[test]
    fn damaged_transfers_are_refused() {
        let bytes = encode(&sample()).unwrap();
        for cut in [0, 3, MAGIC.len() + 4, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode(&extra).is_err());
    }
}
