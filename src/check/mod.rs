//! `kubectl vmmigrate check`: every live-migration prerequisite at once.
//!
//! A thin IO shell ([`snapshot`]: one paginated LIST per kind, a handful of access reviews, optional
//! server-side dry-runs) around a pure engine ([`evaluate`], [`evaluate_all`]) that turns a
//! [`ClusterSnapshot`] into a [`CheckReport`]: per VM a list of [`Check`]s, a per-node eligibility table and
//! the effective migration configuration. [`render`] turns a report into a table, JSON or YAML; the JSON
//! contract is documented in `docs/check-output.md`.
//!
//! Check ids (stable): `kubevirt.installed`, `vm.running`, `migratable.server`, `migratable.disks`,
//! `migratable.network`, `migratable.cpu`, `migratable.hostdevices`, `migratable.sev`,
//! `migratable.reservation`, `migratable.tsc`, `migratable.hypervpassthrough`, `migratable.consistency`,
//! `eviction.strategy`, `storage.volume`, `network.interface`, `nodes.target`, `config.migration`,
//! `config.parallel`, `migration.inflight`, `permission.*` (see [`permissions::NEEDS`]), `admission.dryrun`.

pub mod command;
pub mod config;
pub mod index;
pub mod migratable;
pub mod nodes;
pub mod permissions;
pub mod render;
pub mod rules;
pub mod snapshot;

use serde::Serialize;

use crate::exit::ExitCode;

pub use config::EffectiveConfig;
pub use index::Index;
pub use nodes::NodeVerdict;
pub use snapshot::{ClusterSnapshot, gather};

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Skip,
    Warn,
    Fail,
}

impl Status {
    /// The symbol shown in the table.
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Pass => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
            Status::Skip => "-",
        }
    }
}

/// One check of one VM.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// Stable id (see the module documentation).
    pub id: &'static str,
    pub status: Status,
    /// One line naming the object at fault.
    pub reason: String,
    /// One line saying what to do about it (absent when nothing is to be done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// For `migratable.*`: KubeVirt's LiveMigratable reason this check re-derives (e.g. `DisksNotLiveMigratable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubevirt_reason: Option<String>,
}

impl Check {
    pub fn new(id: &'static str, status: Status, reason: impl Into<String>) -> Self {
        Check { id, status, reason: reason.into(), fix: None, kubevirt_reason: None }
    }
    pub fn pass(id: &'static str, reason: impl Into<String>) -> Self {
        Self::new(id, Status::Pass, reason)
    }
    pub fn warn(id: &'static str, reason: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(id, Status::Warn, reason).with_fix(fix)
    }
    pub fn fail(id: &'static str, reason: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(id, Status::Fail, reason).with_fix(fix)
    }
    pub fn skip(id: &'static str, reason: impl Into<String>) -> Self {
        Self::new(id, Status::Skip, reason)
    }
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// The overall answer for one VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// No check failed and none warned.
    Migratable,
    /// No check failed, at least one warned.
    MigratableWithWarnings,
    /// At least one check failed.
    NotMigratable,
}

impl Verdict {
    pub fn of(checks: &[Check]) -> Verdict {
        match checks.iter().map(|c| c.status).max() {
            Some(Status::Fail) => Verdict::NotMigratable,
            Some(Status::Warn) => Verdict::MigratableWithWarnings,
            _ => Verdict::Migratable,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Migratable => "MIGRATABLE",
            Verdict::MigratableWithWarnings => "MIGRATABLE (with warnings)",
            Verdict::NotMigratable => "NOT MIGRATABLE",
        }
    }
}

/// A LiveMigratable blocker as KubeVirt v1.5 would report it (reason and exact message).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blocker {
    /// The check id this blocker belongs to (`migratable.disks`, ...).
    #[serde(skip)]
    pub id: &'static str,
    /// KubeVirt's condition reason, e.g. `DisksNotLiveMigratable`.
    pub reason: &'static str,
    /// KubeVirt's exact condition message.
    pub message: String,
    /// What to do about it.
    #[serde(skip)]
    pub fix: String,
}

/// Everything `check` found out about one VM.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VmReport {
    pub namespace: String,
    pub name: String,
    /// The node the VMI runs on (absent when it is not running).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub verdict: Verdict,
    /// All LiveMigratable blockers re-derived client-side, in KubeVirt's evaluation order (the first one is what
    /// the server's condition shows).
    pub blockers: Vec<Blocker>,
    pub checks: Vec<Check>,
    /// One entry per node of the cluster (empty when the VM is not running or nodes could not be listed).
    pub nodes: Vec<NodeVerdict>,
    /// The migration configuration this VM's next migration would get.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_config: Option<EffectiveConfig>,
}

impl VmReport {
    /// Exit-code contribution of this VM.
    pub fn fails(&self, strict: bool) -> bool {
        match self.verdict {
            Verdict::NotMigratable => true,
            Verdict::MigratableWithWarnings => strict,
            Verdict::Migratable => false,
        }
    }
}

