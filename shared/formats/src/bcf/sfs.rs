//! AidAim's SFS ("single file system"), the container a BCF is: a file cut into chunks of
//! equal size, with a table of files whose contents are spread over chunks.
//!
//! Layout (little-endian; facts from RosettaSciIO's `rsciio/bruker/_api.py`, `SFS_reader`
//! and `SFSTreeItem`, checked against the three Bruker test files):
//! - bytes 0..8 "AAMVHFSS"; at 0x124 the version (f32: 2.4, 2.6, 2.8) and the chunk size
//!   (u32); at 0x140 the chunk holding the file table, the number of table entries and the
//!   number of chunks (u32 each).
//! - chunk `k` starts at 0x118 + k × chunk size: a 32-byte head whose first u32 is the next
//!   chunk of a chain, then chunk size − 32 bytes of payload.
//! - the file table: entries of 512 bytes, as many whole entries as fit in a chunk's
//!   payload, continued over a chain of chunks. An entry: the chunk of its pointer table
//!   (i32), its size (u64), three times (u64), permissions (u32), its parent entry (i32, −1
//!   at the root), 176 bytes, a directory flag (u8), 3 bytes, its name (256 bytes, NUL
//!   padded), 32 bytes.
//! - a file's pointer table: the u32 numbers of its data chunks, in order, as many as fit in
//!   a payload, continued over a chain of chunks.
//! - a compressed file starts "AACS", then the uncompressed block size, a u32, the number of
//!   blocks; its blocks start at 0x80: a 16-byte head whose first u32 is the compressed
//!   size, then that many bytes of zlib.
//!
//! Every chain is followed with each chunk visited at most once, every chunk number is
//! checked against the file's length, and every size against what the file can hold,
//! before anything is allocated.

use std::io::Read;

use crate::FormatError;

const MAGIC: &[u8; 8] = b"AAMVHFSS";
/// Where chunk 0 starts.
const CHUNKS_AT: u64 = 0x118;
/// The head of each chunk.
const CHUNK_HEAD: usize = 32;
const ENTRY: usize = 0x200;
/// Chunk sizes seen are 3657 to 65536; anything outside this range is not a BCF.
const MIN_CHUNK: u32 = (CHUNK_HEAD + ENTRY) as u32;
const MAX_CHUNK: u32 = 1 << 24;

/// One file (or folder) of the container.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Its path from the root, "/"-separated ("EDSDatabase/HeaderData").
    pub path: String,
    /// Its size in bytes as stored (compressed, if it is).
    pub size: u64,
    is_dir: bool,
    table_chunk: i32,
}

/// An opened SFS container over the file's bytes.
#[derive(Debug)]
pub(super) struct Sfs<'a> {
    bytes: &'a [u8],
    chunk_size: usize,
    n_chunks: u32,
    /// The container's version ("2.60").
    pub version: String,
    /// Its files and folders, in table order; entries that do not hang from the root are
    /// left out.
    pub entries: Vec<Entry>,
}

impl<'a> Sfs<'a> {
    /// Reads the container's head and its file table.
    pub(super) fn open(bytes: &'a [u8]) -> Result<Sfs<'a>, FormatError> {
        if !bytes.starts_with(MAGIC) {
            return Err(FormatError::corrupt(
                "BCF",
                "no AAMVHFSS signature at byte 0",
            ));
        }
        let u32_at = |at: usize| -> Result<u32, FormatError> {
            bytes
                .get(at..at + 4)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_le_bytes)
                .ok_or_else(|| {
                    FormatError::truncated(
                        "BCF",
                        format!("the container head ends before byte {at}"),
                    )
                })
        };
        let version = f32::from_bits(u32_at(0x124)?);
        let chunk_size = u32_at(0x128)?;
        let table_chunk = u32_at(0x140)?;
        let n_entries = u32_at(0x144)?;
        let n_chunks = u32_at(0x148)?;
        if !(MIN_CHUNK..=MAX_CHUNK).contains(&chunk_size) {
            return Err(FormatError::corrupt(
                "BCF",
                format!("container chunk size {chunk_size} is outside {MIN_CHUNK}..={MAX_CHUNK}"),
            ));
        }
        let need = CHUNKS_AT + u64::from(chunk_size) * u64::from(n_chunks);
        if (bytes.len() as u64) < need {
            return Err(FormatError::truncated(
                "BCF",
                format!(
                    "the container declares {n_chunks} chunks of {chunk_size} bytes ({need} bytes \
                     in all), the file has {}",
                    bytes.len()
                ),
            ));
        }
        let mut sfs = Sfs {
            bytes,
            chunk_size: chunk_size as usize,
            n_chunks,
            version: format!("{version:.2}"),
            entries: Vec::new(),
        };
        let per_chunk = sfs.payload() / ENTRY;
        let table_chunks = (n_entries as usize).div_ceil(per_chunk);
        if table_chunks > n_chunks as usize {
            return Err(FormatError::corrupt(
                "BCF",
                format!(
                    "the file table claims {n_entries} entries, more than {n_chunks} chunks hold"
                ),
            ));
        }
        let mut raw: Vec<&[u8]> = Vec::with_capacity(n_entries as usize);
        for payload in sfs.chain(table_chunk, table_chunks, "the file table")? {
            for e in payload.chunks_exact(ENTRY).take(per_chunk) {
                if raw.len() < n_entries as usize {
                    raw.push(e);
                }
            }
        }
        sfs.entries = entries(&raw);
        Ok(sfs)
    }

