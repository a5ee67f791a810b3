//! The text inside a BCF header: its Windows-1252 encoding, the base64 that carries image
//! planes, and numbers as Esprit writes them ("2E4", "1.0001E-2", and "0,9664" where
//! Windows' locale uses a decimal comma, as RosettaSciIO's `sanitize_msxml_float` notes).

use crate::FormatError;

/// The characters Windows-1252 puts at 0x80..=0x9F (undefined bytes map to U+FFFD);
/// 0xA0..=0xFF are the same as Latin-1.
const CP1252_HIGH: [char; 32] = [
    '€', '\u{FFFD}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{FFFD}', 'Ž',
    '\u{FFFD}', '\u{FFFD}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{FFFD}',
    'ž', 'Ÿ',
];

/// The header's bytes as a `String`: UTF-8 when its XML declaration says so, else
/// Windows-1252 (what Esprit declares). ASCII-only input is taken over without copying.
pub(super) fn decode_xml(bytes: Vec<u8>) -> Result<String, FormatError> {
    let head = &bytes[..bytes.len().min(200)];
    let declared_utf8 = String::from_utf8_lossy(head)
        .to_ascii_lowercase()
        .contains("encoding=\"utf-8\"");
    if declared_utf8 || bytes.is_ascii() {
        return String::from_utf8(bytes).map_err(|e| {
            FormatError::corrupt("BCF", format!("the header declares UTF-8 but is not: {e}"))
        });
    }
    // Mostly ASCII (base64 image planes): copy ASCII runs whole, map the other bytes.
    let mut out = String::with_capacity(bytes.len().saturating_add(64));
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let (ascii, tail) = rest.split_at(ascii_prefix(rest));
        out.push_str(std::str::from_utf8(ascii).unwrap_or(""));
        match tail.split_first() {
            Some((&b, after)) => {
                out.push(cp1252(b));
                rest = after;
            }
            None => rest = tail,
        }
    }
    Ok(out)
}

/// The length of the ASCII run `s` starts with (checked 64 bytes at a time).
fn ascii_prefix(s: &[u8]) -> usize {
    let mut n = 0;
    for block in s.chunks(64) {
        if block.is_ascii() {
            n += block.len();
        } else {
            return n + block.iter().position(|&b| b >= 0x80).unwrap_or(block.len());
        }
    }
    n
}

fn cp1252(b: u8) -> char {
    match b {
        0x80..=0x9F => CP1252_HIGH
            .get(usize::from(b - 0x80))
            .copied()
            .unwrap_or('\u{FFFD}'),
        _ => char::from(b),
    }
}

/// 0..=63 for a base64 letter, `SKIP` for whitespace, `BAD` for anything else.
const BAD: u8 = 0xFF;
const SKIP: u8 = 0xFE;
const B64: [u8; 256] = {
    let mut t = [BAD; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b' ' as usize] = SKIP;
    t[b'\t' as usize] = SKIP;
    t[b'\r' as usize] = SKIP;
    t[b'\n' as usize] = SKIP;
    t
};

/// A base64 decoder (standard alphabet, `=` padding optional, whitespace ignored) that
/// can be fed its input in pieces. Its output is never longer than three quarters of its
/// input, so it needs no separate bound.
#[derive(Debug, Default)]
pub(super) struct Base64 {
    acc: u32,
    bits: u32,
    padded: bool,
}

impl Base64 {
    /// Decodes `src`, appending to `out`; on a byte outside the alphabet, returns it.
    pub(super) fn feed(&mut self, src: &[u8], out: &mut Vec<u8>) -> Result<(), u8> {
        out.reserve(src.len() / 4 * 3 + 3);
        let mut i = 0;
        while i < src.len() {
            // Fast path, at a group boundary: whole groups of four letters.
            if self.bits == 0 && !self.padded {
                while let Some(g) = src.get(i..i + 4) {
                    let (a, b, c, d) = (
                        B64[usize::from(g[0])],
                        B64[usize::from(g[1])],
                        B64[usize::from(g[2])],
                        B64[usize::from(g[3])],
                    );
                    if (a | b | c | d) >= 64 {
                        break;
                    }
                    let v = (u32::from(a) << 18)
                        | (u32::from(b) << 12)
                        | (u32::from(c) << 6)
                        | u32::from(d);
                    out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
                    i += 4;
                }
            }
            // Slow path: one byte (whitespace, padding, a group cut by either).
            let Some(&ch) = src.get(i) else {
                break;
            };
            i += 1;
            let v = B64[usize::from(ch)];
            if v == SKIP {
                continue;
            }
            if ch == b'=' {
                self.padded = true;
                continue;
            }
            if v == BAD || self.padded {
                return Err(ch);
            }
            self.acc = (self.acc << 6) | u32::from(v);
            self.bits += 6;
            if self.bits >= 8 {
                self.bits -= 8;
                out.push((self.acc >> self.bits) as u8);
                self.acc &= (1 << self.bits) - 1;
            }
        }
        Ok(())
    }
}

