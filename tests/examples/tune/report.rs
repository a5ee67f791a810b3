//! The tables: per candidate and group, mean scores beside GraphEM parity's, community
//! counts against true class counts, and time; then a summary over candidates.

use tessera_synth::PartitionScores;

use crate::cases::Case;

/// The outcome of one segmentation of one image.
#[derive(Clone, Copy)]
pub(crate) struct Outcome {
    pub(crate) scores: PartitionScores,
    pub(crate) communities: usize,
    /// Milliseconds: preparing, embedding and finishing.
    pub(crate) ms: f64,
}

/// Means over a set of outcomes.
pub(crate) struct Summary {
    pub(crate) n: usize,
    pub(crate) ari: f64,
    pub(crate) nmi: f64,
    pub(crate) miou: f64,
    pub(crate) ms: f64,
    /// Images whose community count is within one of their class count.
    pub(crate) within_one: usize,
    /// Images that came out as one community.
    pub(crate) single: usize,
}

pub(crate) fn summarize<'a>(rows: impl Iterator<Item = (&'a Case, &'a Outcome)>) -> Summary {
    let mut s = Summary {
        n: 0,
        ari: 0.0,
        nmi: 0.0,
        miou: 0.0,
        ms: 0.0,
        within_one: 0,
        single: 0,
    };
    for (case, o) in rows {
        s.n += 1;
        s.ari += o.scores.ari;
        s.nmi += o.scores.nmi;
        s.miou += o.scores.mean_iou;
        s.ms += o.ms;
        s.within_one += usize::from(o.communities.abs_diff(case.values.len()) <= 1);
        s.single += usize::from(o.communities == 1);
    }
    let n = s.n.max(1) as f64;
    s.ari /= n;
    s.nmi /= n;
    s.miou /= n;
    s.ms /= n;
    s
}

pub(crate) fn group_header() {
    println!(
        "  {:<10} {:>3} {:>6} {:>6} {:>6} {:>6} {:>4} {:>4} | {:>6} {:>6} {:>6} {:>6} {:>4} | communities/classes",
        "group",
        "n",
        "ARI",
        "NMI",
        "mIoU",
        "ms",
        "±1",
        "one",
        "G.ARI",
        "G.NMI",
        "G.mIoU",
        "G.ms",
        "±1"
    );
}

/// One group's row: ours, then GraphEM parity's, then each image's community count.
pub(crate) fn group_row(group: &str, cases: &[&Case], ours: &[&Outcome], parity: &[&Outcome]) {
    let s = summarize(cases.iter().copied().zip(ours.iter().copied()));
    let g = summarize(cases.iter().copied().zip(parity.iter().copied()));
    let counts: Vec<String> = cases
        .iter()
        .zip(ours)
        .map(|(c, o)| format!("{}/{}", o.communities, c.values.len()))
        .collect();
    println!(
        "  {:<10} {:>3} {:>6.3} {:>6.3} {:>6.3} {:>6.0} {:>4} {:>4} | {:>6.3} {:>6.3} {:>6.3} {:>6.0} {:>4} | {}",
        group,
        s.n,
        s.ari,
        s.nmi,
        s.miou,
        s.ms,
        s.within_one,
        s.single,
        g.ari,
        g.nmi,
        g.miou,
        g.ms,
        g.within_one,
        counts.join(" ")
    );
}

/// One image's row, for `--images`.
pub(crate) fn image_row(case: &Case, ours: &Outcome, parity: &Outcome) {
    println!(
        "    {:<34} ARI {:>6.3} NMI {:>6.3} mIoU {:>6.3} comm {:>2}/{} {:>6.0} ms | GraphEM ARI {:>6.3} comm {:>2}",
        case.name,
        ours.scores.ari,
        ours.scores.nmi,
        ours.scores.mean_iou,
        ours.communities,
        case.values.len(),
        ours.ms,
        parity.scores.ari,
        parity.communities
    );
}
