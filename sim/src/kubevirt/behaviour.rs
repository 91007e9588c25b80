//! How simulated migrations behave: timing, outcome, memory transfer, network effects. A scenario sets a
//! default and may override it per VM.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The behaviour of migrations of one VM (or the scenario's default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct MigrationBehaviour {
    /// Simulated milliseconds spent in each phase before the next one (Running is governed by the memory model).
    pub phase_durations_ms: PhaseDurations,
    pub outcome: Outcome,
    pub memory: MemoryModel,
    /// Whether the VM's pod-network IP changes on the move (masquerade without IP retention).
    pub ip_change: bool,
    /// Network outage at the switchover, in simulated ms, per IP address; key `*` is every other address.
    pub outage_ms: BTreeMap<String, u64>,
}

impl Default for MigrationBehaviour {
    fn default() -> Self {
        Self {
            phase_durations_ms: PhaseDurations::default(),
            outcome: Outcome::Succeed,
            memory: MemoryModel::default(),
            ip_change: false,
            outage_ms: BTreeMap::from([("*".to_string(), 180)]),
        }
    }
}

/// Simulated milliseconds per phase (the seed's migration: Pending 1 s, Scheduling 7 s, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PhaseDurations {
    pub pending: u64,
    pub scheduling: u64,
    pub scheduled: u64,
    pub preparing_target: u64,
    pub target_ready: u64,
}

impl Default for PhaseDurations {
    fn default() -> Self {
        Self { pending: 1000, scheduling: 7000, scheduled: 200, preparing_target: 1000, target_ready: 1000 }
    }
}

/// How a migration ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", deny_unknown_fields)]
pub enum Outcome {
    /// Succeeds when the memory model converges.
    Succeed,
    /// Fails when it reaches `phase`, with `reason` as the failure reason.
    #[serde(rename_all = "camelCase")]
    FailAt { phase: String, reason: String },
    /// Never leaves `phase` (until aborted or timed out).
    #[serde(rename_all = "camelCase")]
    StallAt { phase: String },
    /// The target virt-launcher pod stays Pending/Unschedulable (KubeVirt fails it after 300 s).
    TargetUnschedulable,
}

/// The pre-copy memory-transfer model behind the `Migration info for ...` log lines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct MemoryModel {
    /// Transfer bandwidth in MiB/s.
    pub bandwidth_mib_s: f64,
    /// Rate at which the guest dirties memory, MiB/s.
    pub dirty_rate_mib_s: f64,
    /// Share of guest memory actually in use (the rest is zero pages, sent cheaply), 0..=1.
    pub used_fraction: f64,
    /// The switchover happens once the remaining data can be sent within this many ms (QEMU's 300 ms default).
    pub max_downtime_ms: u64,
}

impl Default for MemoryModel {
    fn default() -> Self {
        Self { bandwidth_mib_s: 1024.0, dirty_rate_mib_s: 40.0, used_fraction: 0.25, max_downtime_ms: 300 }
    }
}

/// The behaviours of a scenario: a default and overrides per VM (`"<namespace>/<vm>"`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct BehaviourMap {
    pub default: MigrationBehaviour,
    pub per_vm: BTreeMap<String, MigrationBehaviour>,
}

impl BehaviourMap {
    /// The behaviour of migrations of `namespace/vm`.
    pub fn for_vm(&self, namespace: &str, vm: &str) -> &MigrationBehaviour {
        self.per_vm.get(&format!("{namespace}/{vm}")).unwrap_or(&self.default)
    }
}
