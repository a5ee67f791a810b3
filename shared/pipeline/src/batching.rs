//! A prepared frame to [`ChipBatch`]es, each small enough for the server's payload limit.

use tessera_imaging::ChipGrid;
use tessera_protocol::{
    ChipBatch, FrameMeta, GridWire, PROTOCOL_VERSION, RunId, WireParams, f32s_to_le_bytes,
};

/// Bytes of a chip batch that are not chips: the metadata, parameters and msgpack framing,
/// with a wide margin, plus headers.
pub const BATCH_OVERHEAD_BYTES: usize = 16 * 1024;

/// Chips per batch: at most `wanted`, and few enough that a batch of `chip × chip` `f32`
/// chips fits in `max_payload` bytes. At least 1.
pub fn batch_chips_for_payload(wanted: u32, chip: u32, max_payload: usize) -> u32 {
    let chip_bytes = (chip as usize).pow(2) * 4;
    let fit = max_payload.saturating_sub(BATCH_OVERHEAD_BYTES) / chip_bytes.max(1);
    wanted.min(u32::try_from(fit).unwrap_or(u32::MAX)).max(1)
}

/// What every batch of one frame shares.
#[derive(Debug, Clone)]
pub struct FrameWork<'a> {
    /// The run.
    pub run: &'a RunId,
    /// The frame's sequence number.
    pub seq: u64,
    /// Metadata passed on to the clusterer.
    pub meta: &'a FrameMeta,
    /// Resolved parameters.
    pub params: &'a WireParams,
    /// The model that is to embed the chips.
    pub model: &'a str,
}

/// Splits `chips` (`grid.len() × chip × chip` values, grid order) into batches of at most
/// `per_batch` consecutive chips.
pub fn chip_batches(
    work: &FrameWork<'_>,
    grid: &ChipGrid,
    chips: &[f32],
    per_batch: u32,
) -> Vec<ChipBatch> {
    let chip_len = grid.chip() * grid.chip();
    let total = grid.len();
    let per = (per_batch.max(1)) as usize;
    let batches = total.div_ceil(per);
    let wire_grid = GridWire {
        width: grid.width() as u32,
        height: grid.height() as u32,
        chip: grid.chip() as u32,
        stride: grid.stride() as u32,
    };
    (0..batches)
        .map(|b| {
            let first = b * per;
            let n = per.min(total - first);
            ChipBatch {
                version: PROTOCOL_VERSION,
                run: work.run.clone(),
                seq: work.seq,
                meta: work.meta.clone(),
                grid: wire_grid,
                params: work.params.clone(),
                batch: b as u32,
                batches: batches as u32,
                first_chip: first as u32,
                n: n as u32,
                total_chips: total as u32,
                model: work.model.to_string(),
                chips: f32s_to_le_bytes(&chips[first * chip_len..(first + n) * chip_len]),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use tessera_protocol::{InstrumentId, Limits, Message};

    use super::*;

    #[test]
    fn batch_size_fits_the_payload() {
        assert_eq!(batch_chips_for_payload(256, 64, 8 << 20), 256);
        let n = batch_chips_for_payload(256, 64, 1 << 20);
        assert!(
            n * 64 * 64 * 4 + BATCH_OVERHEAD_BYTES as u32 <= 1 << 20,
            "{n}"
        );
        assert!(n >= 60, "{n}");
        assert_eq!(batch_chips_for_payload(256, 1024, 1 << 20), 1);
    }

    #[test]
    fn batches_cover_every_chip_once_and_validate() {
        let grid = ChipGrid::new(100, 70, 16, 8).unwrap();
        let chip_len = 16 * 16;
        let chips: Vec<f32> = (0..grid.len() * chip_len)
            .map(|i| (i % 97) as f32 / 97.0)
            .collect();
        let run = RunId::new("r").unwrap();
        let meta = FrameMeta {
            instrument: InstrumentId::new("tem").unwrap(),
            timestamp_ms: 1,
            dose: None,
            pixel_size_nm: None,
            normalized: None,
        };
        let params = WireParams::default();
        let work = FrameWork {
            run: &run,
            seq: 3,
            meta: &meta,
            params: &params,
            model: "tiny",
        };
        let batches = chip_batches(&work, &grid, &chips, 7);
        assert_eq!(batches.len(), grid.len().div_ceil(7));
        let mut back = Vec::new();
        for b in &batches {
            b.validate(&Limits::default()).unwrap();
            assert_eq!(b.first_chip as usize * chip_len, back.len());
            back.extend(b.chips_f32().unwrap());
        }
        assert_eq!(back, chips);
    }
}
