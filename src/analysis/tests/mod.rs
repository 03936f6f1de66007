//! Unit tests of the analysis engine.

mod builtin;
mod prometheus;
mod template;
mod verdict;
