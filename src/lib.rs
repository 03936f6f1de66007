//! serin: a progressive-delivery controller for Kubernetes.

pub mod analysis;
pub mod api;
pub mod applied;
pub mod cli;
pub mod controller;
pub mod crdgen;
pub mod error;
pub mod loadtester;
pub mod notify;
pub mod ops;
pub mod plugin;
pub mod rollout;
pub mod router;
pub mod telemetry;
pub mod webhook;
pub mod workload;
