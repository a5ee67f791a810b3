//! Names of derived images from Velox's `/Operations` group (files before Velox version 11):
//! each operation is a one-element JSON string whose `dataPath` names the image it wrote.
//! As in RosettaSciIO's `_get_detector_name`: `StemInputOperation.detector` and
//! `CameraInputOperation.cameraName` name the detector (segments such as "DF4-A" that
//! `BinaryResult.Detector` calls just "DF4"), `MathematicsOperation` writes "A-C" (its first
//! output's `inputIndex` 0) or "B-D" (1), `DpcOperation` "DPC", `SurfaceReconstructionOperation`
//! "iDPC" or "dDPC" (`integrationMode` true or false; "Filtered …" at `dataPath` when
//! `enableFilter`, the plain one at `unfilteredDataPath`), `IntegrationOperation` "DCFI".

use std::collections::BTreeMap;

use hdf5_metno::Group;
use serde_json::Value;

use super::super::h5::{self, Kind};
use super::FMT;
use super::json::str_at;

/// Image uuid → name, from every operation the file records.
pub(super) fn names(root: &Group) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(ops) = h5::group(root, "Operations", FMT) else {
        return out;
    };
    let Ok(kinds) = h5::members(&ops, FMT) else {
        return out;
    };
    for (kind, k) in kinds {
        if k != Kind::Group {
            continue;
        }
        let Some(g) = h5::group(&ops, &kind, FMT) else {
            continue;
        };
        for (name, k) in h5::members(&g, FMT).unwrap_or_default() {
            if k != Kind::Dataset {
                continue;
            }
            let Some(j) = h5::dataset(&g, &name, FMT)
                .and_then(|d| h5::string_dataset(&d))
                .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            else {
                continue;
            };
            for (uuid, label) in labels(&kind, &j) {
                out.entry(uuid).or_insert(label);
            }
        }
    }
    out
}

/// The (image uuid, name) pairs one operation of kind `kind` gives.
fn labels(kind: &str, j: &Value) -> Vec<(String, String)> {
    let uuid = |key: &str| {
        str_at(j, &[key])
            .and_then(|p| p.rsplit('/').next())
            .map(str::to_string)
    };
    let with = |key: &str, label: Option<String>| -> Vec<(String, String)> {
        uuid(key).zip(label).into_iter().collect()
    };
    match kind {
        "StemInputOperation" => with("dataPath", str_at(j, &["detector"]).map(str::to_string)),
        "CameraInputOperation" => with("dataPath", str_at(j, &["cameraName"]).map(str::to_string)),
        "MathematicsOperation" => {
            let index = j
                .get("outputs")
                .and_then(|o| o.get(0))
                .and_then(|o| str_at(o, &["inputIndex"]));
            let label = match index {
                Some("0") => Some("A-C".to_string()),
                Some("1") => Some("B-D".to_string()),
                _ => None,
            };
            with("dataPath", label)
        }
        "DpcOperation" => with("dataPath", Some("DPC".into())),
        "IntegrationOperation" => with("dataPath", Some("DCFI".into())),
        "SurfaceReconstructionOperation" => {
            let base = if str_at(j, &["integrationMode"]) == Some("true") {
                "iDPC"
            } else {
                "dDPC"
            };
            let filtered = str_at(j, &["enableFilter"]) == Some("true");
            let mut v = with(
                "dataPath",
                Some(if filtered {
                    format!("Filtered {base}")
                } else {
                    base.to_string()
                }),
            );
            v.extend(with("unfilteredDataPath", Some(base.to_string())));
            v
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_name_their_images() {
        let j: Value = serde_json::from_str(
            r#"{"dataPath": "\/Data\/Image\/u1", "unfilteredDataPath": "/Data/Image/u2",
                "integrationMode": "true", "enableFilter": "true"}"#,
        )
        .unwrap();
        assert_eq!(
            labels("SurfaceReconstructionOperation", &j),
            [
                ("u1".into(), "Filtered iDPC".into()),
                ("u2".into(), "iDPC".into())
            ]
        );
        let m: Value = serde_json::from_str(
            r#"{"dataPath": "/Data/Image/u3", "outputs": [{"inputIndex": "1"}]}"#,
        )
        .unwrap();
        assert_eq!(
            labels("MathematicsOperation", &m),
            [("u3".into(), "B-D".into())]
        );
        let s: Value =
            serde_json::from_str(r#"{"dataPath": "/Data/Image/u4", "detector": "DF4-A"}"#).unwrap();
        assert_eq!(
            labels("StemInputOperation", &s),
            [("u4".into(), "DF4-A".into())]
        );
        assert!(labels("DisplayLevelsOperation", &s).is_empty());
    }
}
