//! The LiveMigratable condition: KubeVirt v1.5.2's rules re-derived client-side (all blockers, not only the
//! first), the server's condition, and whether the two agree.
//!
//! Rules and messages follow `pkg/virt-handler/vm.go` `calculateLiveMigrationCondition` and
//! `checkVolumesForMigration`, and `pkg/network/vmispec/interface.go` `VerifyVMIMigratable`, in that order.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Node;

use super::nodes::HOST_MODEL_CPU;
use super::{Blocker, Check};
use crate::kubevirt::{
    ANNOTATION_ALLOW_POD_BRIDGE, InterfaceBindingPlugin, KubeVirt, VirtualMachineInstance, VolumeStatus, condition,
};

/// The blocker categories in KubeVirt's evaluation order: (check id, KubeVirt reason, what passes).
pub const CATEGORIES: [(&str, &str, &str); 8] = [
    ("migratable.disks", "DisksNotLiveMigratable", "every PVC/DataVolume is ReadWriteMany and no HostDisk is local"),
    ("migratable.network", "InterfaceNotLiveMigratable", "the pod network binding is migratable"),
    ("migratable.cpu", "CPUModeLiveMigratable", "CPU model is migratable"),
    ("migratable.hostdevices", "HostDeviceNotLiveMigratable", "no PCI host devices or GPUs"),
    ("migratable.sev", "SEVNotLiveMigratable", "no SEV"),
    ("migratable.reservation", "PersistentReservationNotLiveMigratable", "no SCSI persistent reservation"),
    ("migratable.tsc", "NoTSCFrequencyNotLiveMigratable", "TSC frequency not needed or known"),
    ("migratable.hypervpassthrough", "HypervPassthroughNotLiveMigratable", "no Hyper-V passthrough"),
];

const RWX: &str = "ReadWriteMany";

fn blocker(idx: usize, message: String, fix: impl Into<String>) -> Blocker {
    let (id, reason, _) = CATEGORIES[idx];
    Blocker { id, reason, message, fix: fix.into() }
}

/// Every LiveMigratable blocker of a VMI, in KubeVirt v1.5's order: `blockers[0]` is what the server reports.
/// `kubevirt` supplies the registered network binding plugins; `node` is the VMI's node (for host-model).
pub fn derive_blockers(vmi: &VirtualMachineInstance, kubevirt: Option<&KubeVirt>, node: Option<&Node>) -> Vec<Blocker> {
    let mut out = volume_blockers(vmi);
    let plugins = kubevirt
        .and_then(|kv| kv.spec.configuration.network.as_ref())
        .and_then(|n| n.binding.clone())
        .unwrap_or_default();
    if let Some(b) = network_blocker(vmi, &plugins) {
        out.push(b);
    }
    let spec = &vmi.spec.domain;
    let host_model = spec.cpu.as_ref().and_then(|c| c.model.as_deref()) == Some("host-model");
    if host_model && !node_has_host_model(node) {
        let node_name = vmi.status.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default();
        out.push(blocker(
            2,
            format!("the node \"{node_name}\" does not allow migration with host-model"),
            format!(
                "the node-labeller found no host-model CPU on node {node_name} (label {HOST_MODEL_CPU}*): check \
                 virt-handler there, or set an explicit spec.domain.cpu.model"
            ),
        ));
    }
    if !spec.devices.host_devices.is_empty() || !spec.devices.gpus.is_empty() {
        let names: Vec<&str> =
            spec.devices.host_devices.iter().chain(&spec.devices.gpus).map(|d| d.name.as_str()).collect();
        out.push(blocker(
            3,
            "VMI uses a PCI host devices".into(),
            format!(
                "PCI passthrough ({}) cannot live-migrate: remove it or stop/start the VM on the target",
                names.join(", ")
            ),
        ));
    }
    if spec.launch_security.as_ref().is_some_and(|l| l.sev.is_some()) {
        out.push(blocker(
            4,
            "VMI uses SEV".into(),
            "SEV guests cannot live-migrate in KubeVirt v1.5: stop/start instead",
        ));
    }
    if let Some(disk) = spec.devices.disks.iter().find(|d| d.lun.as_ref().and_then(|l| l.reservation) == Some(true)) {
        out.push(blocker(
            5,
            "VMI uses SCSI persitent reservation".into(),
            format!("remove reservation: true from LUN disk {}", disk.name),
        ));
    }
    let reenlightenment = spec
        .features
        .as_ref()
        .and_then(|f| f.hyperv.as_ref())
        .and_then(|h| h.reenlightenment.as_ref())
        .is_some_and(|r| r.enabled != Some(false));
    let tsc_known = vmi.status.as_ref().and_then(|s| s.topology_hints.as_ref()).and_then(|t| t.tsc_frequency).is_some();
    if reenlightenment && !tsc_known {
        out.push(blocker(
            6,
            "HyperV Reenlightenment VMIs cannot migrate when TSC Frequency is not exposed on the cluster: guest timers \
             might be inconsistent"
                .into(),
            "label the nodes with their TSC frequency (cpu-timer.node.kubevirt.io/tsc-frequency) and restart the VM, or \
             disable Hyper-V reenlightenment",
        ));
    }
    if spec.features.as_ref().and_then(|f| f.hyperv_passthrough.as_ref()).and_then(|h| h.enabled) == Some(true) {
        out.push(blocker(
            7,
            "VMI uses hyperv passthrough".into(),
            "replace features.hypervPassthrough with explicit Hyper-V features",
        ));
    }
    out
}

