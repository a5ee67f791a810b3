//! [`Frame`]: one exposure, with its pixels inline or in the object store ([`Pixels`]).
//! Travels on `tessera.acq.<instrument>.frame`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    FrameId, Limits, MessageKind, ProtocolError, RunId, le::check_len, messages::impl_message,
    validate::Check,
};

/// The sample type of raw pixels. Samples are little-endian, row-major, one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    /// Unsigned 8-bit.
    U8,
    /// Unsigned 16-bit (most detectors).
    U16,
    /// Unsigned 32-bit (counting detectors).
    U32,
    /// Signed 16-bit.
    I16,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
}

impl Dtype {
    /// Bytes per sample.
    pub fn size_bytes(self) -> u64 {
        match self {
            Dtype::U8 => 1,
            Dtype::U16 | Dtype::I16 => 2,
            Dtype::U32 | Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }

    /// The wire name ("u16").
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::U8 => "u8",
            Dtype::U16 => "u16",
            Dtype::U32 => "u32",
            Dtype::I16 => "i16",
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }

    /// Raw bytes of a `width × height` frame, `None` on overflow.
    pub fn raw_len(self, width: u32, height: u32) -> Option<u64> {
        u64::from(width)
            .checked_mul(u64::from(height))?
            .checked_mul(self.size_bytes())
    }
}

/// A reference to an object in a JetStream object store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Object store bucket (a subject token, e.g. `tessera_frames`).
    pub bucket: String,
    /// Object name (see [`crate::keys`] for the names Tessera uses).
    pub name: String,
    /// Object size in bytes.
    pub size: u64,
    /// The store's digest ("SHA-256=…"), when known, to detect a replaced object.
    #[serde(default)]
    pub digest: Option<String>,
}

impl ObjectRef {
    pub(crate) fn check_in(&self, c: Check, at: &str) -> Result<(), ProtocolError> {
        c.token(&format!("{at}.bucket"), &self.bucket)?;
        c.text(&format!("{at}.name"), &self.name, 1024, false)?;
        if let Some(d) = &self.digest {
            c.text(&format!("{at}.digest"), d, 256, false)?;
        }
        Ok(())
    }
}

/// Where a frame's pixels are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pixels {
    /// In the message: raw little-endian samples, row-major, `width × height × dtype` bytes
    /// (msgpack bin). On the wire: `{"inline": <bin>}`.
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
    /// In the object store (frames over [`Limits::inline_max_bytes`]); the object holds the
    /// same raw samples. On the wire: `{"object": {bucket, name, size, digest}}`.
    Object(ObjectRef),
}

/// One exposure of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The run it belongs to (announced by a [`crate::RunStart`]).
    pub run: RunId,
    /// Sequence number within the run, from 0.
    pub seq: u64,
    /// Acquisition time, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Sample type.
    pub dtype: Dtype,
    /// Pixel size in nanometres, when calibrated.
    #[serde(default)]
    pub pixel_size_nm: Option<f64>,
    /// Electron dose (e⁻/Å² or the instrument's unit), for dose series.
    #[serde(default)]
    pub dose: Option<f64>,
    /// Other scalar readings (stage position, defocus, …), at most 256.
    #[serde(default)]
    pub scalars: BTreeMap<String, f64>,
    /// The pixels.
    pub pixels: Pixels,
}

impl Frame {
    /// The default inline ceiling, [`crate::DEFAULT_INLINE_MAX_BYTES`]: larger raw frames go
    /// through the object store.
    pub const INLINE_MAX_BYTES: u64 = crate::DEFAULT_INLINE_MAX_BYTES;

    /// This frame's id.
    pub fn id(&self) -> FrameId {
        FrameId::new(self.run.clone(), self.seq)
    }

    /// Raw pixel bytes (`width × height × dtype`), `None` on overflow.
    pub fn raw_len(&self) -> Option<u64> {
        self.dtype.raw_len(self.width, self.height)
    }

