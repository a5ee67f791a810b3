//! [`RoiError`]: what is wrong with the input, in words.

/// Everything that can stop [`crate::propose`]; each says what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoiError {
    /// The chip geometry cannot be laid out.
    #[error("invalid chip grid: {0}")]
    Grid(String),
    /// The labels do not match the grid's chips.
    #[error(
        "the frame has {got} chip labels, but its grid has {expected} chips ({cols} columns × \
         {rows} rows); send one label per chip, in grid order"
    )]
    LabelCount {
        /// Labels sent.
        got: usize,
        /// Chips of the grid.
        expected: u128,
        /// Chip columns.
        cols: u64,
        /// Chip rows.
        rows: u64,
    },
    /// The confidences are of the wrong length or not finite margins `>= 0`.
    #[error("chip confidences: {0}")]
    Confidence(String),
    /// The low-confidence goal on a frame without confidences.
    #[error(
        "the frame carries no chip confidences, which the low_confidence goal needs; run the \
         pipeline with confidence votes, or choose another goal"
    )]
    NoConfidence,
    /// The class indices are of the wrong length or out of range.
    #[error("chip classes: {0}")]
    Classes(String),
    /// A class focus on a frame without classes.
    #[error(
        "the boundary focus is class {0}, but the frame carries no few-shot classes; focus on \
         a community, or run a classifier"
    )]
    NoClasses(String),
    /// The boundary goal without a focus.
    #[error("the boundary goal needs a focus: a community id or a class name")]
    NoFocus,
    /// The focus is not in the frame.
    #[error("boundary focus: {0}")]
    FocusAbsent(String),
    /// The magnification is not a number from 1 to the protocol's limit.
    #[error("magnification {0}")]
    Magnification(String),
    /// Zero proposals asked for.
    #[error("limit is 0; ask for at least one proposal")]
    ZeroLimit,
    /// The pixel size is not a positive finite number.
    #[error("pixel size {0}")]
    PixelSize(String),
    /// A visited region is empty or outside the frame.
    #[error("visited region {index} {reason}")]
    Visited {
        /// Its index in the list.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A proposal failed the protocol's check (a bug here, reported rather than sent).
    #[error("proposal refused by the protocol's check: {0}")]
    Proposal(String),
}
