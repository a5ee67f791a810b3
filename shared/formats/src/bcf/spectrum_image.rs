//! `EDSDatabase/SpectrumData<i>`: Bruker's packed EDS spectrum image ("hypermap").
//!
//! Layout (little-endian; facts from RosettaSciIO's `py_parse_hypermap` in
//! `rsciio/bruker/_api.py` and its Cython `unbcf_fast.pyx`, checked against the three
//! Bruker test files, whose decoded totals equal the sum spectra in their headers):
//! - a head: height (u32), width (u32), ...; the lines start at 0x1A0.
//! - per line: the number of pixels stored (u32; pixels not mapped are not stored), then
//!   per pixel a 22-byte head: x (u32), channels (u16), channels of the packed spectrum
//!   (u16), 4 bytes, packing flag (u16), 2 bytes, pulse count (u16), data size (u32); then
//!   the data:
//!   - flag 0: the pulses, one u16 channel number each;
//!   - flag 1: the pulses packed 12 bits each, four in 6 bytes, in the bit order of
//!     `unbcf_fast.unpack12bit`;
//!   - flag > 1: an "instructively packed" spectrum in the first data size − 4 bytes:
//!     groups of (value size, channel count: u8 each); size 0 skips that many channels,
//!     else a gain of `size` bytes follows, then the channels' values added to the gain:
//!     4 bits each (size 1, low nibble first), 1 byte (size 2), u16 (size 4) or u32
//!     (size 8). The last 4 bytes give the size of the extra pulses that follow the data
//!     (pulse count × u16 channel numbers), each adding one count.

use crate::{FormatError, ReadLimits, check_shape};

/// Where the lines start.
const LINES_AT: usize = 0x1A0;
/// The head of a pixel.
const PIXEL_HEAD: usize = 22;

/// A decoded spectrum image, `[y, x, channel]`.
#[derive(Debug)]
pub(super) struct Hypermap {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    /// Counts, row-major over (y, x, channel).
    pub data: Vec<f32>,
    /// The largest count in one channel of one pixel.
    pub max_count: f64,
    /// Pixels that hold a spectrum.
    pub pixels_stored: usize,
    /// The mapped region (x first..=last, y first..=last), where any pixel is stored.
    pub region: Option<((u32, u32), (u32, u32))>,
    /// Counts in channels at or past `channels`, not kept.
    pub dropped: f64,
}

/// Decodes a map of `channels` channels (the header's channel count).
pub(super) fn decode(
    bytes: &[u8],
    channels: usize,
    name: &str,
    limits: &ReadLimits,
) -> Result<Hypermap, FormatError> {
    let mut r = Reader {
        bytes,
        pos: 0,
        name,
    };
    let height = r.u32()? as usize;
    let width = r.u32()? as usize;
    let total = check_shape(
        "BCF",
        &format!("spectrum image '{name}'"),
        &[height, width, channels],
        false,
        limits,
    )?;
    // Every line has at least its pixel count: a short file is refused before allocating.
    let least = height.saturating_mul(4).saturating_add(LINES_AT);
    if bytes.len() < least {
        return Err(FormatError::truncated(
            "BCF",
            format!(
                "'{name}' has {} bytes, fewer than the {least} its {height} lines need",
                bytes.len()
            ),
        ));
    }
    r.pos = LINES_AT;
    let mut m = Hypermap {
        height,
        width,
        channels,
        data: vec![0.0; total],
        max_count: 0.0,
        pixels_stored: 0,
        region: None,
        dropped: 0.0,
    };
    for y in 0..height {
        let n = r.u32()? as usize;
        if n > width {
            return Err(FormatError::corrupt(
                "BCF",
                format!("line {y} of '{name}' claims {n} pixels, more than its width {width}"),
            ));
        }
        for _ in 0..n {
            let head = r.take(PIXEL_HEAD)?;
            let u16_at = |at: usize| u16::from_le_bytes([head[at], head[at + 1]]);
            let x = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            let flag = u16_at(12);
            let pulses = usize::from(u16_at(16));
            let size = u32::from_le_bytes([head[18], head[19], head[20], head[21]]) as usize;
            if x as usize >= width {
                return Err(FormatError::corrupt(
                    "BCF",
                    format!(
                        "a pixel of line {y} of '{name}' is at x = {x}, past the width {width}"
                    ),
                ));
            }
            let at = (y * width + x as usize) * channels;
            let mut px = Pixel {
                spectrum: m.data.get_mut(at..at + channels).unwrap_or(&mut []),
                max: m.max_count,
                dropped: 0.0,
            };
            let data = r.take(size)?;
            match flag {
                0 => px.pulses16(data, pulses, name)?,
                1 => px.pulses12(data, pulses, name)?,
                _ => {
                    let Some(split) = size.checked_sub(4) else {
                        return Err(FormatError::corrupt(
                            "BCF",
                            format!("a packed spectrum in '{name}' has {size} bytes, under 4"),
                        ));
                    };
                    let (packed, tail) = data.split_at(split);
                    px.instructed(packed, name)?;
                    if pulses > 0 {
                        let extra = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
                        let extra = r.take(extra as usize)?;
                        px.pulses16(extra, pulses, name)?;
                    }
                }
            }
            m.max_count = px.max;
            m.dropped += px.dropped;
            m.pixels_stored += 1;
            let (xs, ys) = m.region.map_or(((x, x), (y as u32, y as u32)), |(xs, ys)| {
                (
                    (xs.0.min(x), xs.1.max(x)),
                    (ys.0.min(y as u32), ys.1.max(y as u32)),
                )
            });
            m.region = Some((xs, ys));
        }
    }
    Ok(m)
}

