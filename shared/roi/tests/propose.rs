//! `propose` on synthetic frames: each goal finds what was planted, bad input is named, the
//! best window agrees with a brute-force scorer, and the same frame gives the same answer.

#![allow(clippy::unwrap_used)]

use tessera_protocol::{GridWire, check_roi_on_frame};
use tessera_roi::{Focus, Roi, RoiGoal, SegmentedFrame, Visited, propose};

/// A frame that owns its data.
#[derive(Clone)]
struct Owned {
    grid: GridWire,
    labels: Vec<u32>,
    conf: Option<Vec<f32>>,
    classes: Option<Vec<u32>>,
    names: Vec<String>,
    px: Option<f64>,
}

impl Owned {
    fn new(width: u32, height: u32, chip: u32, stride: u32) -> Owned {
        let grid = GridWire {
            width,
            height,
            chip,
            stride,
        };
        let n = starts(width, chip, stride).len() * starts(height, chip, stride).len();
        Owned {
            grid,
            labels: vec![0; n],
            conf: None,
            classes: None,
            names: Vec::new(),
            px: None,
        }
    }

    fn frame(&self) -> SegmentedFrame<'_> {
        SegmentedFrame {
            grid: self.grid,
            chip_labels: &self.labels,
            chip_confidence: self.conf.as_deref(),
            chip_classes: self.classes.as_deref(),
            class_names: &self.names,
            pixel_size_nm: self.px,
        }
    }

    /// Every chip's centre, row-major, in pixels.
    fn centres(&self) -> Vec<(f64, f64)> {
        let g = self.grid;
        let half = f64::from(g.chip) / 2.0;
        let xs = starts(g.width, g.chip, g.stride);
        let mut out = Vec::new();
        for y in starts(g.height, g.chip, g.stride) {
            for &x in &xs {
                out.push((f64::from(x) + half, f64::from(y) + half));
            }
        }
        out
    }

    fn cols(&self) -> usize {
        starts(self.grid.width, self.grid.chip, self.grid.stride).len()
    }

    fn propose(&self, goal: RoiGoal, focus: Option<&Focus>, m: f64, limit: usize) -> Vec<Roi> {
        propose(&self.frame(), goal, focus, m, &[], limit).unwrap()
    }
}

/// Imaging's edge rule, written out plainly.
fn starts(size: u32, chip: u32, stride: u32) -> Vec<u32> {
    let mut s = Vec::new();
    let mut x = 0;
    while x + chip <= size {
        s.push(x);
        x += stride;
    }
    if s.last().unwrap() + chip < size {
        s.push(size - chip);
    }
    s
}

fn contains(r: &Roi, (x, y): (f64, f64)) -> bool {
    x >= f64::from(r.x)
        && x < f64::from(r.x + r.width)
        && y >= f64::from(r.y)
        && y < f64::from(r.y + r.height)
}

/// Every proposal fits its frame and overlaps no other by more than half.
fn well_formed(rois: &[Roi], grid: GridWire) {
    for (i, a) in rois.iter().enumerate() {
        check_roi_on_frame(a, grid.width, grid.height).unwrap();
        assert!(!a.reason.is_empty());
        for b in &rois[..i] {
            assert!(b.score >= a.score, "best first: {b:?} then {a:?}");
            let ox = (a.x + a.width)
                .min(b.x + b.width)
                .saturating_sub(a.x.max(b.x));
            let oy = (a.y + a.height)
                .min(b.y + b.height)
                .saturating_sub(a.y.max(b.y));
            assert!(2 * u64::from(ox) * u64::from(oy) <= u64::from(a.width) * u64::from(a.height));
        }
    }
}

