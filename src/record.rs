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
    pub environment: Option<Environment>,
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
    /// `--attach`: the checks in [`ATTACH_WAIVED`] fail for the migration being followed and are not blockers.
    pub attach: bool,
}

/// The pre-flight checks that a migration in flight fails by its very existence; `run --attach` follows that
/// migration, so they do not block it (and reports do not count them as failures).
pub const ATTACH_WAIVED: [&str; 2] = ["migration.inflight", "admission.dryrun"];

impl RunOptions {
    /// Whether the failing check `id` was waived for this run.
    pub fn waived(&self, id: &str) -> bool {
        self.attach && ATTACH_WAIVED.contains(&id)
    }
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

/// The cluster and the VM as found before the first migration. What could not be read is `None` (or empty) and
/// `not_available` says what and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    /// `gitVersion` of `GET /version`.
    pub kubernetes_version: Option<String>,
    /// `status.observedKubeVirtVersion` of the KubeVirt CR.
    pub kubevirt_version: Option<String>,
    pub nodes: Vec<NodeInfo>,
    pub vm: Option<VmConfiguration>,
    /// The VMI before the first migration.
    pub vmi_before: Option<VmiState>,
    /// One line per thing that could not be read: `what: why` (`nodes: forbidden`, `KubeVirt version: ...`).
    pub not_available: Vec<String>,
}

/// One node of the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub name: String,
    /// From the `node-role.kubernetes.io/<role>` labels.
    pub roles: Vec<String>,
    /// The `Ready` condition (`None` when the node reports none).
    pub ready: Option<bool>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// The host CPU model KubeVirt found (`host-model-cpu.node.kubevirt.io/<model>`).
    pub cpu_model: Option<String>,
    /// `status.allocatable` cpu and memory, as the API shows them.
    pub allocatable_cpu: Option<String>,
    pub allocatable_memory: Option<String>,
    pub kubelet_version: Option<String>,
}

/// How the VM is configured.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VmConfiguration {
    /// `Kind/name` of `spec.instancetype`, when one is used.
    pub instancetype: Option<String>,
    pub preference: Option<String>,
    /// `spec.template.spec.domain.cpu` as `cores × sockets × threads`, when set on the VM.
    pub cpu: Option<String>,
    /// The CPU model (`host-model` when KubeVirt defaulted it), from the VMI when running.
    pub cpu_model: Option<String>,
    /// `memory.guest`, else the memory request, when set on the VM.
    pub memory: Option<String>,
    pub run_strategy: Option<String>,
    pub eviction_strategy: Option<String>,
    pub volumes: Vec<VolumeInfo>,
    pub networks: Vec<NetworkInfo>,
}

/// One volume of the VM and, for PVC-backed ones, its claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeInfo {
    pub name: String,
    /// `persistentVolumeClaim`, `dataVolume`, `containerDisk`, `cloudInitNoCloud`, ...
    pub kind: String,
    /// The PVC's name (for `persistentVolumeClaim` and `dataVolume`).
    pub claim: Option<String>,
    pub storage_class: Option<String>,
    pub access_modes: Vec<String>,
    pub volume_mode: Option<String>,
    /// `status.capacity.storage`, else the request.
    pub size: Option<String>,
    /// Why the claim could not be read, when it could not.
    pub not_available: Option<String>,
}

/// One network of the VM and how its interface is bound.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInfo {
    pub name: String,
    /// `pod`, or `multus:<networkName>`.
    pub source: String,
    /// `bridge`, `masquerade`, `sriov`, `passt`, `slirp`, `macvtap`, `binding:<plugin>`, or `none` when no
    /// interface uses the network.
    pub binding: String,
}

/// The VMI's state at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VmiState {
    pub phase: Option<String>,
    pub node: Option<String>,
    /// `status.interfaces`: per interface its addresses.
    pub interfaces: Vec<InterfaceState>,
}

/// One VMI interface and its addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceState {
    pub name: String,
    pub ip_addresses: Vec<String>,
}