    /// The inline pixels as `f32`; an error if they are in the object store (fetch the object
    /// and call [`samples_to_f32`]) or malformed.
    pub fn inline_samples(&self) -> Result<Vec<f32>, ProtocolError> {
        match &self.pixels {
            Pixels::Inline(bytes) => samples_to_f32(self.dtype, self.width, self.height, bytes),
            Pixels::Object(o) => Err(ProtocolError::Bytes {
                what: "frame pixels",
                reason: format!(
                    "they are in object store bucket {:?} as {:?}; fetch the object and \
                     call samples_to_f32",
                    o.bucket, o.name
                ),
            }),
        }
    }

    fn check(&self, limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        for (name, v) in [("width", self.width), ("height", self.height)] {
            if v == 0 {
                return Err(c.fail(name, "is 0; a frame needs at least one pixel on each side"));
            }
        }
        let pixels = u64::from(self.width) * u64::from(self.height);
        if pixels > limits.max_frame_pixels {
            return Err(c.fail(
                "width",
                format!(
                    "{} × height {} = {pixels} pixels is over this service's limit of {}; \
                     bin or crop the frame, or raise the limit",
                    self.width, self.height, limits.max_frame_pixels
                ),
            ));
        }
        let raw = pixels.saturating_mul(self.dtype.size_bytes());
        match &self.pixels {
            Pixels::Inline(bytes) => {
                if bytes.len() as u64 != raw {
                    return Err(c.fail(
                        "pixels.inline",
                        format!(
                            "has {} bytes, but {} × {} {} samples take {raw}; send exactly \
                             width × height little-endian samples, row by row",
                            bytes.len(),
                            self.width,
                            self.height,
                            self.dtype.as_str()
                        ),
                    ));
                }
            }
            Pixels::Object(o) => {
                o.check_in(c, "pixels.object")?;
                if o.size != raw {
                    return Err(c.fail(
                        "pixels.object.size",
                        format!(
                            "is {} bytes, but {} × {} {} samples take {raw}; store the raw \
                             samples and send their size",
                            o.size,
                            self.width,
                            self.height,
                            self.dtype.as_str()
                        ),
                    ));
                }
            }
        }
        if let Some(p) = self.pixel_size_nm
            && !(p.is_finite() && p > 0.0)
        {
            return Err(c.fail(
                "pixel_size_nm",
                format!("is {p}; send a positive size or none"),
            ));
        }
        if let Some(d) = self.dose {
            c.within("dose", d, 0.0, f64::MAX)?;
        }
        c.number_map("scalars", &self.scalars)
    }
}
impl_message!(Frame, MessageKind::Frame);

/// Converts raw little-endian samples of a `width × height` frame to `f32`. The length must
/// match exactly; float samples must be finite.
pub fn samples_to_f32(
    dtype: Dtype,
    width: u32,
    height: u32,
    bytes: &[u8],
) -> Result<Vec<f32>, ProtocolError> {
    let what = "frame pixels";
    let size = dtype.size_bytes() as usize;
    check_len(
        what,
        bytes.len(),
        size,
        Some(u64::from(width) * u64::from(height)),
    )?;
    let out: Vec<f32> = match dtype {
        Dtype::U8 => bytes.iter().map(|&b| f32::from(b)).collect(),
        Dtype::U16 => bytes
            .chunks_exact(2)
            .map(|c| f32::from(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::I16 => bytes
            .chunks_exact(2)
            .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::U32 => bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
    };
    if let Some(i) = out.iter().position(|v| !v.is_finite()) {
        return Err(ProtocolError::Bytes {
            what,
            reason: format!(
                "sample {i} (x {}, y {}) is not a finite number; replace NaN or infinite \
                 samples before publishing",
                i % width.max(1) as usize,
                i / width.max(1) as usize
            ),
        });
    }
    Ok(out)
}
