//! What one `run` (or `probe`) invocation observed and measured: the plain data that the result on stdout, the
//! validation reports (Markdown, JSON, JUnit) and the metrics are all rendered from.
//!
//! `migrate::command` (the shell) fills a [`RunRecord`] as it goes: the pre-flight check, the probe's placement
//! and baseline, one [`Hop`] per migration (`--repeat`, `--round-trip`), the gates. `report` renders it. Nothing
//! in here is an expectation: a figure that was not measured is `None` with the reason beside it.

use serde::Serialize;

use crate::check::CheckReport;
use crate::migrate::MigrationResult;
use crate::probe::analysis::TargetAnalysis;

/// Everything one invocation of `run` observed, in the order it happened.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// `kubectl-vmmigrate` version.
    pub tool_version: String,
    pub namespace: String,
    pub vm: String,
    /// When the command started and ended (RFC 3339, local clock of the machine running the plugin).
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// The options that shape what was measured (never credentials).
    pub options: RunOptions,
    /// The cluster and VM as found before the first migration (filled by `report::gather`, if it could read them).
    pub environment: Option<serde_json::Value>,
    /// The pre-flight `check` of the VM (absent with `--skip-check`).
    pub check: Option<CheckReport>,
    /// Where the probe ran, its tools and its baseline (absent without `--probe`).
    pub probe: Option<ProbeSetup>,
    /// One entry per migration, in order.
    pub hops: Vec<Hop>,
    /// The thresholds asked for and whether they held.
    pub gates: Vec<Gate>,
    /// Warnings met along the way (probe placement, ephemeral containers left in a pod spec, stuck phases...).
    pub warnings: Vec<String>,
    /// Why the command stopped early, if it did (refused by check, interrupted, probe broke, API error...).
    pub error: Option<String>,
    /// The exit code the command ends with.
    pub exit_code: i32,
}

/// The `run` options recorded in a report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOptions {
    pub probe: bool,
    pub round_trip: bool,
    pub repeat: u32,
    pub probe_interval_ms: Option<f64>,
    pub probe_tail_ms: Option<f64>,
    pub max_downtime_ms: Option<f64>,
    pub max_duration_seconds: Option<f64>,
    pub timeout_seconds: Option<f64>,
    pub skip_check: bool,
}

/// Where and how the probe ran.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSetup {
    /// `pod` (a short-lived prober pod) or `ephemeral` (an ephemeral container in an existing pod).
    pub placement: String,
    /// The pod the probe ran in, and its container.
    pub pod: Option<String>,
    pub container: Option<String>,
    /// The node it ran on.
    pub node: Option<String>,
    pub image: String,
    /// The ping flavour found in the image (`iputils`, `busybox`), if ping was needed.
    pub ping_flavour: Option<String>,
    /// The targets probed and where each came from.
    pub targets: Vec<PlannedTarget>,
    /// The baseline taken before migrating, per target.
    pub baseline: Vec<TargetResult>,
    /// What was done to leave nothing behind (`prober pod deleted`, `ephemeral container remains in pod X`...).
    pub cleanup: Option<String>,
}

/// One probe target and why it is probed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedTarget {
    /// The address, host name or URL as probed.
    pub target: String,
    /// `icmp` or `http`.
    pub method: String,
    /// `interface` (VMI status.interfaces), `service` (a Service selecting the VM's pods) or `flag`
    /// (`--probe-target`, `--probe-http`).
    pub source: String,
    /// The VMI network name (`default`, `lan`), or the Service's `namespace/name`, when known.
    pub via: Option<String>,
}

/// What the probe measured for one target over one hop (or the baseline).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetResult {
    pub target: PlannedTarget,
    /// The analysis; `None` when nothing could be measured (then `not_measured` says why).
    pub analysis: Option<TargetAnalysis>,
    pub not_measured: Option<String>,
}

/// One migration.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hop {
    /// 1-based.
    pub index: u32,
    /// The migration's result, as `run -o json` prints it for a single migration.
    pub result: MigrationResult,
    /// The probe's figures during this hop (empty without `--probe`).
    pub targets: Vec<TargetResult>,
    /// The hypervisor pause as libvirt logged it (`Downtime:` in the source virt-launcher log, KubeVirt v1.9+).
    pub hypervisor_downtime_ms: Option<f64>,
    /// Why the hypervisor pause is not known, when it is not.
    pub hypervisor_downtime_unavailable: Option<String>,
}

/// A threshold (`--max-downtime`, `--max-duration`) and whether it held.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gate {
    /// The flag: `max-downtime` or `max-duration`.
    pub name: String,
    /// What it applies to (`hop 2`, `hop 1 192.168.1.150`...).
    pub subject: String,
    /// The limit and the measured value, in `unit`.
    pub limit: f64,
    pub measured: Option<f64>,
    /// `ms` or `s`.
    pub unit: String,
    /// true when it held. A value that could not be measured fails the gate (a gate must not pass on no data).
    pub passed: bool,
    /// One line: why it passed or failed.
    pub detail: String,
}
