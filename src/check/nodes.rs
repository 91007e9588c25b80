//! Target node eligibility: would the scheduler place the migration target pod on a node?
//!
//! Mirrors what KubeVirt v1.5 puts into the target virt-launcher pod (`migration.go` `createTargetPod`,
//! `nodeselectorrenderer.go`): pod anti-affinity against the VMI's own pods, `kubevirt.io/schedulable=true`,
//! `kubernetes.io/arch`, `machine-type.node.kubevirt.io/<machine>`, for host-model CPUs
//! `cpu-model-migration.node.kubevirt.io/<source host model>` and one `cpu-feature.node.kubevirt.io/<f>` per
//! `host-model-required-features.node.kubevirt.io/<f>` label of the source node, named CPU model/feature labels,
//! `cpumanager=true` for dedicated CPUs, the VMI's nodeSelector, required node affinity and tolerations; and
//! what the scheduler checks on top: cordon, Ready, taints, allocatable memory, the KVM device and the extended
//! resources of host devices and GPUs (allocatable only: devices used by other pods are not counted).
//!
//! Memory: the target pod requests the VMI's memory request plus virt-launcher's overhead, estimated as KubeVirt
//! v1.5's `GetMemoryOverhead` does: memory/512 (page tables) + 220Mi (virt-launcher monitor 25Mi, virt-launcher
//! 100Mi, virtlogd 25Mi, virtqemud 40Mi, QEMU 30Mi) + 8Mi per vCPU + 8Mi (IOThread) + 32Mi (video) + 1Gi with
//! PCI host devices. Free memory = node allocatable − memory requests of the virt-launcher pods on the node
//! (other pods are not listed, so they are not counted).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration};
use serde::Serialize;

use super::Check;
use super::index::{Index, labels};
use crate::kubevirt::VirtualMachineInstance;
use crate::quantity;

const MIB: u64 = 1 << 20;
/// Label prefixes of the node-labeller (KubeVirt types.go).
pub const HOST_MODEL_CPU: &str = "host-model-cpu.node.kubevirt.io/";
pub const HOST_MODEL_REQUIRED_FEATURES: &str = "host-model-required-features.node.kubevirt.io/";
pub const CPU_MODEL_MIGRATION: &str = "cpu-model-migration.node.kubevirt.io/";
pub const CPU_MODEL: &str = "cpu-model.node.kubevirt.io/";
pub const CPU_FEATURE: &str = "cpu-feature.node.kubevirt.io/";
pub const MACHINE_TYPE: &str = "machine-type.node.kubevirt.io/";
pub const SCHEDULABLE: &str = "kubevirt.io/schedulable";
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Whether one node can take the migration target, and every reason it cannot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeVerdict {
    pub node: String,
    pub eligible: bool,
    pub reasons: Vec<String>,
}

/// A group of node labels the target pod's nodeSelector requires, with how to describe a miss.
#[derive(Debug)]
struct LabelGroup {
    what: String,
    labels: BTreeMap<String, String>,
    /// Strip this prefix when listing missing labels.
    prefix: &'static str,
}

/// What the target pod of one VMI requires, computed once and applied to every node.
#[derive(Debug)]
pub struct Requirements<'a> {
    source_node: Option<&'a str>,
    /// Nodes already running a (non-final) virt-launcher pod of this VMI.
    occupied: Vec<&'a str>,
    groups: Vec<LabelGroup>,
    affinity_terms: Option<&'a [NodeSelectorTerm]>,
    tolerations: &'a [Toleration],
    memory_needed: Option<(u64, u64)>,
    /// Extended resources of host devices and GPUs (`deviceName` → count).
    devices: BTreeMap<&'a str, u64>,
}

