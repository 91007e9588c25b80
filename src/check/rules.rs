//! The per-VM evaluation: every check in order, from an [`Index`] over the snapshot. Pure.

use std::collections::BTreeMap;

use super::index::{Index, labels, phase};
use super::snapshot::DryRun;
use super::{Blocker, Check, EvalOptions, Status, Verdict, VmReport, config, migratable, nodes, permissions};
use crate::kubevirt::{ANNOTATION_ALLOW_POD_BRIDGE, VirtualMachineInstance};

/// Evaluates one VM (or bare VMI).
pub fn evaluate_vm(index: &Index<'_>, ns: &str, name: &str, opts: &EvalOptions) -> VmReport {
    let vmi = index.vmi(ns, name).filter(|v| is_running(v));
    let mut checks = vec![kubevirt_check(index), running_check(index, ns, name)];
    let mut blockers: Vec<Blocker> = Vec::new();
    let mut node_verdicts = Vec::new();
    let mut effective_config = None;
    match vmi {
        Some(vmi) => {
            let node = vmi.status.as_ref().and_then(|s| s.node_name.as_deref());
            blockers = migratable::derive_blockers(vmi, index.kubevirt(), node.and_then(|n| index.node(n)));
            checks.extend(migratable::checks(vmi, &blockers));
            checks.push(eviction_check(index, ns, name, vmi, &blockers));
            checks.extend(storage_checks(index, ns, vmi));
            checks.extend(network_checks(index, ns, vmi));
            let (verdicts, target) = nodes::evaluate(index, vmi);
            node_verdicts = verdicts;
            checks.push(target);
            let ns_labels = namespace_labels(index, ns);
            let cfg = config::effective(index.kubevirt(), &index.snapshot.migration_policies, vmi, &ns_labels);
            let block = vmi.status.as_ref().and_then(|s| s.migration_method.as_deref()) == Some("BlockMigration");
            checks.push(config::summary_check(&cfg, index.kubevirt().is_some(), block));
            let source = super::index::source_node(vmi).unwrap_or_default();
            checks.push(config::parallel_check(
                &cfg,
                index.running_migrations(),
                index.running_outbound(source),
                source,
            ));
            effective_config = Some(cfg);
            checks.push(inflight_check(index, ns, name));
        }
        None => {
            for id in
                ["migratable.server", "eviction.strategy", "nodes.target", "config.migration", "migration.inflight"]
            {
                checks.push(Check::skip(id, "VM is not running"));
            }
        }
    }
    checks.extend(permissions::checks(&index.snapshot.access, ns, opts.probe));
    checks.push(dry_run_check(index, ns, name, vmi.is_some()));
    VmReport {
        namespace: ns.to_owned(),
        name: name.to_owned(),
        node: vmi.and_then(|v| v.status.as_ref()?.node_name.clone()),
        verdict: Verdict::of(&checks),
        blockers,
        checks,
        nodes: node_verdicts,
        effective_config,
    }
}

