//! `kubectl vmmigrate run | cancel | status`: create the VMIM, follow it by watch to its real end with honest
//! progress, abort on interrupt.
//!
//! Pure core: [`progress`] (virt-launcher log parser), [`stuck`] (stuck-detection rules), [`state`] (the
//! follower state machine and the result contract), [`ui`] (sinks and result rendering). Thin shell: `cluster`
//! (the kube calls), [`run`] (the event loop and the three entry points) and [`command`] (the CLI adapter).
//! The result document and exit codes: `docs/run-result.md`.

pub(crate) mod cluster;
pub mod command;
pub mod error;
pub mod gates;
pub mod hops;
pub mod measure;
pub mod progress;
pub mod run;
pub mod sequence;
pub mod state;
pub mod stuck;
pub mod summary;
pub mod ui;

pub use cluster::supports_added_node_selector;
pub use command::{cancel_command, run_command, run_recorded, status_command};
pub use error::MigrateError;
pub use run::{Command, ErrorDocument, Interrupts, RunReport, RunRequest, cancel, run, run_with_interrupts, status};
pub use state::{MigrationResult, Outcome};
pub use ui::{LineSink, ProgressSink, RecordingSink, ResultFormat, TtySink};