    /// The entry at `path`, if the container has that file.
    pub(super) fn find(&self, path: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| !e.is_dir && e.path == path)
    }

    /// The files (not folders) of the container.
    pub(super) fn files(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| !e.is_dir)
    }

    /// The contents of `entry`, decompressed if the file is, refusing more than `cap`
    /// bytes after decompression.
    pub(super) fn read(&self, entry: &Entry, cap: u64) -> Result<Vec<u8>, FormatError> {
        let payload = self.payload() as u64;
        let capacity = u64::from(self.n_chunks) * payload;
        if entry.size > capacity {
            return Err(FormatError::corrupt(
                "BCF",
                format!(
                    "'{}' claims {} bytes, more than the container's {capacity}",
                    entry.path, entry.size
                ),
            ));
        }
        let n_data = entry.size.div_ceil(payload) as usize;
        let per_table_chunk = self.payload() / 4;
        let table_chunks = n_data.div_ceil(per_table_chunk);
        let first = u32::try_from(entry.table_chunk).map_err(|_| {
            FormatError::corrupt("BCF", format!("'{}' has no pointer table", entry.path))
        })?;
        let what = format!("the pointer table of '{}'", entry.path);
        let mut pointers: Vec<u32> = Vec::with_capacity(n_data);
        for t in self.chain(first, table_chunks, &what)? {
            for p in t.chunks_exact(4).take(per_table_chunk) {
                if pointers.len() < n_data {
                    pointers.push(u32::from_le_bytes([p[0], p[1], p[2], p[3]]));
                }
            }
        }
        let mut data = Vec::with_capacity(entry.size as usize);
        for &k in &pointers {
            let chunk = self.payload_of(k, &entry.path)?;
            let left = entry.size as usize - data.len();
            data.extend_from_slice(chunk.get(..left.min(chunk.len())).unwrap_or(chunk));
        }
        if data.starts_with(b"AACS") {
            inflate(&data, &entry.path, cap)
        } else if data.len() as u64 > cap {
            Err(too_large(&entry.path, data.len() as u64, cap))
        } else {
            Ok(data)
        }
    }

    fn payload(&self) -> usize {
        self.chunk_size - CHUNK_HEAD
    }

    /// The head's "next" field and the payload of chunk `k`.
    fn chunk(&self, k: u32, what: &str) -> Result<(u32, &'a [u8]), FormatError> {
        if k >= self.n_chunks {
            return Err(FormatError::corrupt(
                "BCF",
                format!(
                    "{what} points to chunk {k}, past the last ({})",
                    self.n_chunks
                ),
            ));
        }
        let start = CHUNKS_AT as usize + k as usize * self.chunk_size;
        let c = self
            .bytes
            .get(start..start + self.chunk_size)
            .ok_or_else(|| FormatError::truncated("BCF", format!("chunk {k} of {what}")))?;
        let next = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        Ok((next, c.get(CHUNK_HEAD..).unwrap_or(&[])))
    }

    fn payload_of(&self, k: u32, path: &str) -> Result<&'a [u8], FormatError> {
        Ok(self.chunk(k, &format!("'{path}'"))?.1)
    }

    /// The payloads of `n` chunks chained from `first`, each visited once.
    fn chain(&self, first: u32, n: usize, what: &str) -> Result<Vec<&'a [u8]>, FormatError> {
        let mut seen = vec![false; self.n_chunks as usize];
        let mut out = Vec::with_capacity(n.min(self.n_chunks as usize));
        let mut k = first;
        for _ in 0..n {
            let (next, payload) = self.chunk(k, what)?;
            let slot = seen.get_mut(k as usize);
            match slot {
                Some(s) if !*s => *s = true,
                _ => {
                    return Err(FormatError::corrupt(
                        "BCF",
                        format!("{what} loops back to chunk {k}"),
                    ));
                }
            }
            out.push(payload);
            k = next;
        }
        Ok(out)
    }
}

