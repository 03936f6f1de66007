//! The rollout state machine. [`decide`] is a pure function: the Canary's
//! spec and status, what the reconciler observed, and `now` go in; the next
//! status, the actions to carry out and the events to record come out.

mod types;

pub use types::*;
