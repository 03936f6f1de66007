//! Unit tests of the workload builders.
