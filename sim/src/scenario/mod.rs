//! Scenarios: the built-in `haos` cluster, the scenario file format and a generator for large clusters.
//!
//! - [`format`]: the file format ([`Scenario`] and its parts), YAML or JSON;
//! - [`objects`]: pure builders turning scenario entries into Kubernetes/KubeVirt objects;
//! - [`apply`](Scenario::apply): creates them all in a [`Store`](crate::api::Store);
//! - [`generate`]: large deterministic clusters for benchmarks and agreement tests.

pub mod apply;
pub mod derive;
pub mod format;
pub mod generate;
pub mod objects;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub use apply::Applied;
pub use format::{ImageTools, Scenario};
pub use generate::{GenerateOptions, generate_yaml};

use crate::api::ApiError;
use crate::kubevirt::behaviour::BehaviourMap;

/// The built-in scenarios, by name, as shipped in `sim/scenarios/`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("haos", include_str!("../../scenarios/haos.yaml")),
    ("blockers", include_str!("../../scenarios/blockers.yaml")),
    ("faults", include_str!("../../scenarios/faults.yaml")),
];

/// Why a scenario could not be loaded or applied.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    /// A syntax or type error: `<file>:<line>:<column>: <message>`.
    #[error("{0}")]
    Parse(String),
    /// The file parses but refers to something that does not exist, or is ambiguous.
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("unknown built-in scenario {0:?} (built-in: haos, blockers, faults)")]
    UnknownBuiltin(String),
    #[error("creating {kind} {name}: {error}")]
    Store { kind: String, name: String, error: Box<ApiError> },
}

