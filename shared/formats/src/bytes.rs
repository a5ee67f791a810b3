//! A bounds-checked cursor over the bytes of a file, and conversion of stored samples to
//! `f32`. Every read that would pass the end is a [`FormatError::Truncated`], never a panic.

use crate::{DType, FormatError};

/// Byte order of multi-byte values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

/// A cursor over `buf` that reads integers and floats in a given byte order.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Byte order of the values read with the unsuffixed methods.
    pub endian: Endian,
    format: &'static str,
}

macro_rules! read_num {
    ($name:ident, $t:ty, $n:expr) => {
        #[doc = concat!("Reads one `", stringify!($t), "` in the cursor's byte order.")]
        pub fn $name(&mut self) -> Result<$t, FormatError> {
            let b: [u8; $n] = self.array()?;
            Ok(match self.endian {
                Endian::Little => <$t>::from_le_bytes(b),
                Endian::Big => <$t>::from_be_bytes(b),
            })
        }
    };
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`; `format` names the format in error messages.
    pub fn new(buf: &'a [u8], endian: Endian, format: &'static str) -> Cursor<'a> {
        Cursor {
            buf,
            pos: 0,
            endian,
            format,
        }
    }

    /// The current offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the current offset.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The whole buffer.
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// Moves to absolute offset `pos` (which may be the end, not past it).
    pub fn seek(&mut self, pos: u64) -> Result<(), FormatError> {
        match usize::try_from(pos) {
            Ok(p) if p <= self.buf.len() => {
                self.pos = p;
                Ok(())
            }
            _ => Err(FormatError::truncated(
                self.format,
                format!(
                    "offset {pos} lies beyond the end of the {}-byte file",
                    self.buf.len()
                ),
            )),
        }
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: u64) -> Result<(), FormatError> {
        self.take(n).map(|_| ())
    }

    /// The next `n` bytes, advancing past them.
    pub fn take(&mut self, n: u64) -> Result<&'a [u8], FormatError> {
        let n_usize = usize::try_from(n).unwrap_or(usize::MAX);
        if n_usize > self.remaining() {
            return Err(FormatError::truncated(
                self.format,
                format!(
                    "{n} bytes wanted at offset {}, only {} left",
                    self.pos,
                    self.remaining()
                ),
            ));
        }
        let s = &self.buf[self.pos..self.pos + n_usize];
        self.pos += n_usize;
        Ok(s)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let s = self.take(N as u64)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads one signed byte.
    pub fn i8(&mut self) -> Result<i8, FormatError> {
        Ok(self.array::<1>()?[0] as i8)
    }

    read_num!(u16, u16, 2);
    read_num!(i16, i16, 2);
    read_num!(u32, u32, 4);
    read_num!(i32, i32, 4);
    read_num!(u64, u64, 8);
    read_num!(i64, i64, 8);
    read_num!(f32, f32, 4);
    read_num!(f64, f64, 8);
}

/// Bytes per stored sample of `dtype`.
pub fn sample_size(dtype: DType) -> usize {
    match dtype {
        DType::Bool | DType::U8 | DType::I8 => 1,
        DType::U16 | DType::I16 | DType::F16 => 2,
        DType::U32 | DType::I32 | DType::F32 | DType::Rgb8 => 4,
        DType::U64 | DType::I64 | DType::F64 | DType::Complex64 => 8,
        DType::Complex128 => 16,
    }
}

/// Converts `count` samples of `dtype` stored in `bytes` (in `endian` order) to `f32`.
/// Complex values become their modulus; `Rgb8` (4 bytes R, G, B, A) Rec. 709 luminance.
/// Fails with [`FormatError::Truncated`] when `bytes` holds fewer than `count` samples.
pub fn samples_to_f32(
    bytes: &[u8],
    dtype: DType,
    endian: Endian,
    count: usize,
    format: &'static str,
) -> Result<Vec<f32>, FormatError> {
    let size = sample_size(dtype);
    let need = count.checked_mul(size).ok_or_else(|| {
        FormatError::corrupt(
            format,
            format!("{count} samples overflow the address space"),
        )
    })?;
    if bytes.len() < need {
        return Err(FormatError::truncated(
            format,
            format!(
                "{count} {} samples need {need} bytes, only {} present",
                dtype.name(),
                bytes.len()
            ),
        ));
    }
    let b = &bytes[..need];
    let le = endian == Endian::Little;
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            b.chunks_exact($n)
                .map(|c| {
                    let a: [u8; $n] = c.try_into().unwrap_or([0; $n]);
                    (if le {
                        <$t>::from_le_bytes(a)
                    } else {
                        <$t>::from_be_bytes(a)
                    }) as f32
                })
                .collect()
        };
    }
    Ok(match dtype {
        DType::Bool | DType::U8 => b.iter().map(|&v| v as f32).collect(),
        DType::I8 => b.iter().map(|&v| v as i8 as f32).collect(),
        DType::U16 => conv!(u16, 2),
        DType::I16 => conv!(i16, 2),
        DType::U32 => conv!(u32, 4),
        DType::I32 => conv!(i32, 4),
        DType::U64 => conv!(u64, 8),
        DType::I64 => conv!(i64, 8),
        DType::F32 => conv!(f32, 4),
        DType::F64 => conv!(f64, 8),
        DType::F16 => b
            .chunks_exact(2)
            .map(|c| {
                let v = if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                };
                f16_to_f32(v)
            })
            .collect(),
        DType::Complex64 => {
            let parts: Vec<f32> = conv!(f32, 4);
            parts.chunks_exact(2).map(|p| p[0].hypot(p[1])).collect()
        }
        DType::Complex128 => {
            let parts: Vec<f32> = conv!(f64, 8);
            parts.chunks_exact(2).map(|p| p[0].hypot(p[1])).collect()
        }
        DType::Rgb8 => b
            .chunks_exact(4)
            .map(|p| {
                let [r, g, bl] = tessera_imaging::LUMA_709;
                r * p[0] as f32 + g * p[1] as f32 + bl * p[2] as f32
            })
            .collect(),
    })
}

/// IEEE 754 half precision to `f32`.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 if frac == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_reads_both_byte_orders_and_stops_at_the_end() {
        let b = [1u8, 0, 0, 2];
        let mut c = Cursor::new(&b, Endian::Little, "T");
        assert_eq!(c.u16().unwrap(), 1);
        c.endian = Endian::Big;
        assert_eq!(c.u16().unwrap(), 2);
        assert!(matches!(c.u8(), Err(FormatError::Truncated { .. })));
        assert!(c.seek(5).is_err());
        assert!(c.seek(4).is_ok());
    }

    #[test]
    fn samples_convert_and_short_data_is_truncated() {
        let b = [0x00, 0x3c, 0x00, 0xc0]; // f16 1.0, -2.0
        let v = samples_to_f32(&b, DType::F16, Endian::Little, 2, "T").unwrap();
        assert_eq!(v, [1.0, -2.0]);
        let v = samples_to_f32(&[0xff, 0xff], DType::I16, Endian::Big, 1, "T").unwrap();
        assert_eq!(v, [-1.0]);
        assert!(samples_to_f32(&b, DType::U32, Endian::Little, 2, "T").is_err());
    }
}