fn node_has_host_model(node: Option<&Node>) -> bool {
    node.and_then(|n| n.metadata.labels.as_ref())
        .is_some_and(|l| l.iter().any(|(k, v)| k.starts_with(HOST_MODEL_CPU) && v == "true"))
}

/// `checkVolumesForMigration`, collecting every failing volume instead of stopping at the first.
fn volume_blockers(vmi: &VirtualMachineInstance) -> Vec<Blocker> {
    let statuses: HashMap<&str, &VolumeStatus> =
        vmi.status.iter().flat_map(|s| &s.volume_status).map(|v| (v.name.as_str(), v)).collect();
    let shared = |modes: &[String]| modes.iter().any(|m| m == RWX);
    let not_shared = |claim: &str| {
        blocker(
            0,
            format!(
                "cannot migrate VMI: PVC {claim} is not shared, live migration requires that all PVCs must be shared \
                 (using ReadWriteMany access mode)"
            ),
            format!("move PVC {claim} to a ReadWriteMany storage class (clone it, or use a volume migration)"),
        )
    };
    let mut out = Vec::new();
    for volume in &vmi.spec.volumes {
        let info = statuses.get(volume.name.as_str()).and_then(|s| s.persistent_volume_claim_info.as_ref());
        if let Some(claim) = volume.claim_name() {
            match info {
                None => out.push(blocker(
                    0,
                    format!(
                        "cannot migrate VMI: Unable to determine if PVC {claim} is shared, live migration requires that \
                         all PVCs must be shared (using ReadWriteMany access mode)"
                    ),
                    format!("check that PVC {claim} is Bound and that virt-handler reports the VMI's volumeStatus"),
                )),
                Some(info) if !shared(&info.access_modes) => out.push(not_shared(claim)),
                Some(_) => {}
            }
        } else if let Some(host_disk) = &volume.host_disk {
            match info {
                // A PVC translated into a hostDisk (filesystem PVC on a non-RWX storage).
                Some(info) if !shared(&info.access_modes) => {
                    out.push(not_shared(info.claim_name.as_deref().unwrap_or(&volume.name)))
                }
                Some(_) => {}
                None if host_disk.shared != Some(true) => out.push(blocker(
                    0,
                    "cannot migrate VMI with non-shared HostDisk".into(),
                    format!(
                        "hostDisk {} ({}) is local to the node: move it to a ReadWriteMany PVC",
                        volume.name, host_disk.path
                    ),
                )),
                None => {}
            }
        }
    }
    out
}

/// `VerifyVMIMigratable`: only the pod network's interface matters.
fn network_blocker(
    vmi: &VirtualMachineInstance,
    plugins: &std::collections::BTreeMap<String, InterfaceBindingPlugin>,
) -> Option<Blocker> {
    let ifaces = &vmi.spec.domain.devices.interfaces;
    if ifaces.is_empty() {
        return None;
    }
    let pod_network = vmi.spec.networks.iter().find(|n| n.pod.is_some())?;
    let iface = ifaces.iter().find(|i| i.name == pod_network.name)?;
    let annotated = vmi.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(ANNOTATION_ALLOW_POD_BRIDGE));
    let migratable_plugin =
        iface.binding.as_ref().and_then(|b| plugins.get(&b.name)).is_some_and(|p| p.migration.is_some());
    if iface.masquerade.is_some() || (annotated && iface.bridge.is_some()) || migratable_plugin {
        return None;
    }
    Some(blocker(
        1,
        format!(
            "cannot migrate VMI which does not use masquerade, bridge with {ANNOTATION_ALLOW_POD_BRIDGE} VM annotation or \
             a migratable plugin to connect to the pod network"
        ),
        format!(
            "interface {} uses {} on the pod network: switch it to masquerade, or (bridge) add the annotation \
             {ANNOTATION_ALLOW_POD_BRIDGE} to spec.template.metadata.annotations and restart the VM",
            iface.name,
            iface.binding_name()
        ),
    ))
}

