//! Results as dashboards see them: communities under their run-stable ids, legend lines for
//! the overlay, and the point a frame adds to its run's series.

use tessera_imaging::{LegendEntry, NO_LABEL, color_hex, palette_color};
use tessera_protocol::{CommunityWire, FrameResult, SeriesPoint};
use tessera_segment::Community;

use crate::PipelineError;

/// `#rrggbb` of a label's overlay colour.
pub fn hex_color(id: u32) -> String {
    color_hex(palette_color(id))
}

/// The legend line of a community: `"<id>  61.2 %  (512 chips)"`.
pub fn legend_entry(id: u32, area_fraction: f64, chips: usize) -> LegendEntry {
    LegendEntry {
        label: id,
        text: format!("{id}  {:5.1} %  ({chips} chips)", 100.0 * area_fraction),
    }
}

/// The legend of a frame's communities.
pub fn legend(communities: &[CommunityWire]) -> Vec<LegendEntry> {
    communities
        .iter()
        .map(|c| legend_entry(c.id, c.area_fraction, c.chips as usize))
        .collect()
}

/// A frame's communities under their stable ids (`ids[local id]`), in local order.
pub fn stable_communities(
    communities: &[Community],
    ids: &[u32],
) -> Result<Vec<CommunityWire>, PipelineError> {
    communities
        .iter()
        .map(|c| {
            let id = stable_id(ids, c.id)?;
            Ok(CommunityWire {
                id,
                color: hex_color(id),
                chips: c.chips as u32,
                area_fraction: c.area_fraction,
                centroid_px: c.centroid_px,
            })
        })
        .collect()
}

/// Renames every label (pixel or chip) from local to stable ids; [`NO_LABEL`] stays.
pub fn relabel(labels: &mut [u32], ids: &[u32]) -> Result<(), PipelineError> {
    for l in labels.iter_mut().filter(|l| **l != NO_LABEL) {
        *l = stable_id(ids, *l)?;
    }
    Ok(())
}

fn stable_id(ids: &[u32], local: u32) -> Result<u32, PipelineError> {
    ids.get(local as usize).copied().ok_or_else(|| {
        PipelineError::Inconsistent(format!(
            "community {local} has no stable id (the tracker returned {} ids)",
            ids.len()
        ))
    })
}

/// The point `result` adds to its run's series.
pub fn series_point(result: &FrameResult) -> SeriesPoint {
    SeriesPoint {
        seq: result.seq,
        timestamp_ms: result.timestamp_ms,
        dose: result.dose,
        fractions: result
            .communities
            .iter()
            .map(|c| (c.id, c.area_fraction))
            .collect(),
        classes: (result.applied_classes())
            .map(|k| {
                k.classes
                    .iter()
                    .map(|c| (c.name.clone(), c.area_fraction))
                    .collect()
            })
            .unwrap_or_default(),
        unknown: result.applied_classes().map(|k| k.unknown_fraction),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn community(id: u32, fraction: f64) -> Community {
        Community {
            id,
            chips: 10,
            area_fraction: fraction,
            centroid_px: [1.0, 2.0],
            feature_centroid: Vec::new(),
        }
    }

    #[test]
    fn communities_take_their_stable_ids_and_colours() {
        let wire = stable_communities(&[community(0, 0.7), community(1, 0.3)], &[4, 2]).unwrap();
        assert_eq!(wire[0].id, 4);
        assert_eq!(wire[1].id, 2);
        assert_eq!(wire[1].color, hex_color(2));
        assert!(stable_communities(&[community(2, 1.0)], &[0, 1]).is_err());
    }

    #[test]
    fn relabel_keeps_no_label() {
        let mut labels = vec![0, 1, NO_LABEL, 1];
        relabel(&mut labels, &[5, 3]).unwrap();
        assert_eq!(labels, [5, 3, NO_LABEL, 3]);
    }

    #[test]
    fn legend_text_matches_the_command_line_reports() {
        assert_eq!(legend_entry(3, 0.612, 512).text, "3   61.2 %  (512 chips)");
    }
}