#[test]
fn a_low_confidence_patch_is_proposed_first() {
    let mut f = Owned::new(512, 512, 32, 16);
    let centres = f.centres();
    let inside = |(x, y): (f64, f64)| (300.0..400.0).contains(&x) && (100.0..200.0).contains(&y);
    f.conf = Some(
        centres
            .iter()
            .map(|&c| if inside(c) { 0.05 } else { 1.0 })
            .collect(),
    );
    f.px = Some(0.5);
    let rois = f.propose(RoiGoal::LowConfidence, None, 4.0, 5);
    assert_eq!(rois.len(), 5);
    well_formed(&rois, f.grid);
    let r = &rois[0];
    assert_eq!((r.width, r.height, r.magnification), (128, 128, 4.0));
    // Every chip of the patch (6 × 6 centres) is in the first window, and the window is
    // centred on the patch as nearly as the chip grid allows.
    let patch: Vec<_> = centres.iter().copied().filter(|&c| inside(c)).collect();
    assert_eq!(patch.len(), 36);
    assert!(patch.iter().all(|&c| contains(r, c)), "{r:?}");
    assert!(
        r.x.abs_diff(350 - 64) <= 16 && r.y.abs_diff(150 - 64) <= 32,
        "{r:?}"
    );
    assert!(r.score > rois[1].score);
    assert!(
        r.reason
            .starts_with("mean confidence 0.466 over 64 chips, frame mean 0.9"),
        "{}",
        r.reason
    );
    let nm = r.nm.unwrap();
    assert_eq!(nm, [f64::from(r.x) / 2.0, f64::from(r.y) / 2.0, 64.0, 64.0]);
}

#[test]
fn a_boundary_proposal_straddles_the_line_between_two_communities() {
    // 16 × 8 chips; community 0 left of x = 320, community 1 right of it.
    let mut f = Owned::new(512, 256, 32, 32);
    f.labels = f
        .centres()
        .iter()
        .map(|&(x, _)| u32::from(x >= 320.0))
        .collect();
    for focus in [Focus::Community(0), Focus::Community(1)] {
        let rois = f.propose(RoiGoal::Boundary, Some(&focus), 4.0, 10);
        well_formed(&rois, f.grid);
        assert!(rois.len() >= 4, "{rois:?}");
        let r = &rois[0];
        assert_eq!((r.width, r.height), (128, 64));
        assert!(r.x < 320 && 320 < r.x + r.width, "{focus:?}: {r:?}");
        // Two rows of the line's 8 boundary chips on the focus's side.
        assert_eq!(r.score, 0.25);
        assert!(
            r.reason.starts_with("2 of the 8 chips of community"),
            "{}",
            r.reason
        );
        // Every proposal holds a piece of the line.
        for r in &rois {
            assert!(r.x <= 320 && 320 <= r.x + r.width, "{r:?}");
        }
    }
    // The same with classes: class "membrane" on the left, unknown on the right.
    f.names = vec!["membrane".into(), "vesicle".into()];
    f.classes = Some(
        f.labels
            .iter()
            .map(|&l| if l == 0 { 0 } else { 2 })
            .collect(),
    );
    let rois = f.propose(
        RoiGoal::Boundary,
        Some(&Focus::Class("membrane".into())),
        4.0,
        1,
    );
    assert!(rois[0].x < 320 && 320 < rois[0].x + rois[0].width);
    assert!(
        rois[0].reason.contains("class \"membrane\""),
        "{}",
        rois[0].reason
    );
    // A focus that covers the frame has no boundary: nothing to propose.
    f.labels = vec![5; f.labels.len()];
    assert!(
        f.propose(RoiGoal::Boundary, Some(&Focus::Community(5)), 4.0, 3)
            .is_empty()
    );
}

#[test]
fn the_rarest_community_is_in_the_rarest_window() {
    let mut f = Owned::new(256, 256, 32, 32);
    let cols = f.cols();
    for (i, l) in f.labels.iter_mut().enumerate() {
        *l = if i / cols < 3 { 3 } else { 0 };
    }
    f.labels[5 * cols + 6] = 7; // one chip, centre (208, 176)
    f.labels[2 * cols + 1] = 9; // one chip too, higher id
    f.labels[2 * cols + 2] = 9;
    let rois = f.propose(RoiGoal::Rarest, None, 2.0, 4);
    well_formed(&rois, f.grid);
    assert!(contains(&rois[0], (208.0, 176.0)), "{:?}", rois[0]);
    assert_eq!(rois[0].score, 1.0);
    assert!(
        rois[0].reason.starts_with("community 7, the rarest of 4"),
        "{}",
        rois[0].reason
    );
    // Only windows holding it are proposed.
    assert!(rois.iter().all(|r| contains(r, (208.0, 176.0))));
    // Ties: the lower id.
    f.labels[2 * cols + 2] = 3;
    let rois = f.propose(RoiGoal::Rarest, None, 2.0, 1);
    assert!(contains(&rois[0], (208.0, 176.0)), "{:?}", rois[0]);
    f.labels[5 * cols + 6] = 11;
    let rois = f.propose(RoiGoal::Rarest, None, 2.0, 1);
    assert!(contains(&rois[0], (48.0, 80.0)), "{:?}", rois[0]);
    assert!(
        rois[0].reason.starts_with("community 9"),
        "{}",
        rois[0].reason
    );
}

