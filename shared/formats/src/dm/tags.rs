//! The tag tree of a DM3/DM4 file, parsed once into memory that stays bounded: groups of
//! named entries, each a group or a data tag. Numbers, short texts and small structs are kept
//! as values; arrays (image data, dark references, the thumbnail) are kept as an offset into
//! the file's bytes, never copied.

use crate::FormatError;
use crate::bytes::Endian;

/// Most characters kept of one text; longer texts are cut.
pub(super) const MAX_TEXT: usize = 1 << 16;

/// The simple (scalar) types of the tag format. Codes 2 to 12; 11 and 12 appear in DM4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Simple {
    /// 2: `short`.
    I16,
    /// 3: `long`.
    I32,
    /// 4: `ushort`, also one UTF-16 code unit of a text.
    U16,
    /// 5: `ulong`.
    U32,
    /// 6: `float`.
    F32,
    /// 7: `double`.
    F64,
    /// 8: `boolean`, one byte.
    Bool,
    /// 9: `char`, one signed byte.
    I8,
    /// 10: `octet`, one byte.
    U8,
    /// 11: `long long`.
    I64,
    /// 12: `unsigned long long`.
    U64,
}

impl Simple {
    pub(super) fn from_code(code: u64) -> Option<Simple> {
        Some(match code {
            2 => Simple::I16,
            3 => Simple::I32,
            4 => Simple::U16,
            5 => Simple::U32,
            6 => Simple::F32,
            7 => Simple::F64,
            8 => Simple::Bool,
            9 => Simple::I8,
            10 => Simple::U8,
            11 => Simple::I64,
            12 => Simple::U64,
            _ => return None,
        })
    }

    /// Bytes of one value.
    pub(super) fn size(self) -> usize {
        match self {
            Simple::Bool | Simple::I8 | Simple::U8 => 1,
            Simple::I16 | Simple::U16 => 2,
            Simple::I32 | Simple::U32 | Simple::F32 => 4,
            Simple::F64 | Simple::I64 | Simple::U64 => 8,
        }
    }

    /// Decodes one value from `b` (exactly [`Simple::size`] bytes) in byte order `endian`.
    pub(super) fn decode(self, b: &[u8], endian: Endian) -> Num {
        macro_rules! get {
            ($t:ty, $n:expr) => {{
                let a: [u8; $n] = b.try_into().unwrap_or([0; $n]);
                match endian {
                    Endian::Little => <$t>::from_le_bytes(a),
                    Endian::Big => <$t>::from_be_bytes(a),
                }
            }};
        }
        match self {
            Simple::I16 => Num::I(get!(i16, 2).into()),
            Simple::I32 => Num::I(get!(i32, 4).into()),
            Simple::U16 => Num::U(get!(u16, 2).into()),
            Simple::U32 => Num::U(get!(u32, 4).into()),
            Simple::F32 => Num::F(get!(f32, 4).into()),
            Simple::F64 => Num::F(get!(f64, 8)),
            Simple::Bool | Simple::U8 => Num::U(b.first().copied().unwrap_or(0).into()),
            Simple::I8 => Num::I(b.first().map_or(0, |&v| v as i8).into()),
            Simple::I64 => Num::I(get!(i64, 8)),
            Simple::U64 => Num::U(get!(u64, 8)),
        }
    }
}

/// One number as stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    /// A signed integer.
    I(i64),
    /// An unsigned integer or a boolean.
    U(u64),
    /// A float.
    F(f64),
}

impl Num {
    /// The value as `f64`.
    pub(super) fn as_f64(self) -> f64 {
        match self {
            Num::I(v) => v as f64,
            Num::U(v) => v as f64,
            Num::F(v) => v,
        }
    }

    /// The value as a non-negative integer, if it is one.
    pub(super) fn as_u64(self) -> Option<u64> {
        match self {
            Num::I(v) => u64::try_from(v).ok(),
            Num::U(v) => Some(v),
            Num::F(v) if v >= 0.0 && v.fract() == 0.0 && v < 1.8e19 => Some(v as u64),
            Num::F(_) => None,
        }
    }
}

/// The value of a data tag.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// A simple type.
    Num(Num),
    /// A string (type 18), cut to [`MAX_TEXT`] bytes.
    Text(String),
    /// A struct of simple fields, e.g. a (width, height) pair.
    Struct(Vec<Num>),
    /// An array of a simple type, left in the file: `count` values from byte `offset`.
    /// Texts are arrays of `U16` (UTF-16); image data is an array of the pixel type.
    Array {
        /// The element type.
        elem: Simple,
        /// Number of elements.
        count: usize,
        /// Offset of the first element in the file.
        offset: usize,
    },
    /// Anything else (arrays of structs, strings or arrays; nested or large structs), left in
    /// the file: `len` bytes from `offset`.
    Other {
        /// Offset in the file.
        offset: usize,
        /// Length in bytes.
        len: usize,
    },
}

/// A group entry or a data entry.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// A tag group (tag kind 20).
    Group(Group),
    /// A data tag (tag kind 21).
    Data(Value),
}

/// One named entry of a group; unnamed entries (lists) have an empty name.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry {
    /// The tag's label.
    pub(super) name: String,
    /// What it holds.
    pub(super) node: Node,
}

