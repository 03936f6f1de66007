//! The rollout state machine. [`decide`] is a pure function: the Canary's
//! spec and status, what the reconciler observed, and `now` go in; the next
//! status, the actions to carry out and the events to record come out.

pub mod annotations;
pub mod conditions;
mod decide;
mod gates;
mod progress;
mod promote;
pub mod settings;
mod steady;
mod terminate;
mod turn;
mod types;

#[cfg(test)]
mod tests;

pub use annotations::requests_from;
pub use decide::{analysis_due, decide};
pub use gates::GATE_POLL;
pub use settings::{Settings, Strategy};
pub use types::*;
