//! Parsing a DM3/DM4 file into its [`Tree`]: the header, then the tag groups and data tags
//! depth first, every size checked against the bytes left before it is used.

use crate::FormatError;
use crate::bytes::{Cursor, Endian};

use super::tags::{Entry, Group, MAX_TEXT, Node, Simple, Tree, Value, decode_name, within};

/// Deepest nesting of tag groups accepted (real files nest about ten deep).
pub(super) const MAX_DEPTH: usize = 64;
/// Most tags accepted in one file (real files hold a few thousand).
pub(super) const MAX_TAGS: usize = 1 << 20;
/// Longest encoded type definition accepted, in values.
const MAX_INFO: u64 = 4096;
/// Deepest nesting of array and struct types within one data tag.
const MAX_TYPE_DEPTH: usize = 8;
/// Most fields of a struct kept as values; larger structs are kept as an offset.
const MAX_STRUCT_FIELDS: usize = 64;

impl<'a> Tree<'a> {
    /// Parses the header and the whole tag tree.
    ///
    /// Header (big-endian): version (u32, 3 or 4), root length (u32 in DM3, u64 in DM4), and
    /// the byte order of tag data (u32: 1 little-endian, 0 big-endian); then the root group.
    pub(super) fn parse(bytes: &'a [u8]) -> Result<Tree<'a>, FormatError> {
        let mut c = Cursor::new(bytes, Endian::Big, "DM");
        let version = c.u32()?;
        let (v4, format) = match version {
            3 => (false, "DM3"),
            4 => (true, "DM4"),
            v => {
                return Err(FormatError::unsupported(
                    "DM",
                    format!("version {v}"),
                    "only DM3 and DM4 are read; save the file from DigitalMicrograph as DM4",
                ));
            }
        };
        let mut c = Cursor::new(bytes, Endian::Big, format);
        c.skip(4)?;
        let declared = if v4 { c.u64()? } else { u64::from(c.u32()?) };
        let endian = match c.u32()? {
            0 => Endian::Big,
            1 => Endian::Little,
            other => {
                return Err(FormatError::corrupt(
                    format,
                    format!("byte-order flag is {other}, not 0 (big-endian) or 1 (little-endian)"),
                ));
            }
        };
        let header = c.pos() as u64;
        let mut p = Parser {
            c,
            v4,
            endian,
            tags: 0,
        };
        let root = p.group(0).map_err(|e| match e {
            FormatError::Truncated { format, detail }
                if (bytes.len() as u64) < header.saturating_add(declared) =>
            {
                FormatError::Truncated {
                    format,
                    detail: format!(
                        "the header declares {} bytes of tags, the file holds {}; {detail}",
                        declared,
                        (bytes.len() as u64).saturating_sub(header)
                    ),
                }
            }
            e => e,
        })?;
        Ok(Tree {
            root,
            bytes,
            endian,
            format,
        })
    }
}

/// An encoded type, parsed from a data tag's definition.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Simple(Simple),
    /// A string of this many bytes (type 18).
    Str(u64),
    /// A struct (type 15) of these fields.
    Struct(Vec<Ty>),
    /// An array (type 20) of this many elements.
    Array(Box<Ty>, u64),
}

impl Ty {
    /// Parses the type starting at `info[i]`; returns it and the index after it.
    ///
    /// Simple: `[code]`. String: `[18, length]`. Struct: `[15, name length, fields,
    /// (field name length, field type) × fields]`. Array: `[20, element type…, count]`.
    fn parse(info: &[u64], i: usize, depth: usize) -> Result<(Ty, usize), String> {
        if depth > MAX_TYPE_DEPTH {
            return Err(format!(
                "type definition nests deeper than {MAX_TYPE_DEPTH} levels"
            ));
        }
        let at = |k: usize| {
            info.get(k)
                .copied()
                .ok_or_else(|| format!("type definition of {} values ends early", info.len()))
        };
        let code = at(i)?;
        if let Some(s) = Simple::from_code(code) {
            return Ok((Ty::Simple(s), i + 1));
        }
        match code {
            18 => Ok((Ty::Str(at(i + 1)?), i + 2)),
            15 => {
                let fields = at(i + 2)?;
                if fields > MAX_INFO {
                    return Err(format!("struct claims {fields} fields"));
                }
                let mut out = Vec::new();
                let mut j = i + 3;
                for _ in 0..fields {
                    let (t, next) = Ty::parse(info, j + 1, depth + 1)?;
                    out.push(t);
                    j = next;
                }
                Ok((Ty::Struct(out), j))
            }
            20 => {
                let (elem, j) = Ty::parse(info, i + 1, depth + 1)?;
                Ok((Ty::Array(Box::new(elem), at(j)?), j + 1))
            }
            c => Err(format!(
                "unknown data type code {c} (known: 2-12 simple, 15 struct, 18 string, 20 array)"
            )),
        }
    }

    /// Bytes of one value of this type, `None` on overflow.
    fn size(&self) -> Option<u64> {
        match self {
            Ty::Simple(s) => Some(s.size() as u64),
            Ty::Str(n) => Some(*n),
            Ty::Struct(fields) => fields
                .iter()
                .try_fold(0u64, |acc, f| acc.checked_add(f.size()?)),
            Ty::Array(elem, count) => elem.size()?.checked_mul(*count),
        }
    }
}

