//! The three classifiers over unit-length rows. Each gives every chip a score per class;
//! the scores of a chip are non-negative and sum to 1 (or are all 0 where nothing reached it).
//!
//! - [`prototypes`]: each class's mean example, and a softmax over the cosines to them.
//! - [`propagation`]: the labels spread along the k-NN graph over the frame's chips and the
//!   examples (Zhou et al., "Learning with local and global consistency", 2004).
//! - [`logistic`]: multinomial logistic regression on the examples.

pub mod logistic;
pub mod propagation;
pub mod prototypes;

use serde::{Deserialize, Serialize};

/// How the examples become a classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Nearest class mean by cosine.
    Prototypes,
    /// Label propagation over the k-NN graph (semi-supervised: unlabelled chips carry the
    /// labels along).
    Propagation,
    /// A logistic-regression model on the features.
    Logistic,
}

impl Method {
    /// Every method, in the order reports list them.
    pub const ALL: [Method; 3] = [Method::Prototypes, Method::Propagation, Method::Logistic];

    /// The method's name on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Method::Prototypes => "prototypes",
            Method::Propagation => "propagation",
            Method::Logistic => "logistic",
        }
    }

    /// The method named `s`, or a message listing the names.
    pub fn parse(s: &str) -> Result<Method, String> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!("unknown classifier method `{s}`; use prototypes, propagation or logistic")
            })
    }
}

/// Dot product of two rows.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `v` turned into a probability row in place: `exp(v / t)` normalised.
pub(crate) fn softmax(v: &mut [f32], temperature: f32) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = ((*x - max) / temperature).exp();
        sum += *x;
    }
    v.iter_mut().for_each(|x| *x /= sum);
}