#[test]
fn unexplored_windows_avoid_what_was_visited() {
    let f = Owned::new(512, 512, 32, 32);
    // Nothing visited: the frame centre.
    let rois = f.propose(RoiGoal::Unexplored, None, 4.0, 3);
    assert_eq!((rois[0].x, rois[0].y, rois[0].width), (192, 192, 128));
    assert_eq!(rois[0].score, 1.0);
    well_formed(&rois, f.grid);
    // The left half and a block in the middle of the right half visited.
    let visited = [
        Visited {
            x: 0,
            y: 0,
            width: 256,
            height: 512,
        },
        Visited {
            x: 320,
            y: 192,
            width: 128,
            height: 128,
        },
    ];
    let rois = propose(&f.frame(), RoiGoal::Unexplored, None, 4.0, &visited, 6).unwrap();
    well_formed(&rois, f.grid);
    assert_eq!(rois.len(), 6);
    let overlaps = |r: &Roi, v: &Visited| {
        r.x < v.x + v.width && v.x < r.x + r.width && r.y < v.y + v.height && v.y < r.y + r.height
    };
    for r in &rois[..4] {
        assert!(visited.iter().all(|v| !overlaps(r, v)), "{r:?}");
        assert_eq!(r.score, 1.0);
        assert!(r.reason.starts_with("none of its 16 chips"), "{}", r.reason);
    }
    // Wholly visited: nothing to propose.
    let all = [Visited {
        x: 0,
        y: 0,
        width: 512,
        height: 512,
    }];
    let rois = propose(&f.frame(), RoiGoal::Unexplored, None, 4.0, &all, 6).unwrap();
    assert!(rois.is_empty());
}

