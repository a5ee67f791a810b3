//! Decoding of Velox's EDS spectrum stream, the packed event list under
//! `/Data/SpectrumStream/<uuid>/Data`, into a spectrum image `[y, x, channel]` summed over
//! frames.
//!
//! Layout (from Thermo Fisher's description quoted in RosettaSciIO's `_emd_velox.py`, and
//! its `_fei_stream_readers.py`): the stream is a sequence of unsigned integers (`uint16`,
//! `StreamEncoding` in the stream's `AcquisitionSettings` JSON). The value 65535 is a "gate
//! pulse": move on to the next pixel. Any other value is one X-ray count in that energy
//! channel for the current pixel. Pixels run in raster order over the scanned area (`x`
//! fastest), and after the last pixel of a frame the next frame starts again at pixel 0, so
//! the k-th count after the m-th marker belongs to pixel `m mod (ny·nx)` of frame
//! `m div (ny·nx)`. The stream need not end with a marker. The number of channels is
//! `bincount` in `AcquisitionSettings`.

/// The gate-pulse value that moves the stream on to the next pixel.
pub(super) const NEXT_PIXEL: u32 = 65535;

/// What one stream held, for notes and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct StreamCounts {
    /// X-ray counts added.
    pub(super) counts: u64,
    /// Pixel markers seen.
    pub(super) markers: u64,
    /// Frames that received counts: the frame of the last count, plus one.
    pub(super) frames_with_counts: u64,
}

impl StreamCounts {
    /// Frames the stream spans: those its markers complete or start, and any frame that
    /// received counts after the last marker.
    pub(super) fn frames(&self, pixels: usize) -> u64 {
        if pixels == 0 {
            0
        } else {
            self.markers
                .div_ceil(pixels as u64)
                .max(self.frames_with_counts)
        }
    }
}

/// A value in the stream that is neither a marker nor a channel below `channels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BadChannel {
    /// Index of the value in the stream.
    pub(super) at: usize,
    /// The value.
    pub(super) value: u32,
}

/// Adds the counts of `stream` into `cube`, a `[ny·nx, channels]` spectrum image (row-major,
/// `pixels = ny·nx` spectra of `channels` values), summing frames. Fails on the first value
/// that is not a marker and not a valid channel; `cube` then holds the counts before it.
pub(super) fn accumulate(
    stream: impl IntoIterator<Item = u32>,
    pixels: usize,
    channels: usize,
    cube: &mut [f32],
) -> Result<StreamCounts, BadChannel> {
    let mut seen = StreamCounts::default();
    let mut pixel = 0usize;
    for (at, value) in stream.into_iter().enumerate() {
        if value == NEXT_PIXEL {
            seen.markers += 1;
            pixel += 1;
            if pixel >= pixels {
                pixel = 0;
            }
            continue;
        }
        let channel = value as usize;
        if channel >= channels {
            return Err(BadChannel { at, value });
        }
        let slot = pixel
            .checked_mul(channels)
            .and_then(|p| p.checked_add(channel))
            .and_then(|i| cube.get_mut(i));
        match slot {
            Some(v) => *v += 1.0,
            None => return Err(BadChannel { at, value }),
        }
        seen.counts += 1;
        if let Some(p) = u64::try_from(pixels).ok().filter(|&p| p > 0) {
            seen.frames_with_counts = seen.markers / p + 1;
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_go_to_the_pixel_after_each_marker_and_frames_wrap() {
        // 2 pixels, 4 channels. Frame 0: pixel 0 gets channel 1; marker; pixel 1 gets
        // channels 2, 2; marker → frame 1, pixel 0 gets channel 3; marker; pixel 1 empty.
        let s = [1, NEXT_PIXEL, 2, 2, NEXT_PIXEL, 3, NEXT_PIXEL];
        let mut cube = vec![0f32; 8];
        let seen = accumulate(s, 2, 4, &mut cube).unwrap();
        assert_eq!(cube, [0., 1., 0., 1., 0., 0., 2., 0.]);
        assert_eq!(seen.counts, 4);
        assert_eq!(seen.markers, 3);
        assert_eq!(seen.frames(2), 2);
        // Counts after the last marker open a new frame.
        let mut cube = vec![0f32; 8];
        let seen = accumulate([NEXT_PIXEL, NEXT_PIXEL, 1], 2, 4, &mut cube).unwrap();
        assert_eq!(seen.frames(2), 2);
    }

    #[test]
    fn a_leading_marker_leaves_pixel_zero_empty() {
        let mut cube = vec![0f32; 4];
        accumulate([NEXT_PIXEL, 0, 1], 2, 2, &mut cube).unwrap();
        assert_eq!(cube, [0., 0., 1., 1.]);
    }

    #[test]
    fn a_channel_beyond_the_spectrum_is_refused() {
        let mut cube = vec![0f32; 4];
        let e = accumulate([0, 7], 2, 2, &mut cube).unwrap_err();
        assert_eq!(e, BadChannel { at: 1, value: 7 });
        // A cube too small for the pixels is refused too, not indexed past its end.
        let mut small = vec![0f32; 1];
        assert!(accumulate([NEXT_PIXEL, 0], 2, 2, &mut small).is_err());
    }
}