/// A bounds-checked little-endian reader (the pixel loop reads a few bytes at a time).
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    name: &'a str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let s = self
            .pos
            .checked_add(n)
            .and_then(|end| self.bytes.get(self.pos..end))
            .ok_or_else(|| {
                FormatError::truncated(
                    "BCF",
                    format!(
                        "'{}' ends at byte {} inside a pixel that needs {n} bytes at {}",
                        self.name,
                        self.bytes.len(),
                        self.pos
                    ),
                )
            })?;
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, FormatError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// One pixel's spectrum being filled.
struct Pixel<'s> {
    spectrum: &'s mut [f32],
    max: f64,
    dropped: f64,
}

impl Pixel<'_> {
    fn add(&mut self, channel: usize, count: f64) {
        match self.spectrum.get_mut(channel) {
            Some(v) => {
                *v += count as f32;
                self.max = self.max.max(f64::from(*v));
            }
            None => self.dropped += count,
        }
    }

    fn pulses16(&mut self, data: &[u8], n: usize, name: &str) -> Result<(), FormatError> {
        let bytes = data
            .get(..n * 2)
            .ok_or_else(|| short(name, n, data.len(), 16))?;
        for c in bytes.chunks_exact(2) {
            self.add(usize::from(u16::from_le_bytes([c[0], c[1]])), 1.0);
        }
        Ok(())
    }

    fn pulses12(&mut self, data: &[u8], n: usize, name: &str) -> Result<(), FormatError> {
        // Bytes used by the last, possibly partial, group of four pulses.
        let need = n / 4 * 6 + [0, 2, 4, 6][n % 4];
        let bytes = data
            .get(..need)
            .ok_or_else(|| short(name, n, data.len(), 12))?;
        let b = |i: usize| usize::from(bytes.get(i).copied().unwrap_or(0));
        for i in 0..n {
            let g = i / 4 * 6;
            let channel = match i % 4 {
                0 => (b(g) >> 4) | (b(g + 1) << 4),
                1 => ((b(g) << 8) | b(g + 3)) & 0xFFF,
                2 => (b(g + 2) << 4) | (b(g + 5) >> 4),
                _ => ((b(g + 5) << 8) | b(g + 4)) & 0xFFF,
            };
            self.add(channel, 1.0);
        }
        Ok(())
    }

    fn instructed(&mut self, data: &[u8], name: &str) -> Result<(), FormatError> {
        let bad = |what: String| FormatError::corrupt("BCF", format!("'{name}': {what}"));
        let mut at = 0usize;
        let mut channel = 0usize;
        while at < data.len() {
            let (Some(&size), Some(&count)) = (data.get(at), data.get(at + 1)) else {
                return Err(bad("a packed spectrum ends inside a group head".into()));
            };
            at += 2;
            let count = usize::from(count);
            if size == 0 {
                channel += count;
                continue;
            }
            let value_bytes = match size {
                1 => count.div_ceil(2),
                2 => count,
                4 => count * 2,
                8 => count * 4,
                other => return Err(bad(format!("a packed spectrum uses value size {other}"))),
            };
            let gain = data
                .get(at..at + usize::from(size))
                .ok_or_else(|| bad("a packed spectrum ends inside a gain".into()))?;
            let gain = gain
                .iter()
                .rev()
                .fold(0u64, |g, &b| (g << 8) | u64::from(b)) as f64;
            at += usize::from(size);
            let values = data
                .get(at..at + value_bytes)
                .ok_or_else(|| bad("a packed spectrum ends inside its values".into()))?;
            at += value_bytes;
            match size {
                1 => {
                    for i in 0..count {
                        let byte = values.get(i / 2).copied().unwrap_or(0);
                        let v = if i % 2 == 0 { byte & 0x0F } else { byte >> 4 };
                        self.add(channel + i, f64::from(v) + gain);
                    }
                }
                2 => {
                    for (i, &v) in values.iter().enumerate() {
                        self.add(channel + i, f64::from(v) + gain);
                    }
                }
                4 => {
                    for (i, c) in values.chunks_exact(2).enumerate() {
                        self.add(
                            channel + i,
                            f64::from(u16::from_le_bytes([c[0], c[1]])) + gain,
                        );
                    }
                }
                _ => {
                    for (i, c) in values.chunks_exact(4).enumerate() {
                        let v = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                        self.add(channel + i, f64::from(v) + gain);
                    }
                }
            }
            channel += count;
        }
        Ok(())
    }
}

fn short(name: &str, n: usize, have: usize, bits: u32) -> FormatError {
    FormatError::corrupt(
        "BCF",
        format!("'{name}': {n} pulses of {bits} bits do not fit in the pixel's {have} bytes"),
    )
}