#[test]
fn bad_input_is_named() {
    let mut good = Owned::new(128, 128, 32, 32);
    good.conf = Some(vec![0.5; 16]);
    good.names = vec!["a".into()];
    good.classes = Some(vec![0; 16]);
    let err = |f: &Owned, goal, focus: Option<&Focus>, m, visited: &[Visited], limit| {
        propose(&f.frame(), goal, focus, m, visited, limit)
            .unwrap_err()
            .to_string()
    };
    let lc = RoiGoal::LowConfidence;
    let cases: Vec<(Owned, &str)> = vec![
        (
            Owned {
                labels: vec![0; 15],
                ..good.clone()
            },
            "has 15 chip labels, but its grid has 16 chips (4 columns × 4 rows)",
        ),
        (
            Owned {
                conf: Some(vec![0.5; 3]),
                ..good.clone()
            },
            "chip confidences: 3 values for the frame's 16 chips",
        ),
        (
            Owned {
                conf: Some([vec![0.5; 15], vec![f32::NAN]].concat()),
                ..good.clone()
            },
            "chip 15 has confidence NaN",
        ),
        (
            Owned {
                conf: Some([vec![-0.5], vec![0.5; 15]].concat()),
                ..good.clone()
            },
            "chip 0 has confidence -0.5",
        ),
        (
            Owned {
                conf: None,
                ..good.clone()
            },
            "carries no chip confidences",
        ),
        (
            Owned {
                classes: Some([vec![2], vec![0; 15]].concat()),
                ..good.clone()
            },
            "chip 0 has class index 2, but the frame names 1 classes",
        ),
        (
            Owned {
                px: Some(-1.0),
                ..good.clone()
            },
            "pixel size -1 nm",
        ),
        (
            Owned {
                grid: GridWire {
                    stride: 0,
                    ..good.grid
                },
                ..good.clone()
            },
            "invalid chip grid: chip stride is 0",
        ),
    ];
    for (f, want) in &cases {
        let e = err(f, lc, None, 2.0, &[], 1);
        assert!(e.contains(want), "{e}");
    }
    for (m, want) in [
        (f64::NAN, "magnification NaN is not a finite number"),
        (0.5, "magnification 0.5 is below 1"),
        (f64::INFINITY, "magnification inf is not a finite number"),
    ] {
        let e = err(&good, lc, None, m, &[], 1);
        assert!(e.contains(want), "{e}");
    }
    assert!(err(&good, lc, None, 2.0, &[], 0).contains("limit is 0"));
    let b = RoiGoal::Boundary;
    assert!(err(&good, b, None, 2.0, &[], 1).contains("needs a focus"));
    let e = err(&good, b, Some(&Focus::Community(4)), 2.0, &[], 1);
    assert!(
        e.contains("community 4 is not in this frame; its communities are 0"),
        "{e}"
    );
    let e = err(&good, b, Some(&Focus::Class("mito".into())), 2.0, &[], 1);
    assert!(
        e.contains("class \"mito\" is not one of the frame's classes (\"a\")"),
        "{e}"
    );
    let none = Owned {
        classes: None,
        ..good.clone()
    };
    let e = err(&none, b, Some(&Focus::Class("a".into())), 2.0, &[], 1);
    assert!(e.contains("carries no few-shot classes"), "{e}");
    let unknown = Owned {
        classes: Some(vec![1; 16]),
        ..good.clone()
    };
    let e = err(&unknown, b, Some(&Focus::Class("a".into())), 2.0, &[], 1);
    assert!(e.contains("class \"a\" has no chip in this frame"), "{e}");
    let u = RoiGoal::Unexplored;
    let v = |x, y, width, height| Visited {
        x,
        y,
        width,
        height,
    };
    let e = err(&good, u, None, 2.0, &[v(0, 0, 8, 8), v(0, 0, 0, 8)], 1);
    assert!(e.contains("visited region 1 is 0×8 pixels, empty"), "{e}");
    let e = err(&good, u, None, 2.0, &[v(0, 128, 8, 8)], 1);
    assert!(
        e.contains("visited region 0 starts at (0, 128), outside the 128×128 frame"),
        "{e}"
    );
}