/// Virt-launcher memory overhead estimate (see the module documentation).
pub fn memory_overhead(vmi: &VirtualMachineInstance, memory: u64) -> u64 {
    let cpu = vmi.spec.domain.cpu.as_ref();
    let vcpus = cpu.map(|c| c.sockets.unwrap_or(1) * c.cores.unwrap_or(1) * c.threads.unwrap_or(1)).unwrap_or(1).max(1);
    let devices = &vmi.spec.domain.devices;
    let vfio = if devices.host_devices.is_empty() && devices.gpus.is_empty() { 0 } else { 1024 * MIB };
    memory / 512 + 220 * MIB + 8 * MIB * u64::from(vcpus) + 8 * MIB + 32 * MIB + vfio
}

impl<'a> Requirements<'a> {
    pub fn new(index: &Index<'a>, vmi: &'a VirtualMachineInstance) -> Self {
        let status = vmi.status.as_ref();
        let source_node = status.and_then(|s| s.node_name.as_deref());
        let uid = vmi.metadata.uid.as_deref().unwrap_or_default();
        let occupied = index
            .launcher_pods(uid)
            .iter()
            .filter_map(|p| p.spec.as_ref()?.node_name.as_deref())
            .filter(|n| Some(*n) != source_node)
            .collect();
        let spec = &vmi.spec;
        let single = |k: String| BTreeMap::from([(k, "true".to_owned())]);
        let mut groups = vec![LabelGroup {
            what: "virt-handler is not ready there".into(),
            labels: single(SCHEDULABLE.into()),
            prefix: "",
        }];
        if let Some(arch) = &spec.architecture {
            groups.push(LabelGroup {
                what: format!("not architecture {arch}"),
                labels: BTreeMap::from([("kubernetes.io/arch".to_owned(), arch.clone())]),
                prefix: "",
            });
        }
        let machine = status
            .and_then(|s| s.machine.as_ref())
            .map(|m| m.type_.as_str())
            .or(spec.domain.machine.as_ref().map(|m| m.type_.as_str()))
            .filter(|m| !m.is_empty());
        if let Some(m) = machine {
            groups.push(LabelGroup {
                what: format!("does not support machine type {m}"),
                labels: single(format!("{MACHINE_TYPE}{m}")),
                prefix: "",
            });
        }
        let cpu = spec.domain.cpu.as_ref();
        match cpu.and_then(|c| c.model.as_deref()) {
            Some("host-model") => groups.extend(host_model_groups(index, source_node)),
            Some("host-passthrough") | None | Some("") => {}
            Some(model) => groups.push(LabelGroup {
                what: format!("does not support CPU model {model}"),
                labels: single(format!("{CPU_MODEL}{model}")),
                prefix: "",
            }),
        }
        let required_features: BTreeMap<String, String> = cpu
            .iter()
            .flat_map(|c| &c.features)
            .filter(|f| matches!(f.policy.as_deref(), None | Some("require")))
            .map(|f| (format!("{CPU_FEATURE}{}", f.name), "true".to_owned()))
            .collect();
        if !required_features.is_empty() {
            groups.push(LabelGroup {
                what: "lacks CPU features the VM requires".into(),
                labels: required_features,
                prefix: CPU_FEATURE,
            });
        }
        if cpu.and_then(|c| c.dedicated_cpu_placement) == Some(true) {
            groups.push(LabelGroup {
                what: "has no CPU manager (dedicated CPUs)".into(),
                labels: single("cpumanager".into()),
                prefix: "",
            });
        }
        if let Some(sel) = spec.node_selector.as_ref().filter(|s| !s.is_empty()) {
            groups.push(LabelGroup {
                what: "does not match the VM's nodeSelector".into(),
                labels: sel.clone(),
                prefix: "",
            });
        }
        let affinity_terms = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
            .map(|r| r.node_selector_terms.as_slice());
        let memory_needed = spec
            .domain
            .resources
            .requests
            .as_ref()
            .and_then(|r| r.get("memory"))
            .and_then(quantity::bytes)
            .or_else(|| super::config::vmi_memory(vmi))
            .map(|m| (m, memory_overhead(vmi, m)));
        let mut devices: BTreeMap<&str, u64> = BTreeMap::new();
        for d in spec.domain.devices.host_devices.iter().chain(&spec.domain.devices.gpus) {
            *devices.entry(d.device_name.as_str()).or_default() += 1;
        }
        devices.remove("");
        Requirements {
            devices,
            source_node,
            occupied,
            groups,
            affinity_terms,
            tolerations: spec.tolerations.as_deref().unwrap_or_default(),
            memory_needed,
        }
    }

