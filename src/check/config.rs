//! The migration configuration a VM's next migration gets: KubeVirt v1.5 defaults, overridden by the KubeVirt
//! CR's `spec.configuration.migrations`, overridden by the best-matching MigrationPolicy.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Check;
use crate::kubevirt::{KubeVirt, MigrationConfiguration, MigrationPolicy, VirtualMachineInstance};
use crate::quantity;

/// Where an effective value comes from: `default`, `kubevirt` (the CR) or `policy:<name>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: String,
}

const DEFAULT: &str = "default";
const KUBEVIRT: &str = "kubevirt";

fn sourced<T>(cr: Option<T>, default: T) -> Sourced<T> {
    match cr {
        Some(value) => Sourced { value, source: KUBEVIRT.into() },
        None => Sourced { value: default, source: DEFAULT.into() },
    }
}

fn override_with<T>(target: &mut Sourced<T>, value: Option<T>, source: &str) -> bool {
    match value {
        Some(v) => {
            *target = Sourced { value: v, source: source.into() };
            true
        }
        None => false,
    }
}

/// Every field of `MigrationConfiguration` with its value and source, plus what it means for this VM.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveConfig {
    pub parallel_migrations_per_cluster: Sourced<u32>,
    pub parallel_outbound_migrations_per_node: Sourced<u32>,
    /// Per second; `"0"` = unlimited.
    pub bandwidth_per_migration: Sourced<String>,
    pub completion_timeout_per_gi_b: Sourced<i64>,
    pub progress_timeout: Sourced<i64>,
    pub allow_auto_converge: Sourced<bool>,
    pub allow_post_copy: Sourced<bool>,
    pub allow_workload_disruption: Sourced<bool>,
    pub unsafe_migration_override: Sourced<bool>,
    #[serde(rename = "disableTLS")]
    pub disable_tls: Sourced<bool>,
    /// NAD of the dedicated migration network; `None` = the pod network.
    pub network: Sourced<Option<String>>,
    /// `None` (unset) behaves as `true` in v1.5's code.
    #[serde(rename = "matchSELinuxLevelOnMigration")]
    pub match_se_linux_level_on_migration: Sourced<Option<bool>>,
    pub node_drain_taint_key: Sourced<String>,
    /// The MigrationPolicy that matches the VMI, if any (recorded even when it overrides nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Guest memory in bytes (`memory.guest`, else the memory request).
    pub memory_bytes: u64,
    /// Memory in decimal GB rounded up, as KubeVirt sizes the completion timeout.
    pub data_size_gb: u64,
    /// `completionTimeoutPerGiB × dataSizeGB`: after this many seconds the migration is aborted (or switched to
    /// post-copy/paused when `allowWorkloadDisruption`).
    pub completion_timeout_seconds: i64,
}

impl EffectiveConfig {
    /// Defaults overridden by the CR's `spec.configuration.migrations`.
    pub fn from_cluster(cr: Option<&MigrationConfiguration>) -> Self {
        let c = cr.cloned().unwrap_or_default();
        let allow_post_copy = sourced(c.allow_post_copy, false);
        let allow_workload_disruption = match c.allow_workload_disruption {
            Some(v) => Sourced { value: v, source: KUBEVIRT.into() },
            None => Sourced {
                value: allow_post_copy.value,
                source: format!("{} (= allowPostCopy)", allow_post_copy.source),
            },
        };
        EffectiveConfig {
            parallel_migrations_per_cluster: sourced(c.parallel_migrations_per_cluster, 5),
            parallel_outbound_migrations_per_node: sourced(c.parallel_outbound_migrations_per_node, 2),
            bandwidth_per_migration: sourced(c.bandwidth_per_migration.map(|q| q.0), "0".into()),
            completion_timeout_per_gi_b: sourced(c.completion_timeout_per_gi_b, 150),
            progress_timeout: sourced(c.progress_timeout, 150),
            allow_auto_converge: sourced(c.allow_auto_converge, false),
            allow_post_copy,
            allow_workload_disruption,
            unsafe_migration_override: sourced(c.unsafe_migration_override, false),
            disable_tls: sourced(c.disable_tls, false),
            network: sourced(c.network.map(Some), None),
            match_se_linux_level_on_migration: sourced(c.match_se_linux_level_on_migration.map(Some), None),
            node_drain_taint_key: sourced(c.node_drain_taint_key, "kubevirt.io/drain".into()),
            policy: None,
            memory_bytes: 0,
            data_size_gb: 0,
            completion_timeout_seconds: 0,
        }
    }

    /// Applies a MigrationPolicy's overrides (`GetMigrationConfByPolicy`).
    pub fn apply_policy(&mut self, policy: &MigrationPolicy) {
        let name = policy.metadata.name.clone().unwrap_or_default();
        let src = format!("policy:{name}");
        let s = &policy.spec;
        override_with(&mut self.allow_auto_converge, s.allow_auto_converge, &src);
        override_with(&mut self.bandwidth_per_migration, s.bandwidth_per_migration.clone().map(|q| q.0), &src);
        override_with(&mut self.completion_timeout_per_gi_b, s.completion_timeout_per_gi_b, &src);
        override_with(&mut self.allow_post_copy, s.allow_post_copy, &src);
        if !override_with(&mut self.allow_workload_disruption, s.allow_workload_disruption, &src) {
            override_with(&mut self.allow_workload_disruption, s.allow_post_copy, &format!("{src} (= allowPostCopy)"));
        }
        self.policy = Some(name);
    }