/// The table's entries with their paths; entries whose parent chain does not reach the
/// root (unused slots hold junk), or that have no name, are left out.
fn entries(raw: &[&[u8]]) -> Vec<Entry> {
    struct Raw {
        table_chunk: i32,
        size: u64,
        parent: i32,
        is_dir: bool,
        name: String,
    }
    let i32_at = |e: &[u8], at: usize| {
        e.get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .map_or(-1, i32::from_le_bytes)
    };
    let parsed: Vec<Raw> = raw
        .iter()
        .map(|e| {
            let name = e.get(224..480).unwrap_or(&[]);
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            Raw {
                table_chunk: i32_at(e, 0),
                size: e
                    .get(4..12)
                    .and_then(|s| s.try_into().ok())
                    .map_or(0, u64::from_le_bytes),
                parent: i32_at(e, 40),
                is_dir: e.get(220).is_some_and(|&b| b != 0),
                name: String::from_utf8_lossy(name.get(..end).unwrap_or(&[])).into_owned(),
            }
        })
        .collect();
    let mut out = Vec::new();
    'items: for (i, item) in parsed.iter().enumerate() {
        if item.name.is_empty() {
            continue;
        }
        let mut parts = vec![item.name.as_str()];
        let mut parent = item.parent;
        // At most one step per entry: a longer walk is a loop.
        for _ in 0..parsed.len() {
            if parent == -1 {
                parts.reverse();
                out.push(Entry {
                    path: parts.join("/"),
                    size: item.size,
                    is_dir: item.is_dir,
                    table_chunk: item.table_chunk,
                });
                continue 'items;
            }
            match usize::try_from(parent).ok().and_then(|p| parsed.get(p)) {
                Some(p) if p.is_dir && !p.name.is_empty() && parent as usize != i => {
                    parts.push(p.name.as_str());
                    parent = p.parent;
                }
                _ => continue 'items,
            }
        }
    }
    out
}

/// Decompresses an "AACS" file: zlib blocks after a 0x80-byte head.
fn inflate(data: &[u8], path: &str, cap: u64) -> Result<Vec<u8>, FormatError> {
    let u32_at = |at: usize| {
        data.get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| {
                FormatError::truncated("BCF", format!("the compression head of '{path}'"))
            })
    };
    let block_size = u64::from(u32_at(4)?);
    let n_blocks = u64::from(u32_at(12)?);
    let total = block_size.saturating_mul(n_blocks);
    if total > cap {
        return Err(too_large(path, total, cap));
    }
    let mut out = Vec::new();
    let mut at = 0x80usize;
    for b in 0..n_blocks {
        let csize = u32_at(at)? as usize;
        let block = data
            .get(at + 16..)
            .and_then(|d| d.get(..csize))
            .ok_or_else(|| {
                FormatError::truncated(
                    "BCF",
                    format!("compressed block {b} of '{path}' ({csize} bytes) runs past its end"),
                )
            })?;
        let before = out.len();
        flate2::read::ZlibDecoder::new(block)
            .take(block_size.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| {
                FormatError::corrupt(
                    "BCF",
                    format!("block {b} of '{path}' does not inflate: {e}"),
                )
            })?;
        if (out.len() - before) as u64 > block_size {
            return Err(FormatError::corrupt(
                "BCF",
                format!("block {b} of '{path}' inflates past the block size {block_size}"),
            ));
        }
        at += 16 + csize;
    }
    Ok(out)
}

fn too_large(path: &str, found: u64, limit: u64) -> FormatError {
    FormatError::TooLarge {
        format: "BCF",
        what: format!("'{path}' (bytes)"),
        found,
        limit,
    }
}