struct Parser<'a> {
    /// Big-endian for the structure; tag data is decoded with `endian`.
    c: Cursor<'a>,
    v4: bool,
    endian: Endian,
    tags: usize,
}

impl Parser<'_> {
    /// A length or count of the structure: u32 in DM3, u64 in DM4, big-endian.
    fn len(&mut self) -> Result<u64, FormatError> {
        if self.v4 {
            self.c.u64()
        } else {
            self.c.u32().map(u64::from)
        }
    }

    fn corrupt(&self, detail: String) -> FormatError {
        FormatError::corrupt(if self.v4 { "DM4" } else { "DM3" }, detail)
    }

    /// A group: sorted flag (u8), open flag (u8), number of entries, the entries.
    fn group(&mut self, depth: usize) -> Result<Group, FormatError> {
        if depth > MAX_DEPTH {
            return Err(self.corrupt(format!("tag groups nest deeper than {MAX_DEPTH} levels")));
        }
        self.c.skip(2)?;
        let n = self.len()?;
        // Every entry takes at least 3 bytes (kind and name length).
        if n > (self.c.remaining() / 3) as u64 {
            return Err(self.corrupt(format!(
                "a group at offset {} claims {n} tags, more than the {} bytes left can hold",
                self.c.pos(),
                self.c.remaining()
            )));
        }
        let mut entries = Vec::with_capacity((n as usize).min(256));
        for i in 0..n as usize {
            entries.push(self.entry(depth, i)?);
        }
        Ok(Group { entries })
    }

    /// An entry: kind (u8: 20 group, 21 data), name length (u16), name, in DM4 the entry's
    /// size (u64), then the group or the data.
    fn entry(&mut self, depth: usize, index: usize) -> Result<Entry, FormatError> {
        self.tags += 1;
        if self.tags > MAX_TAGS {
            return Err(FormatError::TooLarge {
                format: if self.v4 { "DM4" } else { "DM3" },
                what: "tag tree (tags)".into(),
                found: self.tags as u64,
                limit: MAX_TAGS as u64,
            });
        }
        let kind = self.c.u8()?;
        let name_len = self.c.u16()?;
        let name = decode_name(self.c.take(name_len.into())?);
        let label = if name.is_empty() {
            format!("#{index}")
        } else {
            name.clone()
        };
        let node = (|| {
            if self.v4 {
                self.c.skip(8)?;
            }
            match kind {
                20 => Ok(Node::Group(self.group(depth + 1)?)),
                21 => Ok(Node::Data(self.data()?)),
                k => Err(self.corrupt(format!(
                    "tag kind {k} at offset {} is neither 20 (group) nor 21 (data)",
                    self.c.pos()
                ))),
            }
        })()
        .map_err(|e| within(e, &label))?;
        Ok(Entry { name, node })
    }

    /// A data tag: `%%%%`, the length of the type definition, the definition, the data.
    fn data(&mut self) -> Result<Value, FormatError> {
        let at = self.c.pos();
        if self.c.take(4)? != b"%%%%" {
            return Err(self.corrupt(format!("data tag at offset {at} lacks its %%%% marker")));
        }
        let n = self.len()?;
        let word = if self.v4 { 8 } else { 4 };
        if n == 0 || n > MAX_INFO {
            return Err(self.corrupt(format!("type definition of {n} values")));
        }
        if n * word > self.c.remaining() as u64 {
            return Err(FormatError::truncated(
                if self.v4 { "DM4" } else { "DM3" },
                format!("type definition of {n} values at offset {at} runs past the end"),
            ));
        }
        let info = (0..n).map(|_| self.len()).collect::<Result<Vec<_>, _>>()?;
        let (ty, used) = Ty::parse(&info, 0, 0).map_err(|e| self.corrupt(e))?;
        if used != info.len() {
            return Err(self.corrupt(format!(
                "type definition of {} values uses only {used}",
                info.len()
            )));
        }
        let size = ty
            .size()
            .ok_or_else(|| self.corrupt("data size overflows".into()))?;
        let offset = self.c.pos();
        let b = self.c.take(size)?;
        let endian = self.endian;
        Ok(match ty {
            Ty::Simple(s) => Value::Num(s.decode(b, endian)),
            Ty::Str(_) => Value::Text(decode_name(&b[..b.len().min(MAX_TEXT)])),
            Ty::Struct(fields) if fields.len() <= MAX_STRUCT_FIELDS => {
                let mut out = Vec::with_capacity(fields.len());
                let mut pos = 0usize;
                for f in &fields {
                    match f {
                        Ty::Simple(s) => {
                            let end = pos + s.size();
                            out.push(s.decode(b.get(pos..end).unwrap_or(&[]), endian));
                            pos = end;
                        }
                        _ => {
                            return Ok(Value::Other {
                                offset,
                                len: b.len(),
                            });
                        }
                    }
                }
                Value::Struct(out)
            }
            Ty::Array(elem, count) => match *elem {
                Ty::Simple(s) => Value::Array {
                    elem: s,
                    // The data fit in the file, so the count fits in usize.
                    count: usize::try_from(count).unwrap_or(0),
                    offset,
                },
                _ => Value::Other {
                    offset,
                    len: b.len(),
                },
            },
            Ty::Struct(_) => Value::Other {
                offset,
                len: b.len(),
            },
        })
    }
}
