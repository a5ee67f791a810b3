//! The labelled images, by group: synthetic STEM scenes, texture mosaics, and the real SEM
//! images of a tuning folder (kept outside the repository).

use std::path::Path;

use tessera_imaging::{DecodeLimits, Normalization, Raster, decode, normalize};
use tessera_synth::{LatticeKind, MosaicLayout, NoiseLevel, SceneConfig, SceneKind, mosaic};
use tessera_tests::{sample, scene};

/// One labelled image.
pub(crate) struct Case {
    pub(crate) group: String,
    pub(crate) name: String,
    pub(crate) raster: Raster,
    pub(crate) truth: Vec<u32>,
    /// Truth value that means "unlabelled".
    pub(crate) ignore: Option<u32>,
    /// The truth values of the classes present (the ignored value not counted), ascending.
    pub(crate) values: Vec<u32>,
}

fn case(group: &str, name: &str, raster: Raster, truth: Vec<u32>, ignore: Option<u32>) -> Case {
    let mut seen: Vec<u32> = truth
        .iter()
        .copied()
        .filter(|&t| Some(t) != ignore)
        .collect();
    seen.sort_unstable();
    seen.dedup();
    Case {
        group: group.into(),
        name: name.into(),
        raster,
        truth,
        ignore,
        values: seen,
    }
}

/// The seven synthetic scenes, `size` pixels square.
pub(crate) fn synthetic(size: usize) -> Vec<Case> {
    use LatticeKind::{Hexagonal, Perovskite, Square};
    use NoiseLevel::{High, Low, Medium};
    use SceneKind::{Islands, OrderDisorder, ThreePhase};
    let scenes = [
        ("od-perov-low", OrderDisorder, Perovskite, Low, 10.0),
        ("od-perov-high", OrderDisorder, Perovskite, High, 10.0),
        ("od-hex-med", OrderDisorder, Hexagonal, Medium, 8.0),
        ("od-square-high", OrderDisorder, Square, High, 13.0),
        ("three-low", ThreePhase, Perovskite, Low, 10.0),
        ("three-high", ThreePhase, Hexagonal, High, 9.0),
        (
            "islands-med",
            Islands { count: 4 },
            Perovskite,
            Medium,
            10.0,
        ),
    ];
    scenes
        .into_iter()
        .enumerate()
        .map(|(i, (name, kind, lattice, noise, spacing))| {
            let (raster, truth) = scene(&SceneConfig {
                width: size,
                height: size,
                seed: 100 + i as u64,
                kind,
                lattice,
                noise,
                spacing_px: spacing,
                ..SceneConfig::default()
            });
            case("synthetic", name, raster, truth, None)
        })
        .collect()
}

/// Frames with one phase only, as at the ends of a dose series (`tessera publish
/// --synthetic`): the crystal end and the disordered end of an order–disorder scene three
/// frames wide, for two lattices. Every pixel is one class, so the right answer is one
/// community; a split shows as a second community (and an ARI of 0).
pub(crate) fn uniform(size: usize) -> Vec<Case> {
    use LatticeKind::{Hexagonal, Perovskite};
    use NoiseLevel::{Low, Medium};
    let scenes = [
        ("perov-low", Perovskite, Low, 10.0),
        ("hex-med", Hexagonal, Medium, 8.0),
    ];
    let mut out = Vec::new();
    for (i, (name, lattice, noise, spacing)) in scenes.into_iter().enumerate() {
        let (wide, truth) = scene(&SceneConfig {
            width: 3 * size,
            height: size,
            seed: 200 + i as u64,
            kind: SceneKind::OrderDisorder,
            lattice,
            noise,
            spacing_px: spacing,
            ..SceneConfig::default()
        });
        for (end, x0) in [("crystal", 0), ("disorder", 2 * size)] {
            let pixels = crop(&wide.pixels, 3 * size, x0, size);
            let mut truth = crop(&truth, 3 * size, x0, size);
            // One class: the scene's front may reach into an end; what it covers is unscored.
            let major = u32::from(truth.iter().filter(|&&t| t != 0).count() * 2 > truth.len());
            truth
                .iter_mut()
                .for_each(|t| *t = if *t == major { 0 } else { 1 });
            let raster = Raster {
                width: size,
                height: size,
                pixels,
            };
            out.push(case(
                "uniform",
                &format!("{end}-{name}"),
                raster,
                truth,
                Some(1),
            ));
        }
    }
    out
}

/// The `side`-wide columns from `x0` of a row-major image `width` wide.
fn crop<T: Copy>(v: &[T], width: usize, x0: usize, side: usize) -> Vec<T> {
    v.chunks_exact(width)
        .flat_map(|row| &row[x0..x0 + side])
        .copied()
        .collect()
}

/// Mosaics of three real textures (brick, grass, gravel), `size` pixels square.
pub(crate) fn textures(size: usize) -> Vec<Case> {
    let full = Normalization {
        low_percentile: 0.5,
        high_percentile: 99.5,
    };
    let textures: Vec<Raster> = ["brick.png", "grass.png", "gravel.png"]
        .iter()
        .map(|n| {
            let bytes = std::fs::read(sample(n)).expect("reading a sample texture");
            let page = decode(&bytes, &DecodeLimits::default()).expect("decoding a texture");
            normalize(&page[0], &full).expect("normalising a texture")
        })
        .collect();
    let views: Vec<(usize, usize, &[f32])> = textures
        .iter()
        .map(|t| (t.width, t.height, &t.pixels[..]))
        .collect();
    [
        ("mosaic-voronoi", MosaicLayout::Voronoi { cells: 5 }, 1),
        ("mosaic-bands", MosaicLayout::Bands, 2),
    ]
    .into_iter()
    .map(|(name, layout, seed)| {
        let m = mosaic(&views, size, size, layout, seed).expect("building a mosaic");
        let truth = m.truth_u32();
        let raster = Raster {
            width: m.width,
            height: m.height,
            pixels: m.pixels,
        };
        case("textures", name, raster, truth, None)
    })
    .collect()
}

fn read(path: &Path) -> Raster {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    decode(&bytes, &DecodeLimits::default())
        .unwrap_or_else(|e| panic!("decoding {}: {e}", path.display()))
        .swap_remove(0)
}

/// The images of a tuning folder laid out as `images/NAME.png` with `masks/NAME.png`
/// (0 = unlabelled). An image's group is the `group` of its entry in `cases.json` when that
/// file lists it, else its name up to the first `_`.
pub(crate) fn folder(dir: &Path) -> Vec<Case> {
    let listed: Vec<serde_json::Value> = std::fs::read(dir.join("cases.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let group_of = |stem: &str| {
        listed
            .iter()
            .find(|c| c["name"] == stem)
            .and_then(|c| c["group"].as_str().map(str::to_string))
            .unwrap_or_else(|| stem.split('_').next().unwrap_or(stem).to_string())
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir.join("images"))
        .unwrap_or_else(|e| panic!("reading {}/images: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let stem = p.file_stem().unwrap_or_default().to_string_lossy();
            let raster = read(p);
            let mask = read(&dir.join("masks").join(p.file_name().unwrap_or_default()));
            assert_eq!((mask.width, mask.height), (raster.width, raster.height));
            let truth = mask
                .pixels
                .iter()
                .map(|v| v.round().max(0.0) as u32)
                .collect();
            case(&group_of(&stem), &stem, raster, truth, Some(0))
        })
        .collect()
}