    /// Identifies the requirements: VMs with equal keys get equal verdicts (most VMs of a cluster share one).
    pub fn cache_key(&self) -> String {
        format!("{self:?}")
    }

    /// The verdict for one node.
    pub fn verdict(&self, index: &Index<'_>, node: &Node) -> NodeVerdict {
        let name = node.metadata.name.clone().unwrap_or_default();
        let node_labels = labels(&node.metadata);
        let spec = node.spec.as_ref();
        let mut reasons = Vec::new();
        if self.source_node == Some(name.as_str()) {
            reasons.push("source node (the VM runs here)".to_owned());
        }
        if self.occupied.contains(&name.as_str()) {
            reasons.push("already runs a virt-launcher pod of this VMI (pod anti-affinity)".to_owned());
        }
        let cordoned = spec.and_then(|s| s.unschedulable) == Some(true);
        if cordoned {
            reasons.push("cordoned (spec.unschedulable)".to_owned());
        }
        let ready = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "True");
        if !ready {
            reasons.push("NotReady".to_owned());
        }
        for group in &self.groups {
            let missing: Vec<&str> = group
                .labels
                .iter()
                .filter(|(k, v)| node_labels.get(*k) != Some(*v))
                .map(|(k, _)| k.strip_prefix(group.prefix).unwrap_or(k))
                .collect();
            if missing.is_empty() {
                continue;
            }
            if group.labels.len() == 1 {
                let (k, v) = group.labels.iter().next().map(|(k, v)| (k.as_str(), v.as_str())).unwrap_or_default();
                reasons.push(format!("{} (needs label {k}={v})", group.what));
            } else {
                reasons.push(format!("{}: {}", group.what, missing.join(", ")));
            }
        }
        if let Some(terms) = self.affinity_terms
            && !terms.iter().any(|t| term_matches(t, &name, node_labels))
        {
            reasons.push("does not match the VM's required node affinity".to_owned());
        }
        for taint in spec.and_then(|s| s.taints.as_deref()).unwrap_or_default() {
            let blocking = matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute");
            let reported = cordoned && taint.key == UNSCHEDULABLE_TAINT;
            if blocking && !reported && !tolerated(taint, self.tolerations) {
                let value = taint.value.as_deref().map(|v| format!("={v}")).unwrap_or_default();
                reasons.push(format!("untolerated taint {}{value}:{}", taint.key, taint.effect));
            }
        }
        let allocatable = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        if let (Some((memory, overhead)), Some(alloc)) =
            (self.memory_needed, allocatable.and_then(|a| a.get("memory")).and_then(quantity::bytes))
        {
            let free = alloc.saturating_sub(index.memory_requested(&name));
            if free < memory + overhead {
                reasons.push(format!(
                    "not enough memory: {} free of {} allocatable, {} needed ({} + {} overhead)",
                    quantity::format_bytes(free),
                    quantity::format_bytes(alloc),
                    quantity::format_bytes(memory + overhead),
                    quantity::format_bytes(memory),
                    quantity::format_bytes(overhead)
                ));
            }
        }
        for (device, count) in &self.devices {
            let have = allocatable.and_then(|a| a.get(*device)).and_then(quantity::bytes).unwrap_or(0);
            if have < *count {
                reasons.push(format!("has {have} allocatable {device}, the VM needs {count}"));
            }
        }
        if allocatable.is_some_and(|a| a.get("devices.kubevirt.io/kvm").and_then(quantity::bytes).unwrap_or(0) == 0) {
            reasons.push("no devices.kubevirt.io/kvm allocatable (virt-handler not running there?)".to_owned());
        }
        NodeVerdict { node: name, eligible: reasons.is_empty(), reasons }
    }
}

