//! The downtime probe: where it runs, what it runs, and the pure parsers and analysis of its output.

pub mod command;
pub mod target;