/// The report of one `check` run: the JSON/YAML document.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// Always `vmmigrate.kubevirt.io/v1alpha1`.
    pub api_version: &'static str,
    /// Always `CheckReport`.
    pub kind: &'static str,
    /// `observedKubeVirtVersion` of the KubeVirt CR, when readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubevirt_version: Option<String>,
    pub vms: Vec<VmReport>,
}

impl CheckReport {
    pub fn new(kubevirt_version: Option<String>, vms: Vec<VmReport>) -> Self {
        CheckReport { api_version: "vmmigrate.kubevirt.io/v1alpha1", kind: "CheckReport", kubevirt_version, vms }
    }

    /// 0 when every VM is migratable (warnings allowed unless `strict`), else 3.
    pub fn exit_code(&self, strict: bool) -> ExitCode {
        if self.vms.iter().any(|vm| vm.fails(strict)) { ExitCode::NotMigratable } else { ExitCode::Success }
    }
}

/// What the user asked for on the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckRequest {
    /// VM names (in the one namespace).
    pub vms: Vec<String>,
    /// `--all`.
    pub all: bool,
    /// `-l SELECTOR` (on VM labels).
    pub selector: Option<String>,
    /// `-n NS`; else the kubeconfig's namespace.
    pub namespace: Option<String>,
    /// `-A`.
    pub all_namespaces: bool,
    /// `--strict`: warnings count as failures for the exit code.
    pub strict: bool,
    /// `--server-dry-run`: dry-run the VMIM create also for `--all`/`-l`.
    pub server_dry_run: bool,
    /// `--probe`: also check the permissions the downtime probe needs.
    pub probe: bool,
    /// The API server URL, only for error messages (`CheckError::Unreachable`).
    pub server: Option<String>,
}

impl CheckRequest {
    /// Checks the combination of arguments (exit code 2 on error).
    pub fn validate(&self) -> Result<(), CheckError> {
        let modes = usize::from(!self.vms.is_empty()) + usize::from(self.all) + usize::from(self.selector.is_some());
        if modes == 0 {
            return Err(CheckError::Usage("name a VM, or use --all or -l SELECTOR".into()));
        }
        if modes > 1 {
            return Err(CheckError::Usage("VM names, --all and -l SELECTOR are mutually exclusive".into()));
        }
        if self.all_namespaces && !self.vms.is_empty() {
            return Err(CheckError::Usage("a VM cannot be named across all namespaces (-A); use -n NAMESPACE".into()));
        }
        if self.all_namespaces && self.namespace.is_some() {
            return Err(CheckError::Usage("-n and -A are mutually exclusive".into()));
        }
        Ok(())
    }

    /// Whether the VMIM dry-run runs for the VMs of this request.
    pub fn wants_dry_run(&self) -> bool {
        !self.vms.is_empty() || self.server_dry_run
    }
}

/// Why `check` could not evaluate: one clear line each, exit code 1 (2 for usage).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("KubeVirt is not installed: {0}")]
    KubeVirtNotInstalled(String),
    #[error("VirtualMachine {ns}/{name} not found")]
    VmNotFound { ns: String, name: String },
    #[error("namespace {0} not found")]
    NamespaceNotFound(String),
    #[error("forbidden: you cannot {verb} {resource}{}", in_namespace(.namespace))]
    Forbidden { verb: String, resource: String, namespace: Option<String> },
    #[error("cannot reach the API server at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("API error: {0}")]
    Api(String),
    #[error("{0}")]
    Usage(String),
}

fn in_namespace(ns: &Option<String>) -> String {
    ns.as_ref().map(|n| format!(" in namespace {n}")).unwrap_or_default()
}

impl CheckError {
    /// 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> ExitCode {
        if matches!(self, CheckError::Usage(_)) { ExitCode::Usage } else { ExitCode::Error }
    }
}

/// Options of the pure evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvalOptions {
    /// Check the permissions of the downtime probe too.
    pub probe: bool,
}

/// Evaluates one VM (or bare VMI) of the snapshot. Pure; used by `run` before it migrates.
pub fn evaluate(snapshot: &ClusterSnapshot, namespace: &str, name: &str, opts: &EvalOptions) -> VmReport {
    rules::evaluate_vm(&Index::new(snapshot), namespace, name, opts)
}

/// Evaluates every target of the snapshot ([`ClusterSnapshot::targets`]) with one shared index.
pub fn evaluate_all(snapshot: &ClusterSnapshot, opts: &EvalOptions) -> CheckReport {
    let index = Index::new(snapshot);
    let vms = snapshot.targets.iter().map(|(ns, name)| rules::evaluate_vm(&index, ns, name, opts)).collect();
    CheckReport::new(index.kubevirt_version().map(str::to_owned), vms)
}

/// Gathers the snapshot the request needs and evaluates it: the entry point of `kubectl vmmigrate check`.
pub async fn run(
    client: &kube::Client,
    default_namespace: &str,
    req: &CheckRequest,
) -> Result<CheckReport, CheckError> {
    req.validate()?;
    let snapshot = gather(client, default_namespace, req).await?;
    Ok(evaluate_all(&snapshot, &EvalOptions { probe: req.probe }))
}

#[cfg(test)]
pub(crate) mod tests;