fn is_running(vmi: &VirtualMachineInstance) -> bool {
    vmi.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

/// Namespace labels for policy matching; `kubernetes.io/metadata.name` is always there on a real server.
fn namespace_labels(index: &Index<'_>, ns: &str) -> BTreeMap<String, String> {
    let mut l = index.namespace(ns).map(|n| labels(&n.metadata).clone()).unwrap_or_default();
    l.entry("kubernetes.io/metadata.name".into()).or_insert_with(|| ns.to_owned());
    l
}

/// `kubevirt.installed`: the KubeVirt CR and its `observedKubeVirtVersion`.
pub fn kubevirt_check(index: &Index<'_>) -> Check {
    const ID: &str = "kubevirt.installed";
    let Some(kv) = index.kubevirt() else {
        return match index.unavailable("kubevirts") {
            Some(why) => {
                Check::warn(ID, format!("KubeVirt CR not readable ({why})"), "grant list on kubevirts.kubevirt.io")
            }
            None => Check::fail(
                ID,
                "the kubevirt.io API is served but there is no KubeVirt CR",
                "install KubeVirt (create the KubeVirt CR) or check the virt-operator",
            ),
        };
    };
    let kv_name = format!(
        "{}/{}",
        kv.metadata.namespace.as_deref().unwrap_or_default(),
        kv.metadata.name.as_deref().unwrap_or_default()
    );
    let status = kv.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("unknown");
    let Some(version) = index.kubevirt_version() else {
        return Check::warn(
            ID,
            format!("KubeVirt CR {kv_name} reports no observedKubeVirtVersion (phase {phase})"),
            "wait for virt-operator to finish deploying",
        );
    };
    if phase != "Deployed" {
        Check::warn(
            ID,
            format!("KubeVirt {version} ({kv_name}) is {phase}, not Deployed"),
            "check virt-operator's logs",
        )
    } else if !version.starts_with("v1.5.") {
        Check::warn(
            ID,
            format!("KubeVirt {version} ({kv_name}): client-side rules are those of v1.5"),
            "rely on migratable.server and admission.dryrun, which come from the server",
        )
    } else {
        Check::pass(ID, format!("KubeVirt {version} ({kv_name}, {phase})"))
    }
}

/// `vm.running`: the VM exists and its VMI is Running.
pub fn running_check(index: &Index<'_>, ns: &str, name: &str) -> Check {
    const ID: &str = "vm.running";
    let vm = index.vm(ns, name);
    let what = if vm.is_some() { "VM" } else { "VMI" };
    match index.vmi(ns, name) {
        Some(vmi) if is_running(vmi) => {
            let node = vmi.status.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("?");
            Check::pass(ID, format!("{what} {ns}/{name} is Running on {node}"))
        }
        Some(vmi) => {
            let phase = vmi.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("unknown");
            Check::fail(
                ID,
                format!("VM is not running: VMI {ns}/{name} is {phase}"),
                "start the VM and wait for Running",
            )
        }
        None => Check::fail(
            ID,
            format!("VM is not running: VM {ns}/{name} has no VMI"),
            format!("start it: virtctl start {name} -n {ns}"),
        ),
    }
}

/// `eviction.strategy`: the effective evictionStrategy and what a node drain does to this VM.
pub fn eviction_check(
    index: &Index<'_>,
    ns: &str,
    name: &str,
    vmi: &VirtualMachineInstance,
    blockers: &[Blocker],
) -> Check {
    const ID: &str = "eviction.strategy";
    let vm_template = index.vm(ns, name).and_then(|vm| vm.spec.template.spec.eviction_strategy.as_deref());
    let cluster = index.kubevirt().and_then(|kv| kv.spec.configuration.eviction_strategy.as_deref());
    let (strategy, source) = match (vmi.spec.eviction_strategy.as_deref(), vm_template, cluster) {
        (Some(s), ..) => (s, "the VMI"),
        (None, Some(s), _) => (s, "the VM"),
        (None, None, Some(s)) => (s, "the KubeVirt CR"),
        _ => ("None", "default"),
    };
    let migratable = migratable::is_migratable(vmi, blockers);
    let head = format!("evictionStrategy {strategy} (from {source})");
    const SET: &str = "set spec.template.spec.evictionStrategy: LiveMigrate on the VM (or in the KubeVirt CR)";
    match (strategy, migratable) {
        ("LiveMigrate" | "LiveMigrateIfPossible", true) => {
            Check::pass(ID, format!("{head}: a node drain live-migrates the VM"))
        }
        ("LiveMigrate", false) => Check::warn(
            ID,
            format!("{head} but the VM is not live-migratable: a node drain is blocked (eviction denied)"),
            "fix the migratable.* blockers, or the drain of its node will hang",
        ),
        ("LiveMigrateIfPossible", false) => Check::warn(
            ID,
            format!("{head} but the VM is not live-migratable: a node drain shuts it down"),
            "fix the migratable.* blockers",
        ),
        ("External", _) => Check::warn(
            ID,
            format!("{head}: a node drain leaves the VM to an external controller"),
            "make sure that controller migrates it, or use LiveMigrate",
        ),
        _ => Check::warn(ID, format!("{head}: a node drain shuts the VM down instead of migrating it"), SET),
    }
}

/// `storage.volume`: one check per volume with its PVC, access modes, volume mode and storage class.
pub fn storage_checks(index: &Index<'_>, ns: &str, vmi: &VirtualMachineInstance) -> Vec<Check> {
    const ID: &str = "storage.volume";
    let pvcs_readable = index.unavailable("persistentvolumeclaims").is_none();
    vmi.spec
        .volumes
        .iter()
        .map(|v| {
            let Some(claim) = v.claim_name() else {
                let kind = if v.host_disk.is_some() {
                    "hostDisk"
                } else if v.container_disk.is_some() {
                    "containerDisk"
                } else if v.cloud_init_no_cloud.is_some() || v.cloud_init_config_drive.is_some() {
                    "cloud-init"
                } else {
                    "non-PVC"
                };
                return Check::pass(ID, format!("volume {}: {kind}, recreated on the target", v.name));
            };
            let Some(pvc) = index.pvc(ns, claim) else {
                return if pvcs_readable {
                    Check::fail(
                        ID,
                        format!("volume {}: PVC {ns}/{claim} not found", v.name),
                        format!("create PVC {claim} or fix the volume"),
                    )
                } else {
                    Check::skip(ID, format!("volume {}: PVC {claim} not readable", v.name))
                };
            };
            let spec = pvc.spec.as_ref();
            let modes: Vec<String> = pvc
                .status
                .as_ref()
                .and_then(|s| s.access_modes.clone())
                .or_else(|| spec.and_then(|s| s.access_modes.clone()))
                .unwrap_or_default();
            let mode = spec.and_then(|s| s.volume_mode.as_deref()).unwrap_or("Filesystem");
            let class = spec.and_then(|s| s.storage_class_name.as_deref()).unwrap_or("(none)");
            let class_note = if class != "(none)"
                && index.storage_class(class).is_none()
                && index.unavailable("storageclasses").is_none()
            {
                " (StorageClass not found)"
            } else {
                ""
            };
            let phase = pvc.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("unknown");
            let line = format!(
                "volume {}: PVC {claim} {}, {mode}, StorageClass {class}{class_note}, {phase}",
                v.name,
                if modes.is_empty() { "(no access modes)".into() } else { modes.join(",") }
            );
            if modes.iter().any(|m| m == "ReadWriteMany") {
                Check::pass(ID, line)
            } else {
                Check::fail(
                    ID,
                    format!("{line}: not ReadWriteMany"),
                    format!(
                        "move PVC {claim} to a ReadWriteMany storage class (StorageClass {class} gives {})",
                        modes.join(",")
                    ),
                )
            }
        })
        .collect()
}

/// `network.interface`: one check per interface, with binding, network and whether its IP survives the move.
pub fn network_checks(index: &Index<'_>, ns: &str, vmi: &VirtualMachineInstance) -> Vec<Check> {
    const ID: &str = "network.interface";
    let annotated = vmi.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(ANNOTATION_ALLOW_POD_BRIDGE));
    let ips: BTreeMap<&str, &str> = vmi
        .status
        .iter()
        .flat_map(|s| &s.interfaces)
        .filter_map(|i| Some((i.name.as_str(), i.ip_address.as_deref()?)))
        .collect();
    let lb = load_balancer(index, ns, vmi);
    vmi.spec
        .domain
        .devices
        .interfaces
        .iter()
        .map(|iface| {
            let network = vmi.spec.networks.iter().find(|n| n.name == iface.name);
            let binding = iface.binding_name();
            let ip = ips.get(iface.name.as_str()).map(|ip| format!(", IP {ip}")).unwrap_or_default();
            let on = match network {
                Some(n) if n.pod.is_some() => "pod network".to_owned(),
                Some(n) => match &n.multus {
                    Some(m) => format!("Multus network {}", m.network_name),
                    None => "unknown network".to_owned(),
                },
                None => "no network".to_owned(),
            };
            let head = format!("interface {} ({binding} on {on}{ip})", iface.name);
            let pod = network.is_some_and(|n| n.pod.is_some());
            let migratable_plugin = iface.binding.as_ref().is_some_and(|b| {
                index
                    .kubevirt()
                    .and_then(|kv| kv.spec.configuration.network.as_ref()?.binding.as_ref()?.get(&b.name))
                    .is_some_and(|p| p.migration.is_some())
            });
            match (pod, binding) {
                (true, _) if iface.masquerade.is_some() || migratable_plugin => match &lb {
                    Some(svc) => {
                        Check::pass(ID, format!("{head}: the pod IP changes, but {svc} keeps the VM reachable"))
                    }
                    None => Check::warn(
                        ID,
                        format!("{head}: the pod IP changes on migration; clients using it lose the VM"),
                        "reach the VM through a Service (LoadBalancer/ClusterIP) rather than its pod IP",
                    ),
                },
                (true, "bridge") if annotated => Check::pass(
                    ID,
                    format!(
                        "{head}: guest keeps its IP ({ANNOTATION_ALLOW_POD_BRIDGE}); needs a CNI that keeps the pod IP"
                    ),
                ),
                (true, _) => Check::fail(
                    ID,
                    format!("{head}: this binding on the pod network blocks live migration"),
                    format!("use masquerade, or bridge with the annotation {ANNOTATION_ALLOW_POD_BRIDGE}"),
                ),
                (false, "sriov") => Check::warn(
                    ID,
                    format!("{head}: the SR-IOV VF is hot-unplugged during the move; the link drops for a while"),
                    "expect a longer network outage on this interface",
                ),
                (false, _) => Check::pass(ID, format!("{head}: IP kept (secondary network)")),
            }
        })
        .collect()
}