#[test]
fn a_high_magnification_is_lowered_to_hold_a_chip() {
    let mut f = Owned::new(1024, 512, 64, 32);
    f.conf = Some(vec![1.0; f.labels.len()]);
    let rois = f.propose(RoiGoal::LowConfidence, None, 100.0, 1);
    let r = &rois[0];
    assert_eq!((r.width, r.height, r.magnification), (128, 64, 8.0));
    assert!(
        r.reason
            .ends_with("magnification 100 lowered to 8 so the window holds a whole chip")
    );
    // Every chip alike: the frame centre, score 0 (as sure as the surest chip).
    assert_eq!((r.x, r.y, r.score), (448, 224, 0.0));
    // Magnification 1: the whole frame.
    let rois = f.propose(RoiGoal::Rarest, None, 1.0, 5);
    assert_eq!(rois.len(), 1);
    assert_eq!(
        (rois[0].x, rois[0].y, rois[0].width, rois[0].height),
        (0, 0, 1024, 512)
    );
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// A random frame: a few blobby communities, classes, confidences, random geometry.
fn random_frame(rng: &mut Rng) -> Owned {
    let chip = 4 + rng.below(12) as u32;
    let stride = 1 + rng.below(u64::from(chip)) as u32;
    let width = chip + rng.below(120) as u32;
    let height = chip + rng.below(120) as u32;
    let mut f = Owned::new(width, height, chip, stride);
    let seeds: Vec<(f64, f64)> = (0..1 + rng.below(5))
        .map(|_| {
            (
                rng.below(width.into()) as f64,
                rng.below(height.into()) as f64,
            )
        })
        .collect();
    let centres = f.centres();
    f.labels = centres
        .iter()
        .map(|&(x, y)| {
            let d = |s: &(f64, f64)| (s.0 - x).powi(2) + (s.1 - y).powi(2);
            (0..seeds.len())
                .min_by(|&a, &b| d(&seeds[a]).total_cmp(&d(&seeds[b])))
                .unwrap() as u32
                * 3
        })
        .collect();
    f.conf = Some(
        (0..centres.len())
            .map(|_| rng.below(1000) as f32 / 250.0)
            .collect(),
    );
    f.names = vec!["a".into(), "b".into()];
    f.classes = Some((0..centres.len()).map(|_| rng.below(3) as u32).collect());
    f.px = Some(0.25);
    f
}

/// Brute force: every candidate window of the size asked for, each chip's centre tested.
fn brute_windows(f: &Owned, m: f64) -> Vec<(u32, u32, u32, u32)> {
    let g = f.grid;
    let eff = m.min(f64::from(g.width.min(g.height)) / f64::from(g.chip));
    let w = ((f64::from(g.width) / eff).round() as u32).clamp(g.chip, g.width);
    let h = ((f64::from(g.height) / eff).round() as u32).clamp(g.chip, g.height);
    let along = |size: u32, side: u32| {
        let mut o: Vec<u32> = starts(size, g.chip, g.stride)
            .into_iter()
            .filter(|s| s + side <= size)
            .collect();
        o.push(size - side);
        o.dedup();
        o
    };
    let mut out = Vec::new();
    for y in along(g.height, h) {
        for x in along(g.width, w) {
            out.push((x, y, w, h));
        }
    }
    out
}

fn chips_in(centres: &[(f64, f64)], (x, y, w, h): (u32, u32, u32, u32)) -> Vec<usize> {
    let r = Roi {
        goal: RoiGoal::Rarest,
        x,
        y,
        width: w,
        height: h,
        nm: None,
        magnification: 1.0,
        score: 0.0,
        reason: String::new(),
    };
    centres
        .iter()
        .enumerate()
        .filter(|&(_, &c)| contains(&r, c))
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn the_best_window_agrees_with_a_brute_force_scorer() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    for _ in 0..120 {
        let f = random_frame(&mut rng);
        let m = 1.0 + rng.below(500) as f64 / 100.0;
        let windows = brute_windows(&f, m);
        let centres = f.centres();
        let conf = f.conf.clone().unwrap();
        let cols = f.cols();
        let n = f.labels.len();
        let rows = n / cols;

        // Low confidence: the lowest mean.
        let mean = |w| {
            let c = chips_in(&centres, w);
            c.iter().map(|&i| f64::from(conf[i])).sum::<f64>() / c.len() as f64
        };
        let lowest = windows
            .iter()
            .map(|&w| mean(w))
            .fold(f64::INFINITY, f64::min);
        let max = conf.iter().fold(0.0f64, |a, &b| a.max(f64::from(b)));
        let r = &f.propose(RoiGoal::LowConfidence, None, m, 3)[0];
        let got = mean((r.x, r.y, r.width, r.height));
        assert!(got <= lowest + 1e-8 * max + 1e-12, "{got} > {lowest}");
        assert!((r.score - (1.0 - got / max)).abs() < 1e-9);

        // Boundary of the first chip's community.
        let focus = f.labels[0];
        let differs = |r: usize, c: usize| f.labels[r * cols + c] != focus;
        let boundary: Vec<bool> = (0..n)
            .map(|i| {
                let (r, c) = (i / cols, i % cols);
                f.labels[i] == focus
                    && ((r > 0 && differs(r - 1, c))
                        || (r + 1 < rows && differs(r + 1, c))
                        || (c > 0 && differs(r, c - 1))
                        || (c + 1 < cols && differs(r, c + 1)))
            })
            .collect();
        let count = |w, marks: &[bool]| chips_in(&centres, w).iter().filter(|&&i| marks[i]).count();
        let most = windows.iter().map(|&w| count(w, &boundary)).max().unwrap();
        let rois = f.propose(RoiGoal::Boundary, Some(&Focus::Community(focus)), m, 3);
        if most == 0 {
            assert!(rois.is_empty());
        } else {
            let r = &rois[0];
            assert_eq!(count((r.x, r.y, r.width, r.height), &boundary), most);
        }

        // Rarest.
        let mut ids = f.labels.clone();
        ids.sort_unstable();
        ids.dedup();
        let rarest = *ids
            .iter()
            .min_by_key(|&&id| (f.labels.iter().filter(|&&l| l == id).count(), id))
            .unwrap();
        let marks: Vec<bool> = f.labels.iter().map(|&l| l == rarest).collect();
        let most = windows.iter().map(|&w| count(w, &marks)).max().unwrap();
        let r = &f.propose(RoiGoal::Rarest, None, m, 3)[0];
        assert_eq!(count((r.x, r.y, r.width, r.height), &marks), most);
        assert!(r.reason.starts_with(&format!("community {rarest},")));

        // Unexplored, with regions of at least a chip (so each holds a chip centre).
        let g = f.grid;
        let visited: Vec<Visited> = (0..rng.below(4))
            .map(|_| Visited {
                x: rng.below(u64::from(g.width - g.chip + 1)) as u32,
                y: rng.below(u64::from(g.height - g.chip + 1)) as u32,
                width: g.chip + rng.below(40) as u32,
                height: g.chip + rng.below(40) as u32,
            })
            .collect();
        let imaged: Vec<bool> = centres
            .iter()
            .map(|&(x, y)| {
                visited.iter().any(|v| {
                    x >= f64::from(v.x)
                        && x < f64::from(v.x) + f64::from(v.width)
                        && y >= f64::from(v.y)
                        && y < f64::from(v.y) + f64::from(v.height)
                })
            })
            .collect();
        let free = |w| {
            let c = chips_in(&centres, w);
            c.iter().filter(|&&i| !imaged[i]).count() as f64 / c.len() as f64
        };
        let best = windows.iter().map(|&w| free(w)).fold(0.0, f64::max);
        let rois = propose(&f.frame(), RoiGoal::Unexplored, None, m, &visited, 3).unwrap();
        if best == 0.0 {
            assert!(rois.is_empty());
        } else {
            let r = &rois[0];
            assert_eq!(free((r.x, r.y, r.width, r.height)), best);
            assert_eq!(r.score, best);
        }
    }
}

#[test]
fn the_same_frame_gives_the_same_proposals() {
    let mut rng = Rng(42);
    for _ in 0..40 {
        let f = random_frame(&mut rng);
        let copy = f.clone();
        let m = 1.0 + rng.below(600) as f64 / 100.0;
        let visited = [Visited {
            x: 0,
            y: 0,
            width: f.grid.chip,
            height: f.grid.chip,
        }];
        for goal in RoiGoal::ALL {
            let focus = Focus::Class("b".into());
            let run = |f: &Owned| propose(&f.frame(), goal, Some(&focus), m, &visited, 8);
            let (a, b) = (run(&f), run(&copy));
            assert_eq!(a, b);
            if let Ok(rois) = a {
                well_formed(&rois, f.grid);
                assert!(rois.len() <= 8);
                assert!(rois.iter().all(|r| r.nm.is_some() && r.goal == goal));
            }
        }
    }
}

#[test]
fn a_full_size_frame_is_answered() {
    // 4096² pixels, 64-pixel chips every 32: 127 × 127 chips.
    let mut f = Owned::new(4096, 4096, 64, 32);
    let centres = f.centres();
    assert_eq!(centres.len(), 127 * 127);
    f.labels = centres
        .iter()
        .map(|&(x, y)| u32::from(x > 2000.0) + 2 * u32::from(y > 3000.0))
        .collect();
    f.conf = Some(
        centres
            .iter()
            .map(|&(x, y)| ((x * 0.01).sin() * (y * 0.013).cos()).abs() as f32)
            .collect(),
    );
    for goal in RoiGoal::ALL {
        let rois = f.propose(goal, Some(&Focus::Community(2)), 4.0, 16);
        assert!(!rois.is_empty() && rois.len() <= 16, "{goal:?}");
        well_formed(&rois, f.grid);
    }
}