/// A tag group: its entries in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Group {
    /// The entries, in file order.
    pub(super) entries: Vec<Entry>,
}

impl Group {
    /// The first entry called `name`.
    pub(super) fn get(&self, name: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| &e.node)
    }

    /// The group called `name`.
    pub(super) fn group(&self, name: &str) -> Option<&Group> {
        match self.get(name)? {
            Node::Group(g) => Some(g),
            Node::Data(_) => None,
        }
    }

    /// The group at `path` (names from this group down).
    pub(super) fn group_at(&self, path: &[&str]) -> Option<&Group> {
        path.iter().try_fold(self, |g, name| g.group(name))
    }

    /// The data value at `path`: groups, then the data tag's name last.
    pub(super) fn value_at(&self, path: &[&str]) -> Option<&Value> {
        let (last, groups) = path.split_last()?;
        match self.group_at(groups)?.get(last)? {
            Node::Data(v) => Some(v),
            Node::Group(_) => None,
        }
    }

    /// The entries that are groups, in file order (a list such as `ImageList`).
    pub(super) fn groups(&self) -> impl Iterator<Item = &Group> {
        self.entries.iter().filter_map(|e| match &e.node {
            Node::Group(g) => Some(g),
            Node::Data(_) => None,
        })
    }

    /// The entries that are data tags, in file order (a list such as `Dimensions`).
    pub(super) fn values(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().filter_map(|e| match &e.node {
            Node::Data(v) => Some(v),
            Node::Group(_) => None,
        })
    }
}

/// A parsed file: its tag tree and what is needed to read the values left in the file.
#[derive(Debug)]
pub(super) struct Tree<'a> {
    /// The root group.
    pub(super) root: Group,
    /// The whole file.
    pub(super) bytes: &'a [u8],
    /// Byte order of tag data (the header's flag).
    pub(super) endian: Endian,
    /// `"DM3"` or `"DM4"`.
    pub(super) format: &'static str,
}

impl<'a> Tree<'a> {
    /// A number, from a simple value.
    pub(super) fn num(&self, v: &Value) -> Option<f64> {
        match v {
            Value::Num(n) => Some(n.as_f64()),
            _ => None,
        }
    }

    /// A text: a string tag, or an array of `U16` (UTF-16, as DM writes texts) or of bytes.
    /// Cut to [`MAX_TEXT`] characters.
    pub(super) fn text(&self, v: &Value) -> Option<String> {
        match v {
            Value::Text(s) => Some(s.clone()),
            Value::Array {
                elem: Simple::U16,
                count,
                offset,
            } => {
                let n = (*count).min(MAX_TEXT);
                let b = self.bytes.get(*offset..offset.checked_add(n * 2)?)?;
                let units: Vec<u16> = b
                    .chunks_exact(2)
                    .map(|c| match self.endian {
                        Endian::Little => u16::from_le_bytes([c[0], c[1]]),
                        Endian::Big => u16::from_be_bytes([c[0], c[1]]),
                    })
                    .collect();
                Some(String::from_utf16_lossy(&units))
            }
            Value::Array {
                elem: Simple::U8 | Simple::I8,
                count,
                offset,
            } => {
                let n = (*count).min(MAX_TEXT);
                let b = self.bytes.get(*offset..offset.checked_add(n)?)?;
                Some(decode_name(b))
            }
            _ => None,
        }
    }

    /// The bytes of an array value, with its element type and count.
    pub(super) fn array(&self, v: &Value) -> Option<(Simple, usize, &'a [u8])> {
        match v {
            Value::Array {
                elem,
                count,
                offset,
            } => {
                let len = count.checked_mul(elem.size())?;
                let b = self.bytes.get(*offset..offset.checked_add(len)?)?;
                Some((*elem, *count, b))
            }
            _ => None,
        }
    }
}

/// A tag name or 8-bit text: UTF-8 where valid, else Latin-1 (as older DM writes "µ").
pub(super) fn decode_name(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b.iter().map(|&c| c as char).collect(),
    }
}

/// Puts the tag name `at` in front of the detail of a truncation or corruption error, so
/// that the message names the tag path ("in tag ImageList/#1/ImageData/Data: ...").
/// Paths deeper than 8 tags keep their first 3 and last 4 names around a "…".
pub(super) fn within(e: FormatError, at: &str) -> FormatError {
    let wrap = |detail: String| {
        let Some(rest) = detail.strip_prefix("in tag ") else {
            return format!("in tag {at}: {detail}");
        };
        let (path, msg) = rest.split_once(": ").unwrap_or((rest, ""));
        let mut names: Vec<&str> = std::iter::once(at).chain(path.split('/')).collect();
        if names.len() > 8 {
            let tail = names.split_off(names.len() - 4);
            names.truncate(3);
            names.push("…");
            names.extend(tail);
        }
        format!("in tag {}: {msg}", names.join("/"))
    };
    match e {
        FormatError::Truncated { format, detail } => FormatError::Truncated {
            format,
            detail: wrap(detail),
        },
        FormatError::Corrupt { format, detail } => FormatError::Corrupt {
            format,
            detail: wrap(detail),
        },
        e => e,
    }
}
