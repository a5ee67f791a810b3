//! [`Limits`]: the sizes a service accepts, chosen by the caller.

/// Default largest payload accepted: 8 MiB, the `max_msg_size` of the ACQ and WORK streams.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 8 * 1024 * 1024;

/// Default largest frame: 8192 × 8192 pixels.
pub const DEFAULT_MAX_FRAME_PIXELS: u64 = 8192 * 8192;

/// Default largest raw pixel buffer sent inline in a [`crate::Frame`]: 960 KiB. Anything
/// larger goes through the object store. It leaves 64 KiB of a 1 MiB NATS payload (the
/// server's default `max_payload`) for the rest of the message and the headers.
pub const DEFAULT_INLINE_MAX_BYTES: u64 = 960 * 1024;

/// What a decoder accepts. [`Limits::default`] suits a server started with
/// `max_payload: 8MB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest encoded message, in bytes; larger payloads are refused before decoding.
    pub max_payload_bytes: usize,
    /// Largest frame, in pixels (`width × height`).
    pub max_frame_pixels: u64,
    /// Largest raw pixel buffer a publisher should send inline; see [`Limits::pixels_inline`].
    pub inline_max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            max_frame_pixels: DEFAULT_MAX_FRAME_PIXELS,
            inline_max_bytes: DEFAULT_INLINE_MAX_BYTES,
        }
    }
}

impl Limits {
    /// Whether a frame of `raw_bytes` raw pixel bytes travels inline (`true`) or through the
    /// object store (`false`).
    pub fn pixels_inline(&self, raw_bytes: u64) -> bool {
        raw_bytes <= self.inline_max_bytes
    }
}