/// A LoadBalancer Service selecting the VM's virt-launcher pod, as `Service <name> (LoadBalancer <ip>)`.
fn load_balancer(index: &Index<'_>, ns: &str, vmi: &VirtualMachineInstance) -> Option<String> {
    let uid = vmi.metadata.uid.as_deref().unwrap_or_default();
    let pod_labels = index
        .launcher_pods(uid)
        .first()
        .map(|p| labels(&p.metadata).clone())
        .unwrap_or_else(|| labels(&vmi.metadata).clone());
    index.services(ns).iter().find_map(|svc| {
        let spec = svc.spec.as_ref()?;
        let selector = spec.selector.as_ref().filter(|s| !s.is_empty())?;
        if spec.type_.as_deref() != Some("LoadBalancer") || !selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v))
        {
            return None;
        }
        let ip = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .and_then(|i| i.first())
            .and_then(|i| i.ip.clone().or_else(|| i.hostname.clone()))
            .unwrap_or_else(|| "pending".into());
        Some(format!("Service {} (LoadBalancer {ip})", svc.metadata.name.as_deref().unwrap_or_default()))
    })
}

/// `migration.inflight`: a non-final VMIM for this VMI already exists.
pub fn inflight_check(index: &Index<'_>, ns: &str, name: &str) -> Check {
    const ID: &str = "migration.inflight";
    if let Some(why) = index.unavailable("virtualmachineinstancemigrations") {
        return Check::skip(ID, why.to_owned());
    }
    let active: Vec<String> = index
        .migrations(ns, name)
        .iter()
        .filter(|m| !phase(m).is_final())
        .map(|m| format!("{} ({})", m.metadata.name.as_deref().unwrap_or_default(), phase(m)))
        .collect();
    if active.is_empty() {
        Check::pass(ID, format!("no migration of VMI {name} in flight"))
    } else {
        Check::fail(
            ID,
            format!("migration already in flight for VMI {name}: {}", active.join(", ")),
            format!("wait for it, follow it with kubectl get vmim -n {ns} -w, or cancel it by deleting the VMIM"),
        )
    }
}

/// `admission.dryrun`: the server-side dry-run create of the VMIM, verbatim when denied.
pub fn dry_run_check(index: &Index<'_>, ns: &str, name: &str, running: bool) -> Check {
    const ID: &str = "admission.dryrun";
    match index.snapshot.dry_runs.get(&(ns.to_owned(), name.to_owned())) {
        Some(DryRun::Admitted) => Check::pass(ID, "server-side dry-run create of the VMIM was admitted"),
        Some(DryRun::Denied(message)) => Check::new(ID, Status::Fail, message.clone())
            .with_fix("the API server's admission denied the migration: fix what it names"),
        None if !running => Check::skip(ID, "VM is not running"),
        None => Check::skip(ID, "not run (runs for named VMs, or with --server-dry-run)"),
    }
}
