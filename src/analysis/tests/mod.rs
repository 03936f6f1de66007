//! Unit tests of the analysis engine.
