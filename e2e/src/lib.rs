//! Harness for serin's end-to-end tests against a real local control plane
//! (`e2e/cluster.sh up`) and a real Prometheus.
//!
//! Every test runs in a fresh namespace through [`with_namespace`]; waits are
//! bounded ([`wait`]); a failing test prints the namespace's objects, events
//! and the logs of any serin process it started ([`dump`]).

pub mod corpus;
pub mod crds;
pub mod dump;
pub mod env;
pub mod examples;
pub mod fixtures;
pub mod helm;
pub mod loadtester;
pub mod mesh;
pub mod namespace;
pub mod plugin;
pub mod prometheus;
pub mod rbac;
pub mod receiver;
pub mod serin;
pub mod simulator;
pub mod wait;

pub use namespace::{TestContext, with_namespace};