impl Scenario {
    /// Loads a scenario file: JSON when the name ends in `.json`, YAML otherwise.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError::Io { path: name.clone(), error })?;
        if path.extension().is_some_and(|e| e == "json") {
            Self::from_json(&text, &name)
        } else {
            Self::from_yaml(&text, &name)
        }
    }

    /// A built-in scenario (`haos`, `blockers`, `faults`).
    pub fn builtin(name: &str) -> Result<Self, ScenarioError> {
        let (_, text) =
            BUILTIN.iter().find(|(n, _)| *n == name).ok_or_else(|| ScenarioError::UnknownBuiltin(name.into()))?;
        Self::from_yaml(text, &format!("builtin:{name}"))
    }

    /// `haos`/`blockers`/`faults` for a built-in, otherwise a file path.
    pub fn load(name_or_path: &str) -> Result<Self, ScenarioError> {
        if BUILTIN.iter().any(|(n, _)| *n == name_or_path) {
            return Self::builtin(name_or_path);
        }
        Self::from_file(name_or_path).map_err(|e| match e {
            ScenarioError::Io { path, error } if error.kind() == std::io::ErrorKind::NotFound => ScenarioError::Io {
                path: format!("{path} (neither a built-in scenario: haos, blockers, faults; nor a file)"),
                error,
            },
            other => other,
        })
    }

    /// Parses YAML; `origin` names the source in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        // Generated clusters of 20,000 VMs are far beyond the default budget (1M events, 250k nodes).
        let mut budget = serde_saphyr::Budget::default();
        budget.max_events = 100_000_000;
        budget.max_nodes = 50_000_000;
        budget.max_total_scalar_bytes = 1 << 30;
        let mut options = serde_saphyr::Options::default();
        options.budget = Some(budget);
        let s: Self = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
            let e = e.without_snippet();
            let at = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
            let msg = e.to_string();
            let msg = msg.lines().next().unwrap_or_default();
            // The location is already in front.
            let msg = msg.rsplit_once(" at line ").map_or(msg, |(m, _)| m);
            ScenarioError::Parse(format!("{origin}{at}: {msg}"))
        })?;
        s.validate(origin)?;
        Ok(s)
    }

    /// Parses JSON; `origin` names the source in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let s: Self = serde_json::from_str(text)
            .map_err(|e| ScenarioError::Parse(format!("{origin}:{}:{}: {e}", e.line(), e.column())))?;
        s.validate(origin)?;
        Ok(s)
    }

    /// Checks the references between entries: nodes, CPU profiles, instancetypes, storage classes, NADs, and
    /// that names are unique and every volume has exactly one source.
    pub fn validate(&self, origin: &str) -> Result<(), ScenarioError> {
        let invalid = |message: String| ScenarioError::Invalid { origin: origin.into(), message };
        let mut node_names = BTreeSet::new();
        for n in &self.nodes {
            if !node_names.insert(n.name.as_str()) {
                return Err(invalid(format!("node {:?} is listed twice", n.name)));
            }
            if let Some(p) = &n.cpu
                && !self.cpu_profiles.contains_key(p)
            {
                return Err(invalid(format!("node {}: cpu profile {p:?} is not in cpuProfiles", n.name)));
            }
        }
        let quantity = |what: String, q: &str| match derive::quantity_bytes(q) {
            Some(_) => Ok(()),
            None => Err(invalid(format!("{what}: {q:?} is not a quantity such as 4Gi"))),
        };
        for it in &self.cluster.instancetypes {
            quantity(format!("instancetype {} memory", it.name), &it.memory)?;
        }
        let instancetypes: BTreeSet<&str> = self.cluster.instancetypes.iter().map(|i| i.name.as_str()).collect();
        let classes: BTreeSet<&str> = self.cluster.storage_classes.iter().map(|c| c.name.as_str()).collect();
        let nads: BTreeSet<String> = self.cluster.nads.iter().map(|n| format!("{}/{}", n.namespace, n.name)).collect();
        let mut vms = BTreeSet::new();
        let mut claims = BTreeSet::new();
        let mut pods = BTreeSet::new();
        for vm in &self.vms {
            let id = format!("{}/{}", vm.namespace, vm.name);
            let fail = |m: String| invalid(format!("vm {id}: {m}"));
            if !vms.insert(id.clone()) {
                return Err(fail("is listed twice".into()));
            }
            match (&vm.node, vm.running) {
                (Some(n), _) if !node_names.contains(n.as_str()) => {
                    return Err(fail(format!("node {n:?} is not in nodes")));
                }
                (None, true) => return Err(fail("a running VM needs a node".into())),
                _ => {}
            }
            if vm.running && !pods.insert(format!("{}/{}", vm.namespace, objects::launcher_pod_name(vm))) {
                return Err(fail("its launcher pod name is taken".into()));
            }
            if let Some(m) = &vm.memory {
                quantity(format!("vm {id}: memory"), m)?;
            }
            if let Some(it) = &vm.instancetype {
                if !instancetypes.contains(it.as_str()) {
                    return Err(fail(format!("instancetype {it:?} is not in cluster.instancetypes")));
                }
                if vm.cpu.is_some() || vm.memory.is_some() {
                    return Err(fail("cpu/memory and an instancetype are exclusive".into()));
                }
            }
            let mut net_names = BTreeSet::new();
            for n in &vm.networks {
                if !net_names.insert(n.name.as_str()) {
                    return Err(fail(format!("network {:?} is listed twice", n.name)));
                }
                if let Some(m) = &n.multus {
                    let full = if m.contains('/') { m.clone() } else { format!("{}/{m}", vm.namespace) };
                    if !nads.contains(&full) {
                        return Err(fail(format!("network {}: NAD {full} is not in cluster.nads", n.name)));
                    }
                }
            }
            if vm.networks.iter().filter(|n| n.multus.is_none()).count() > 1 {
                return Err(fail("more than one pod network".into()));
            }
            let mut vol_names = BTreeSet::new();
            for v in &vm.volumes {
                if !vol_names.insert(v.name.as_str()) {
                    return Err(fail(format!("volume {:?} is listed twice", v.name)));
                }
                let sources = [
                    v.data_volume.is_some(),
                    v.pvc.is_some(),
                    v.container_disk.is_some(),
                    v.cloud_init_no_cloud.is_some(),
                    v.host_disk.is_some(),
                ];
                if sources.iter().filter(|s| **s).count() != 1 {
                    return Err(fail(format!(
                        "volume {}: needs exactly one of dataVolume, pvc, containerDisk, cloudInitNoCloud, hostDisk",
                        v.name
                    )));
                }
                if let Some(size) = &v.size {
                    quantity(format!("vm {id}: volume {} size", v.name), size)?;
                }
                if let Some(c) = objects::claim(v) {
                    if !claims.insert(format!("{}/{c}", vm.namespace)) {
                        return Err(fail(format!("claim {c} is used by two volumes")));
                    }
                    match v.storage_class.as_deref() {
                        Some(sc) if !classes.contains(sc) => {
                            return Err(fail(format!(
                                "volume {}: storage class {sc:?} is not in cluster.storageClasses",
                                v.name
                            )));
                        }
                        None if self.default_storage_class().is_none() => {
                            return Err(fail(format!("volume {}: no storageClass and no default class", v.name)));
                        }
                        _ => {}
                    }
                    if !ACCESS_MODES.contains(&objects::access_mode(v).as_str()) {
                        return Err(fail(format!("volume {}: unknown access mode {:?}", v.name, v.access_mode)));
                    }
                }
            }
        }
        Ok(())
    }

    /// The StorageClass marked default (or the only one).
    pub fn default_storage_class(&self) -> Option<&format::StorageClass> {
        let classes = &self.cluster.storage_classes;
        classes.iter().find(|c| c.default).or(if classes.len() == 1 { classes.first() } else { None })
    }

    /// The migration behaviour of every VM.
    pub fn behaviours(&self) -> BehaviourMap {
        BehaviourMap {
            default: self.migration_defaults.clone(),
            per_vm: self
                .vms
                .iter()
                .filter_map(|vm| Some((format!("{}/{}", vm.namespace, vm.name), vm.migration.clone()?)))
                .collect::<BTreeMap<_, _>>(),
        }
    }
}

const ACCESS_MODES: &[&str] = &["ReadWriteMany", "ReadWriteOnce", "ReadOnlyMany", "ReadWriteOncePod"];

#[cfg(test)]
mod tests;
