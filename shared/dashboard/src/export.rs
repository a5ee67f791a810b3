//! [`fractions_csv`]: a run's community area fractions as a table, one row per frame.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use tessera_protocol::FrameResult;

/// The table of a run's results: columns `seq`, `timestamp_ms`, `dose` (empty when the
/// frame has none), then `community_<id>` for every community that appears in the run, in
/// id order, holding its area fraction (0 in frames where it does not appear). With a run
/// classifier, then `class_<name>` for every class (in order of first appearance) and
/// `unknown`, empty in frames that were not classified. Rows are in frame order; a frame given
/// twice appears once, as given last.
pub fn fractions_csv(results: &[FrameResult]) -> String {
    let by_seq: BTreeMap<u64, &FrameResult> = results.iter().map(|r| (r.seq, r)).collect();
    let ids: BTreeSet<u32> = by_seq
        .values()
        .flat_map(|r| r.communities.iter().map(|c| c.id))
        .collect();
    let mut names: Vec<&str> = Vec::new();
    for k in by_seq.values().filter_map(|r| r.applied_classes()) {
        for c in &k.classes {
            if !names.contains(&c.name.as_str()) {
                names.push(&c.name);
            }
        }
    }
    let mut out = String::from("seq,timestamp_ms,dose");
    for id in &ids {
        let _ = write!(out, ",community_{id}");
    }
    for name in &names {
        let _ = write!(out, ",{}", csv_field(&format!("class_{name}")));
    }
    if !names.is_empty() {
        out.push_str(",unknown");
    }
    out.push('\n');
    for r in by_seq.values() {
        let dose = r.dose.map(|d| d.to_string()).unwrap_or_default();
        let _ = write!(out, "{},{},{dose}", r.seq, r.timestamp_ms);
        for id in &ids {
            let f = r
                .communities
                .iter()
                .find(|c| c.id == *id)
                .map_or(0.0, |c| c.area_fraction);
            let _ = write!(out, ",{f:.6}");
        }
        let classes = r.applied_classes();
        for name in &names {
            match classes {
                Some(k) => {
                    let f = k.classes.iter().find(|c| c.name == *name);
                    let _ = write!(out, ",{:.6}", f.map_or(0.0, |c| c.area_fraction));
                }
                None => out.push(','),
            }
        }
        if !names.is_empty() {
            match classes {
                Some(k) => {
                    let _ = write!(out, ",{:.6}", k.unknown_fraction);
                }
                None => out.push(','),
            }
        }
        out.push('\n');
    }
    out
}

/// A CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use tessera_protocol::{CommunityWire, FrameResult, InstrumentId, RunId, WireParams};

    use super::fractions_csv;

    fn result(seq: u64, dose: Option<f64>, fractions: &[(u32, f64)]) -> FrameResult {
        FrameResult {
            version: tessera_protocol::PROTOCOL_VERSION,
            run: RunId::parse("run-1").unwrap(),
            instrument: InstrumentId::parse("tem-1").unwrap(),
            seq,
            timestamp_ms: 1000 + seq,
            dose,
            pixel_size_nm: None,
            width: 8,
            height: 8,
            chips: 4,
            n_labels: 3,
            communities: fractions
                .iter()
                .map(|&(id, area_fraction)| CommunityWire {
                    id,
                    color: "#112233".into(),
                    chips: 1,
                    area_fraction,
                    centroid_px: [0.0, 0.0],
                })
                .collect(),
            source: None,
            labels: None,
            overlay: None,
            timings: Vec::new(),
            cache_hits: 0,
            model: "tiny".into(),
            model_digest: "d".into(),
            params: WireParams::default(),
            classes: None,
            chip_map: None,
        }
    }

    #[test]
    fn one_row_per_frame_and_a_column_per_community() {
        let csv = fractions_csv(&[
            result(2, None, &[(0, 0.25), (2, 0.75)]),
            result(1, Some(1.5), &[(0, 1.0)]),
            result(2, None, &[(0, 0.5), (2, 0.5)]),
        ]);
        assert_eq!(
            csv,
            "seq,timestamp_ms,dose,community_0,community_2\n\
             1,1001,1.5,1.000000,0.000000\n\
             2,1002,,0.500000,0.500000\n"
        );
        assert_eq!(fractions_csv(&[]), "seq,timestamp_ms,dose\n");
    }

    #[test]
    fn classes_are_columns_by_name_and_empty_where_not_classified() {
        let class = |name: &str, area_fraction| tessera_protocol::ClassWire {
            name: name.into(),
            color: "#000000".into(),
            chips: 1,
            area_fraction,
        };
        let mut classified = result(1, None, &[(0, 1.0)]);
        classified.classes = Some(tessera_protocol::FrameClasses {
            classes: vec![class("oxide", 0.75), class("a, b", 0.25)],
            error: None,
            ..tessera_protocol::FrameClasses::failed("c", String::new())
        });
        let mut failed = result(2, None, &[(0, 1.0)]);
        failed.classes = Some(tessera_protocol::FrameClasses::failed("c", "why".into()));
        assert_eq!(
            fractions_csv(&[classified, failed]),
            "seq,timestamp_ms,dose,community_0,class_oxide,\"class_a, b\",unknown\n\
             1,1001,,1.000000,0.750000,0.250000,0.000000\n\
             2,1002,,1.000000,,,\n"
        );
    }
}