/// The host-model selectors: from the source node's labels, plus any the source pod already carried.
fn host_model_groups(index: &Index<'_>, source_node: Option<&str>) -> Vec<LabelGroup> {
    let Some(node) = source_node.and_then(|n| index.node(n)) else { return Vec::new() };
    let node_labels = labels(&node.metadata);
    let mut out = Vec::new();
    if let Some(model) = node_labels.keys().find_map(|k| k.strip_prefix(HOST_MODEL_CPU)) {
        out.push(LabelGroup {
            what: format!("does not support the source host model {model}"),
            labels: BTreeMap::from([(format!("{CPU_MODEL_MIGRATION}{model}"), "true".to_owned())]),
            prefix: "",
        });
        let features: BTreeMap<String, String> = node_labels
            .keys()
            .filter_map(|k| k.strip_prefix(HOST_MODEL_REQUIRED_FEATURES))
            .map(|f| (format!("{CPU_FEATURE}{f}"), "true".to_owned()))
            .collect();
        if !features.is_empty() {
            out.push(LabelGroup {
                what: format!("lacks CPU-feature labels the source host model {model} requires"),
                labels: features,
                prefix: CPU_FEATURE,
            });
        }
    }
    out
}

fn tolerated(taint: &Taint, tolerations: &[Toleration]) -> bool {
    // The DefaultTolerationSeconds admission plugin gives every pod these two.
    if taint.effect == "NoExecute"
        && matches!(taint.key.as_str(), "node.kubernetes.io/not-ready" | "node.kubernetes.io/unreachable")
    {
        return true;
    }
    tolerations.iter().any(|t| {
        let effect_ok = t.effect.as_deref().is_none_or(|e| e.is_empty() || e == taint.effect);
        let key = t.key.as_deref().unwrap_or("");
        match t.operator.as_deref() {
            Some("Exists") => effect_ok && (key.is_empty() || key == taint.key),
            _ => {
                effect_ok
                    && key == taint.key
                    && t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
            }
        }
    })
}

fn term_matches(term: &NodeSelectorTerm, node_name: &str, node_labels: &BTreeMap<String, String>) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false; // an empty term matches nothing
    }
    exprs.iter().all(|e| requirement_matches(e, node_labels.get(&e.key).map(String::as_str)))
        && fields.iter().all(|f| f.key == "metadata.name" && requirement_matches(f, Some(node_name)))
}

fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => matches!((value.and_then(number), values.first().and_then(|x| number(x))), (Some(v), Some(x)) if v > x),
        "Lt" => matches!((value.and_then(number), values.first().and_then(|x| number(x))), (Some(v), Some(x)) if v < x),
        _ => false,
    }
}

/// Per-node verdicts and the `nodes.target` check.
pub fn evaluate(index: &Index<'_>, vmi: &VirtualMachineInstance) -> (Vec<NodeVerdict>, Check) {
    if let Some(why) = index.unavailable("nodes") {
        return (Vec::new(), Check::skip("nodes.target", format!("target nodes not evaluated: {why}")));
    }
    let req = Requirements::new(index, vmi);
    let verdicts =
        index.node_verdicts(req.cache_key(), || index.all_nodes().iter().map(|n| req.verdict(index, n)).collect());
    let eligible: Vec<&str> = verdicts.iter().filter(|v| v.eligible).map(|v| v.node.as_str()).collect();
    let check = if eligible.is_empty() {
        Check::fail(
            "nodes.target",
            format!("no eligible target node among {} nodes", verdicts.len()),
            "see the per-node reasons (-o wide): uncordon a node, fix its labels, or relax the VM's placement",
        )
    } else {
        let shown = if eligible.len() > 5 {
            format!("{}, … (+{})", eligible[..5].join(", "), eligible.len() - 5)
        } else {
            eligible.join(", ")
        };
        Check::pass("nodes.target", format!("{} of {} nodes eligible: {shown}", eligible.len(), verdicts.len()))
    };
    (verdicts, check)
}
