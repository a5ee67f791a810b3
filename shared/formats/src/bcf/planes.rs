//! The image planes of a BCF header: base64 text of up to hundreds of MB inside `<Data>`
//! elements. They are cut out of the header's bytes before the XML parser sees them (it need
//! not scan them), and decoded to `f32` 64 KiB of text at a time (no full-size
//! intermediate).

use std::ops::Range;

use super::text::{Base64, not_base64};
use crate::bytes::{Endian, sample_size, samples_to_f32};
use crate::{DType, FormatError};

/// `<Data>` contents at least this long (base64 image planes, up to hundreds of MB) are cut
/// out of the text before the XML parser sees it, and looked up by number.
const CUT_FROM: usize = 4096;

/// The header's bytes with every long `<Data>` content replaced by `#<n>`, and where those
/// contents lie. Base64 holds no `<`, so a content ends at the next one.
pub(super) fn cut_payloads(bytes: &[u8]) -> (Vec<u8>, Vec<Range<usize>>) {
    const OPEN: &[u8] = b"<Data>";
    let mut out = Vec::new();
    let mut payloads = Vec::new();
    let mut pos = 0;
    while let Some(at) = bytes
        .get(pos..)
        .and_then(|r| find_byte(r, b'<'))
        .map(|i| pos + i)
    {
        let body = at + OPEN.len();
        if bytes.get(at..).is_some_and(|r| r.starts_with(OPEN)) {
            let after = bytes.get(body..).unwrap_or(&[]);
            let len = find_byte(after, b'<').unwrap_or(after.len());
            if len >= CUT_FROM {
                out.extend_from_slice(bytes.get(pos..body).unwrap_or(&[]));
                out.extend_from_slice(format!("#{}", payloads.len()).as_bytes());
                payloads.push(body..body + len);
                pos = body + len;
                continue;
            }
        }
        out.extend_from_slice(bytes.get(pos..=at).unwrap_or(&[]));
        pos = at + 1;
    }
    out.extend_from_slice(bytes.get(pos..).unwrap_or(&[]));
    (out, payloads)
}

/// The first `b` in `hay`; blocks without one are skipped by the slice's `contains`
/// (a `memchr`).
fn find_byte(hay: &[u8], b: u8) -> Option<usize> {
    const BLOCK: usize = 4096;
    hay.chunks(BLOCK).enumerate().find_map(|(k, block)| {
        if block.contains(&b) {
            block.iter().position(|&c| c == b).map(|p| k * BLOCK + p)
        } else {
            None
        }
    })
}

/// Decodes `n` samples of `dtype` from the base64 `text` to `f32`, 64 KiB of text at a
/// time (no full-size intermediate).
pub(super) fn plane_samples(
    text: &[u8],
    dtype: DType,
    n: usize,
    what: &str,
) -> Result<Vec<f32>, FormatError> {
    const BLOCK: usize = 1 << 16;
    let size = sample_size(dtype);
    // Four letters carry three bytes: refuse a short plane before allocating.
    let holds = (text.len() / 4).saturating_mul(3).saturating_add(2) / size;
    if holds < n {
        return Err(FormatError::truncated(
            "BCF",
            format!("{what} holds at most {holds} of its {n} pixels"),
        ));
    }
    let mut out: Vec<f32> = Vec::with_capacity(n);
    let mut raw = Vec::with_capacity(BLOCK);
    let mut dec = Base64::default();
    for block in text.chunks(BLOCK) {
        dec.feed(block, &mut raw)
            .map_err(|ch| not_base64(what, ch))?;
        let whole = (raw.len() / size).min(n - out.len());
        out.extend(samples_to_f32(&raw, dtype, Endian::Little, whole, "BCF")?);
        raw.drain(..whole * size);
        if out.len() == n {
            break;
        }
    }
    if out.len() < n {
        return Err(FormatError::truncated(
            "BCF",
            format!("{what} holds {} of its {n} pixels", out.len()),
        ));
    }
    Ok(out)
}
