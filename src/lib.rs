//! `kubectl-vmmigrate`: check, run and measure KubeVirt live migrations.
//!
//! A pure core over plain data (`check` rules, `migrate` state machine and progress parsing, `probe`
//! parsers and downtime analysis, `report` renderers) and a thin shell at the edges (`cluster` for the kube
//! client, `term` for the terminal, `cli` for arguments, `exit` for the one map from outcomes to exit codes,
//! `app` for dispatching a command line to the commands).

pub mod app;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod complete;
pub mod duration;
pub mod exit;
pub mod kubectl_completion;
pub mod kubevirt;
pub mod migrate;
pub mod probe;
pub mod quantity;
pub mod rbac;
pub mod record;
pub mod report;
pub mod term;
