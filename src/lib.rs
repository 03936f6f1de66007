//! serin: a progressive-delivery controller for Kubernetes.

pub mod cli;
pub mod controller;
pub mod error;
pub mod telemetry;
