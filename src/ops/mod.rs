//! Operations: Prometheus metrics, health endpoints and leader election.
//!
//! The controller owns one [`Metrics`] and one [`Health`], serves them with [`server::serve`], and gates its
//! writes on a [`LeaderElector`]'s `is_leader` channel.

pub mod leader;
pub mod lease;
pub mod metrics;
pub mod server;

pub use leader::{LeaderConfig, LeaderElector, LeaderError, default_identity};
pub use metrics::Metrics;
pub use server::{Health, ServerError};
