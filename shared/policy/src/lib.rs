//! Closed-loop policies for electron-microscope acquisitions: a TOML file of named rules
//! over a run's community and class fractions, checked at load ([`Policy::parse`], with
//! errors that name the line), then evaluated frame by frame ([`evaluate`]) into the
//! [`tessera_protocol::Action`]s the decider sends to the instrument. Each rule fires once
//! when its condition has held long enough, then waits to re-arm; what it remembers lives in
//! a serializable [`RunState`]. Domain logic only: no I/O, no async. The format is described
//! in docs/policies.md.

mod error;
mod evaluate;
mod file;
mod observe;
mod rules;
mod state;

pub use error::PolicyError;
pub use evaluate::{Evaluation, Proposer, evaluate};
pub use file::Policy;
pub use observe::Observation;
pub use rules::{
    ACTIONS, ActionSpec, Compare, Condition, KINDS, Level, MAX_FRAMES, MAX_RULES, MAX_WINDOW, Per,
    Rule, Target,
};
pub use state::RunState;