    /// Sets the VM-specific figures from its memory.
    pub fn for_memory(mut self, memory_bytes: u64) -> Self {
        self.memory_bytes = memory_bytes;
        self.data_size_gb = memory_bytes.div_ceil(1_000_000_000);
        self.completion_timeout_seconds = self.completion_timeout_per_gi_b.value * self.data_size_gb as i64;
        self
    }
}

/// The VMI's memory as KubeVirt sizes a migration: `memory.guest`, else `resources.requests.memory`.
pub fn vmi_memory(vmi: &VirtualMachineInstance) -> Option<u64> {
    let d = &vmi.spec.domain;
    d.memory
        .as_ref()
        .and_then(|m| m.guest.as_ref())
        .or_else(|| d.resources.requests.as_ref().and_then(|r| r.get("memory")))
        .and_then(quantity::bytes)
}

fn matches_all(selector: Option<&BTreeMap<String, String>>, labels: &BTreeMap<String, String>) -> Option<usize> {
    let selector = selector.cloned().unwrap_or_default();
    selector.iter().all(|(k, v)| labels.get(k) == Some(v)).then_some(selector.len())
}

/// The best-matching policy (`matchPolicy`): every selector label must match; most matched labels wins, ties go
/// to more VMI labels, then to the smallest name.
pub fn match_policy<'a>(
    policies: &'a [MigrationPolicy],
    vmi_labels: &BTreeMap<String, String>,
    namespace_labels: &BTreeMap<String, String>,
) -> Option<&'a MigrationPolicy> {
    policies
        .iter()
        .filter_map(|p| {
            let selectors = p.spec.selectors.as_ref()?;
            let vmi = matches_all(selectors.virtual_machine_instance_selector.as_ref(), vmi_labels)?;
            let ns = matches_all(selectors.namespace_selector.as_ref(), namespace_labels)?;
            Some((p, vmi + ns, vmi))
        })
        .min_by(|(a, total_a, vmi_a), (b, total_b, vmi_b)| {
            total_b.cmp(total_a).then(vmi_b.cmp(vmi_a)).then(a.metadata.name.cmp(&b.metadata.name))
        })
        .map(|(p, ..)| p)
}

/// The effective configuration of one VMI.
pub fn effective(
    kubevirt: Option<&KubeVirt>,
    policies: &[MigrationPolicy],
    vmi: &VirtualMachineInstance,
    namespace_labels: &BTreeMap<String, String>,
) -> EffectiveConfig {
    let mut config = EffectiveConfig::from_cluster(kubevirt.and_then(|kv| kv.spec.configuration.migrations.as_ref()));
    let empty = BTreeMap::new();
    if let Some(p) = match_policy(policies, vmi.metadata.labels.as_ref().unwrap_or(&empty), namespace_labels) {
        config.apply_policy(p);
    }
    config.for_memory(vmi_memory(vmi).unwrap_or(0))
}

/// `config.migration`: a one-line summary of the effective configuration.
/// `block_migration`: the VMI's `migrationMethod` is BlockMigration (its local disks are copied too).
pub fn summary_check(config: &EffectiveConfig, kubevirt_readable: bool, block_migration: bool) -> Check {
    let policy = match &config.policy {
        Some(p) => format!("MigrationPolicy {p}"),
        None => "no MigrationPolicy matches".into(),
    };
    let bw = match config.bandwidth_per_migration.value.as_str() {
        "0" | "0Mi" => "unlimited".to_owned(),
        other => format!("{other}/s"),
    };
    let local_disks = if block_migration { " + local disks (BlockMigration)" } else { "" };
    let reason = format!(
        "{policy}; completion timeout {} s ({} s/GiB × {} GB{local_disks}), progress timeout {} s, bandwidth {bw}, \
         autoConverge {}, postCopy {}",
        config.completion_timeout_seconds,
        config.completion_timeout_per_gi_b.value,
        config.data_size_gb,
        config.progress_timeout.value,
        config.allow_auto_converge.value,
        config.allow_post_copy.value,
    );
    if kubevirt_readable {
        Check::pass("config.migration", reason)
    } else {
        Check::warn(
            "config.migration",
            format!("KubeVirt CR not readable, assuming defaults: {reason}"),
            "grant list on kubevirts.kubevirt.io to see the real configuration",
        )
    }
}

/// `config.parallel`: would a new migration wait in Pending behind the parallel limits?
pub fn parallel_check(config: &EffectiveConfig, running_cluster: usize, running_outbound: usize, node: &str) -> Check {
    let cluster = config.parallel_migrations_per_cluster.value as usize;
    let per_node = config.parallel_outbound_migrations_per_node.value as usize;
    const FIX: &str = "wait for the running migrations to finish, or raise the limit in the KubeVirt CR";
    if running_cluster >= cluster {
        Check::warn(
            "config.parallel",
            format!(
                "{running_cluster} migrations already running cluster-wide (parallelMigrationsPerCluster {cluster}): a \
                 new one waits in Pending"
            ),
            FIX,
        )
    } else if running_outbound >= per_node {
        Check::warn(
            "config.parallel",
            format!(
                "{running_outbound} migrations already running out of node {node} (parallelOutboundMigrationsPerNode \
                 {per_node}): a new one waits in Pending"
            ),
            FIX,
        )
    } else {
        Check::pass(
            "config.parallel",
            format!(
                "{running_cluster}/{cluster} migrations running cluster-wide, {running_outbound}/{per_node} out of node {node}"
            ),
        )
    }
}