/// The server's LiveMigratable condition: (status, reason, message).
fn server_condition(vmi: &VirtualMachineInstance) -> Option<(&str, Option<&str>, Option<&str>)> {
    let c = condition(&vmi.status.as_ref()?.conditions, "LiveMigratable")?;
    Some((c.status.as_str(), c.reason.as_deref(), c.message.as_deref()))
}

/// Whether KubeVirt considers the VMI migratable: the server's condition when present, else our derivation.
pub fn is_migratable(vmi: &VirtualMachineInstance, blockers: &[Blocker]) -> bool {
    match server_condition(vmi) {
        Some((status, ..)) => status == "True",
        None => blockers.is_empty(),
    }
}

/// `migratable.server`, one check per category (a fail per blocker) and `migratable.consistency`.
pub fn checks(vmi: &VirtualMachineInstance, blockers: &[Blocker]) -> Vec<Check> {
    let name = vmi.metadata.name.as_deref().unwrap_or_default();
    let server = server_condition(vmi);
    let mut out = vec![match server {
        Some(("True", ..)) => Check::pass("migratable.server", format!("VMI {name}: LiveMigratable=True")),
        Some((status, reason, message)) => {
            let mut c = Check::fail(
                "migratable.server",
                format!("VMI {name}: LiveMigratable={status}, {}: {}", reason.unwrap_or("-"), message.unwrap_or("-")),
                "fix the blockers listed below",
            );
            c.kubevirt_reason = reason.map(Into::into);
            c
        }
        None => Check::warn(
            "migratable.server",
            format!("VMI {name} has no LiveMigratable condition yet"),
            "wait for virt-handler to sync the VMI; check that virt-handler runs on its node",
        ),
    }];
    for (id, reason, ok) in CATEGORIES {
        let mut found = blockers.iter().filter(|b| b.id == id).peekable();
        if found.peek().is_none() {
            out.push(Check::pass(id, ok));
        }
        for b in found {
            let mut c = Check::fail(id, b.message.clone(), b.fix.clone());
            c.kubevirt_reason = Some(reason.into());
            out.push(c);
        }
    }
    out.push(consistency(server, blockers));
    out
}

fn consistency(server: Option<(&str, Option<&str>, Option<&str>)>, blockers: &[Blocker]) -> Check {
    const ID: &str = "migratable.consistency";
    const FIX: &str = "the condition may be stale (virt-handler not syncing) or the cluster runs a KubeVirt other than \
                       v1.5; trust the server-side dry-run (admission.dryrun)";
    let ours: Vec<&str> = blockers.iter().map(|b| b.reason).collect();
    match (server, blockers.first()) {
        (None, _) => Check::skip(ID, "no server condition to compare with"),
        (Some(("True", ..)), None) => Check::pass(ID, "server condition and client-side rules agree: migratable"),
        (Some(("True", ..)), Some(_)) => Check::warn(
            ID,
            format!("server says LiveMigratable=True but client-side rules find {}", ours.join(", ")),
            FIX,
        ),
        (Some((_, reason, message)), Some(first))
            if reason == Some(first.reason) && message == Some(first.message.as_str()) =>
        {
            Check::pass(ID, format!("server condition and client-side rules agree: {}", ours.join(", ")))
        }
        (Some((_, reason, _)), Some(first)) => Check::warn(
            ID,
            format!(
                "server reports {} but client-side rules find {} first",
                reason.unwrap_or("no reason"),
                first.reason
            ),
            FIX,
        ),
        (Some((_, reason, _)), None) => Check::warn(
            ID,
            format!("server reports {} which client-side rules do not reproduce", reason.unwrap_or("not migratable")),
            FIX,
        ),
    }
}
