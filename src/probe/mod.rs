//! The downtime probe: where it runs, what it runs, and the pure parsers and analysis of its output.

pub mod analysis;
pub mod command;
pub mod discover;
pub mod http;
pub mod ping;
pub mod placement;
pub mod probe_command;
pub mod session;
pub mod synthetic;
pub mod target;