/// Decodes all of `src` (see [`Base64`]); `what` names it in the error.
#[cfg(test)]
pub(super) fn base64(src: &[u8], what: &str) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    Base64::default()
        .feed(src, &mut out)
        .map_err(|ch| not_base64(what, ch))?;
    Ok(out)
}

/// The error for a byte outside the base64 alphabet.
pub(super) fn not_base64(what: &str, ch: u8) -> FormatError {
    FormatError::corrupt(
        "BCF",
        format!("{what} is not valid base64 (byte 0x{ch:02x})"),
    )
}

/// A number as Esprit writes it: trimmed, with a single decimal comma taken as a point.
/// `None` when it is not a finite number.
pub(super) fn number(text: &str) -> Option<f64> {
    let t = text.trim();
    let v: f64 = if t.contains(',') && !t.contains('.') && t.matches(',').count() == 1 {
        t.replacen(',', ".", 1).parse().ok()?
    } else {
        t.parse().ok()?
    };
    v.is_finite().then_some(v)
}

/// A non-negative whole number (a size or a count); `None` otherwise.
pub(super) fn whole(text: &str) -> Option<u64> {
    let t = text.trim();
    t.parse::<u64>().ok().or_else(|| {
        let v = number(t)?;
        (v >= 0.0 && v.fract() == 0.0 && v < 1.8e19).then_some(v as u64)
    })
}

/// Esprit's date ("9.8.2016", day first) and time ("14:48:9") as ISO 8601
/// ("2016-08-09T14:48:09"); `None` when they do not parse.
pub(super) fn iso_date_time(date: &str, time: &str) -> Option<String> {
    let d: Vec<u32> = date
        .trim()
        .split('.')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    let t: Vec<u32> = time
        .trim()
        .split(':')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    match (d.as_slice(), t.as_slice()) {
        ([day, month, year], [h, m, s])
            if (1..=31).contains(day)
                && (1..=12).contains(month)
                && *h < 24
                && *m < 60
                && *s < 61 =>
        {
            Some(format!(
                "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}"
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_padding_whitespace_and_refuses_garbage() {
        assert_eq!(base64(b"TWFu", "t").unwrap(), b"Man");
        assert_eq!(base64(b"TWE=", "t").unwrap(), b"Ma");
        assert_eq!(base64(b"TQ==", "t").unwrap(), b"M");
        assert_eq!(base64(b"TW Fu\nTW E=", "t").unwrap(), b"ManMa");
        assert_eq!(base64(b"TWFuTWFu TWFuTWE=", "t").unwrap(), b"ManManManMa");
        assert_eq!(base64(b"", "t").unwrap(), b"");
        assert!(base64(b"TW*u", "t").is_err());
        assert!(base64(b"TQ==TQ", "t").is_err());
        // Fed in pieces that cut groups: the same bytes.
        let text = b"TWFu TWFu\nTWFuTWE=";
        for step in 1..8 {
            let (mut dec, mut out) = (Base64::default(), Vec::new());
            for piece in text.chunks(step) {
                dec.feed(piece, &mut out).unwrap();
            }
            assert_eq!(out, b"ManManManMa", "pieces of {step}");
        }
    }

    #[test]
    fn numbers_take_exponents_and_decimal_commas() {
        assert_eq!(number("2E4"), Some(20000.0));
        assert_eq!(number(" 1.0001E-2 "), Some(0.010001));
        assert_eq!(number("0,966497572879044"), Some(0.966497572879044));
        assert_eq!(number("1,2,3"), None);
        assert_eq!(number("NaN"), None);
        assert_eq!(whole("2048"), Some(2048));
        assert_eq!(whole("2E1"), Some(20));
        assert_eq!(whole("-1"), None);
    }

    #[test]
    fn windows_1252_and_dates() {
        let s = decode_xml(b"<a>\xb5m \x80</a>".to_vec()).unwrap();
        assert_eq!(s, "<a>µm €</a>");
        assert_eq!(
            iso_date_time("9.8.2016", "14:48:9").as_deref(),
            Some("2016-08-09T14:48:09")
        );
        assert_eq!(iso_date_time("2016-08-09", "14:48:09"), None);
    }
}
