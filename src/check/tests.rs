//! Unit tests of every rule from the seed-cluster fixtures (`testdata/kubevirt`).

use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::storage::v1::StorageClass;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::permissions::NEEDS;
use super::snapshot::{AccessResult, ClusterSnapshot, DryRun};
use super::*;
use crate::kubevirt::{
    KubeVirt, MigrationPolicy, VirtualMachine, VirtualMachineInstance, VirtualMachineInstanceMigration,
};

const NS: &str = "tenant-root";
const VM: &str = "vm-instance-haos";

fn fixture(name: &str) -> Value {
    let text = match name {
        "kubevirt-cr" => include_str!("../../testdata/kubevirt/kubevirt-cr.json"),
        "vm" => include_str!("../../testdata/kubevirt/vm.json"),
        "vmi-running" => include_str!("../../testdata/kubevirt/vmi-running.json"),
        "vmi-not-migratable" => include_str!("../../testdata/kubevirt/vmi-not-migratable.json"),
        "virt-launcher-pod" => include_str!("../../testdata/kubevirt/virt-launcher-pod.json"),
        "nodes" => include_str!("../../testdata/kubevirt/nodes.json"),
        "pvc-rwx" => include_str!("../../testdata/kubevirt/pvc-rwx.json"),
        "pvc-rwo" => include_str!("../../testdata/kubevirt/pvc-rwo.json"),
        "storageclass" => include_str!("../../testdata/kubevirt/storageclass.json"),
        "storageclass-local" => include_str!("../../testdata/kubevirt/storageclass-local.json"),
        "migrationpolicy" => include_str!("../../testdata/kubevirt/migrationpolicy.json"),
        "service-lb" => include_str!("../../testdata/kubevirt/service-lb.json"),
        "vmim-running" => include_str!("../../testdata/kubevirt/vmim-running.json"),
        "vmim-succeeded" => include_str!("../../testdata/kubevirt/vmim-succeeded.json"),
        "vmim-failed" => include_str!("../../testdata/kubevirt/vmim-failed.json"),
        "vmim-create-not-migratable" => include_str!("../../testdata/kubevirt/errors/vmim-create-not-migratable.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

fn typed<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// The seed cluster: VM vm-instance-haos running on the-toy-factory, everything allowed, dry-run admitted.
pub(crate) fn haos() -> ClusterSnapshot {
    let nodes: Vec<Node> = typed(fixture("nodes")["items"].clone());
    let namespace: Namespace = typed(json!({"metadata": {"name": NS, "labels": {"kubernetes.io/metadata.name": NS}}}));
    ClusterSnapshot {
        targets: vec![(NS.into(), VM.into())],
        kubevirts: vec![typed::<KubeVirt>(fixture("kubevirt-cr"))],
        vms: vec![typed::<VirtualMachine>(fixture("vm"))],
        vmis: vec![typed::<VirtualMachineInstance>(fixture("vmi-running"))],
        launcher_pods: vec![typed::<Pod>(fixture("virt-launcher-pod"))],
        nodes,
        pvcs: vec![typed::<PersistentVolumeClaim>(fixture("pvc-rwx"))],
        storage_classes: vec![
            typed::<StorageClass>(fixture("storageclass")),
            typed::<StorageClass>(fixture("storageclass-local")),
        ],
        migration_policies: vec![typed::<MigrationPolicy>(fixture("migrationpolicy"))],
        migrations: vec![typed(fixture("vmim-succeeded")), typed(fixture("vmim-failed"))],
        namespaces: vec![namespace],
        services: vec![typed::<Service>(fixture("service-lb"))],
        unavailable: Default::default(),
        access: NEEDS.iter().map(|need| AccessResult { need, namespace: Some(NS.into()), allowed: Ok(true) }).collect(),
        dry_runs: [((NS.to_owned(), VM.to_owned()), DryRun::Admitted)].into(),
    }
}

/// Edits the VMI through its JSON form.
fn edit_vmi(snap: &mut ClusterSnapshot, f: impl FnOnce(&mut Value)) {
    let mut v = serde_json::to_value(&snap.vmis[0]).unwrap();
    f(&mut v);
    snap.vmis[0] = typed(v);
}

fn report(snap: &ClusterSnapshot) -> VmReport {
    evaluate(snap, NS, VM, &EvalOptions::default())
}

fn checks<'a>(r: &'a VmReport, id: &str) -> Vec<&'a Check> {
    r.checks.iter().filter(|c| c.id == id).collect()
}

fn one<'a>(r: &'a VmReport, id: &str) -> &'a Check {
    let found = checks(r, id);
    assert_eq!(found.len(), 1, "expected one {id}: {:#?}", r.checks);
    found[0]
}

fn node<'a>(r: &'a VmReport, name: &str) -> &'a NodeVerdict {
    r.nodes.iter().find(|n| n.node == name).unwrap()
}

// ---- the seed scenario ------------------------------------------------------------------------------------

#[test]
fn haos_is_migratable_with_every_check_passing() {
    let r = report(&haos());
    let not_passing: Vec<_> = r.checks.iter().filter(|c| c.status != Status::Pass).collect();
    assert!(not_passing.is_empty(), "{not_passing:#?}");
    assert_eq!(r.verdict, Verdict::Migratable);
    assert!(r.blockers.is_empty());
    assert_eq!(r.node.as_deref(), Some("the-toy-factory"));
    assert_eq!(CheckReport::new(None, vec![r]).exit_code(true), ExitCode::Success);
}

#[test]
fn haos_only_eligible_target_is_the_dome() {
    let r = report(&haos());
    let eligible: Vec<&str> = r.nodes.iter().filter(|n| n.eligible).map(|n| n.node.as_str()).collect();
    assert_eq!(eligible, ["the-dome"]);
    assert_eq!(node(&r, "here-i-am").reasons, ["cordoned (spec.unschedulable)"]);
    assert_eq!(node(&r, "the-toy-factory").reasons, ["source node (the VM runs here)"]);
    let illusion = &node(&r, "illusion").reasons;
    assert_eq!(illusion.len(), 2, "{illusion:#?}");
    assert_eq!(
        illusion[0],
        "does not support the source host model Skylake-Client-IBRS \
         (needs label cpu-model-migration.node.kubevirt.io/Skylake-Client-IBRS=true)"
    );
    assert_eq!(
        illusion[1],
        "lacks CPU-feature labels the source host model Skylake-Client-IBRS requires: clflushopt, xsaves"
    );
    assert_eq!(one(&r, "nodes.target").reason, "1 of 4 nodes eligible: the-dome");
}

#[test]
fn haos_effective_config_and_completion_timeout() {
    let r = report(&haos());
    let cfg = r.effective_config.as_ref().unwrap();
    assert_eq!(cfg.completion_timeout_seconds, 750);
    assert_eq!(cfg.data_size_gb, 5);
    assert_eq!(cfg.memory_bytes, 4 << 30);
    assert_eq!(cfg.policy, None, "the bulk-storage policy must not match the seed VMI");
    assert_eq!(
        (cfg.completion_timeout_per_gi_b.value, cfg.completion_timeout_per_gi_b.source.as_str()),
        (150, "kubevirt")
    );
    assert_eq!(
        (cfg.bandwidth_per_migration.value.as_str(), cfg.bandwidth_per_migration.source.as_str()),
        ("0", "default")
    );
    assert_eq!(cfg.allow_workload_disruption.source, "kubevirt (= allowPostCopy)");
    assert_eq!(cfg.node_drain_taint_key.value, "kubevirt.io/drain");
    assert!(one(&r, "config.migration").reason.contains("completion timeout 750 s (150 s/GiB × 5 GB), "));
    let mut snap = haos();
    edit_vmi(&mut snap, |v| v["status"]["migrationMethod"] = json!("BlockMigration"));
    let c = one(&report(&snap), "config.migration").clone();
    assert!(c.reason.contains("completion timeout 750 s (150 s/GiB × 5 GB + local disks (BlockMigration))"), "{c:?}");
    assert_eq!(
        one(&r, "config.parallel").reason,
        "0/5 migrations running cluster-wide, 0/2 out of node the-toy-factory"
    );
}

#[test]
fn matching_policy_overrides_and_is_named() {
    let mut snap = haos();
    edit_vmi(&mut snap, |v| v["metadata"]["labels"]["workload-class"] = json!("bulk-storage"));
    let r = report(&snap);
    let cfg = r.effective_config.as_ref().unwrap();
    assert_eq!(cfg.policy.as_deref(), Some("tenant-root-bulk-storage"));
    assert_eq!(cfg.completion_timeout_seconds, 1500);
    assert_eq!(cfg.bandwidth_per_migration.value, "512Mi");
    assert_eq!(cfg.bandwidth_per_migration.source, "policy:tenant-root-bulk-storage");
    assert_eq!(cfg.progress_timeout.source, "kubevirt");
    assert!(one(&r, "config.migration").reason.starts_with("MigrationPolicy tenant-root-bulk-storage;"));
}

#[test]
fn policy_match_prefers_more_labels_then_vmi_labels_then_name() {
    let policy = |name: &str, ns: Value, vmi: Value| -> MigrationPolicy {
        typed(
            json!({"metadata": {"name": name}, "spec": {"selectors": {"namespaceSelector": ns, "virtualMachineInstanceSelector": vmi}}}),
        )
    };
    let vmi_labels = [("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())].into();
    let ns_labels = [("team".to_owned(), "x".to_owned())].into();
    let policies = vec![
        policy("z-ns-and-vmi", json!({"team": "x"}), json!({"a": "1"})),
        policy("y-two-vmi", json!({}), json!({"a": "1", "b": "2"})),
        policy("a-mismatch", json!({"team": "y"}), json!({"a": "1", "b": "2"})),
        policy("b-ns-and-vmi", json!({"team": "x"}), json!({"b": "2"})),
    ];
    // Two matched labels each; y-two-vmi has more VMI labels.
    assert_eq!(
        config::match_policy(&policies, &vmi_labels, &ns_labels).unwrap().metadata.name.as_deref(),
        Some("y-two-vmi")
    );
    // Without it: tie on totals and VMI labels → smallest name.
    let rest = vec![policies[0].clone(), policies[3].clone()];
    assert_eq!(
        config::match_policy(&rest, &vmi_labels, &ns_labels).unwrap().metadata.name.as_deref(),
        Some("b-ns-and-vmi")
    );
    let no_selectors: MigrationPolicy = typed(json!({"metadata": {"name": "none"}, "spec": {}}));
    assert!(config::match_policy(&[no_selectors], &vmi_labels, &ns_labels).is_none());
}

#[test]
fn eviction_strategy_from_the_cr_then_vm_then_default() {
    let r = report(&haos());
    let c = one(&r, "eviction.strategy");
    assert_eq!(c.status, Status::Pass);
    assert_eq!(c.reason, "evictionStrategy LiveMigrate (from the KubeVirt CR): a node drain live-migrates the VM");

    let mut snap = haos();
    snap.kubevirts[0].spec.configuration.eviction_strategy = None;
    let c = one(&report(&snap), "eviction.strategy").clone();
    assert_eq!(c.status, Status::Warn);
    assert_eq!(
        c.reason,
        "evictionStrategy None (from default): a node drain shuts the VM down instead of migrating it"
    );

    snap.vms[0].spec.template.spec.eviction_strategy = Some("LiveMigrateIfPossible".into());
    assert_eq!(one(&report(&snap), "eviction.strategy").status, Status::Pass);

    let mut snap = haos();
    snap.vmis = vec![typed(fixture("vmi-not-migratable"))];
    let c = one(&report(&snap), "eviction.strategy").clone();
    assert_eq!(c.status, Status::Warn);
    assert!(c.reason.contains("not live-migratable: a node drain is blocked"), "{}", c.reason);
}

// ---- LiveMigratable ---------------------------------------------------------------------------------------

#[test]
fn rwo_disk_fails_and_agrees_with_the_server_condition() {
    let mut snap = haos();
    snap.vmis = vec![typed(fixture("vmi-not-migratable"))];
    snap.pvcs = vec![typed(fixture("pvc-rwo"))];
    let r = report(&snap);
    assert_eq!(r.verdict, Verdict::NotMigratable);
    let server_message = "cannot migrate VMI: PVC vm-disk-haos is not shared, live migration requires that all PVCs \
                          must be shared (using ReadWriteMany access mode)";
    assert_eq!(r.blockers.len(), 1);
    assert_eq!((r.blockers[0].reason, r.blockers[0].message.as_str()), ("DisksNotLiveMigratable", server_message));
    let server = one(&r, "migratable.server");
    assert_eq!(server.status, Status::Fail);
    assert_eq!(server.reason, format!("VMI {VM}: LiveMigratable=False, DisksNotLiveMigratable: {server_message}"));
    let disks = one(&r, "migratable.disks");
    assert_eq!((disks.status, disks.kubevirt_reason.as_deref()), (Status::Fail, Some("DisksNotLiveMigratable")));
    assert_eq!(one(&r, "migratable.consistency").status, Status::Pass);
    let storage = one(&r, "storage.volume");
    assert_eq!(storage.status, Status::Fail);
    assert_eq!(
        storage.reason,
        "volume disk-haos: PVC vm-disk-haos ReadWriteOnce, Block, StorageClass local, Bound: not ReadWriteMany"
    );
    assert_eq!(CheckReport::new(None, vec![r]).exit_code(false), ExitCode::NotMigratable);
}

#[test]
fn two_blockers_are_both_listed_in_kubevirt_order() {
    let mut snap = haos();
    snap.vmis = vec![typed(fixture("vmi-not-migratable"))];
    edit_vmi(&mut snap, |v| {
        v["metadata"]["annotations"].as_object_mut().unwrap().remove(ANNOTATION);
    });
    let r = report(&snap);
    let reasons: Vec<&str> = r.blockers.iter().map(|b| b.reason).collect();
    assert_eq!(reasons, ["DisksNotLiveMigratable", "InterfaceNotLiveMigratable"]);
    assert_eq!(one(&r, "migratable.disks").status, Status::Fail);
    let net = one(&r, "migratable.network");
    assert_eq!(net.status, Status::Fail);
    assert_eq!(
        net.reason,
        "cannot migrate VMI which does not use masquerade, bridge with kubevirt.io/allow-pod-bridge-network-live-migration \
         VM annotation or a migratable plugin to connect to the pod network"
    );
    assert!(net.fix.as_deref().unwrap().starts_with("interface default uses bridge on the pod network"));
    // The server reports only the first, and that is ours too.
    assert_eq!(one(&r, "migratable.consistency").status, Status::Pass);
    let default_iface = checks(&r, "network.interface")[0];
    assert_eq!(default_iface.status, Status::Fail);
}

const ANNOTATION: &str = "kubevirt.io/allow-pod-bridge-network-live-migration";

#[test]
fn disagreement_with_the_server_is_reported_both_ways() {
    // Server True, we find a blocker.
    let mut snap = haos();
    edit_vmi(&mut snap, |v| {
        v["metadata"]["annotations"].as_object_mut().unwrap().remove(ANNOTATION);
    });
    let r = report(&snap);
    let c = one(&r, "migratable.consistency");
    assert_eq!(c.status, Status::Warn);
    assert_eq!(c.reason, "server says LiveMigratable=True but client-side rules find InterfaceNotLiveMigratable");
    assert_eq!(one(&r, "migratable.server").status, Status::Pass);

    // Server False, we find nothing.
    let mut snap = haos();
    snap.vmis = vec![typed(fixture("vmi-not-migratable"))];
    edit_vmi(&mut snap, |v| {
        v["status"]["volumeStatus"][0]["persistentVolumeClaimInfo"]["accessModes"] = json!(["ReadWriteMany"])
    });
    let c = one(&report(&snap), "migratable.consistency").clone();
    assert_eq!(c.status, Status::Warn);
    assert_eq!(c.reason, "server reports DisksNotLiveMigratable which client-side rules do not reproduce");

    // No condition at all: warn on the server check, skip the comparison.
    let mut snap = haos();
    edit_vmi(&mut snap, |v| v["status"]["conditions"] = json!([]));
    let r = report(&snap);
    assert_eq!(one(&r, "migratable.server").status, Status::Warn);
    assert_eq!(one(&r, "migratable.consistency").status, Status::Skip);
}

/// Derives the blockers of the seed VMI after an edit.
fn blockers_after(f: impl FnOnce(&mut Value)) -> Vec<Blocker> {
    let mut snap = haos();
    edit_vmi(&mut snap, f);
    report(&snap).blockers
}

fn only(blockers: &[Blocker]) -> (&'static str, &'static str, &str) {
    assert_eq!(blockers.len(), 1, "{blockers:#?}");
    (blockers[0].id, blockers[0].reason, blockers[0].message.as_str())
}

#[test]
fn every_blocker_category_in_its_failing_form() {
    let b = blockers_after(|v| v["status"]["volumeStatus"] = json!([]));
    assert_eq!(
        only(&b),
        (
            "migratable.disks",
            "DisksNotLiveMigratable",
            "cannot migrate VMI: Unable to determine if PVC vm-disk-haos is shared, live migration requires that all \
             PVCs must be shared (using ReadWriteMany access mode)"
        )
    );
    let b = blockers_after(|v| {
        v["spec"]["volumes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "hd", "hostDisk": {"path": "/data/x.img", "type": "Disk"}}))
    });
    assert_eq!(only(&b), ("migratable.disks", "DisksNotLiveMigratable", "cannot migrate VMI with non-shared HostDisk"));
    let b = blockers_after(|v| {
        v["spec"]["volumes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "hd", "hostDisk": {"path": "/x", "shared": true}}))
    });
    assert!(b.is_empty(), "a shared hostDisk is fine: {b:#?}");
    let b =
        blockers_after(|v| v["spec"]["domain"]["devices"]["interfaces"][0] = json!({"name": "default", "passt": {}}));
    assert_eq!(only(&b).1, "InterfaceNotLiveMigratable");
    let b = blockers_after(|v| {
        v["spec"]["domain"]["devices"]["gpus"] = json!([{"name": "gpu1", "deviceName": "nvidia.com/T4"}])
    });
    assert_eq!(only(&b), ("migratable.hostdevices", "HostDeviceNotLiveMigratable", "VMI uses a PCI host devices"));
    let b = blockers_after(|v| v["spec"]["domain"]["launchSecurity"] = json!({"sev": {}}));
    assert_eq!(only(&b), ("migratable.sev", "SEVNotLiveMigratable", "VMI uses SEV"));
    let b = blockers_after(|v| {
        v["spec"]["domain"]["devices"]["disks"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "lun0", "lun": {"reservation": true}}))
    });
    assert_eq!(
        only(&b),
        ("migratable.reservation", "PersistentReservationNotLiveMigratable", "VMI uses SCSI persitent reservation")
    );
    let b = blockers_after(|v| v["spec"]["domain"]["features"]["hyperv"] = json!({"reenlightenment": {}}));
    assert_eq!(only(&b).1, "NoTSCFrequencyNotLiveMigratable");
    let b = blockers_after(|v| {
        v["spec"]["domain"]["features"]["hyperv"] = json!({"reenlightenment": {}});
        v["status"]["topologyHints"] = json!({"tscFrequency": 3192000000u64});
    });
    assert!(b.is_empty(), "a known TSC frequency makes reenlightenment migratable: {b:#?}");
    let b = blockers_after(|v| v["spec"]["domain"]["features"]["hypervPassthrough"] = json!({"enabled": true}));
    assert_eq!(
        only(&b),
        ("migratable.hypervpassthrough", "HypervPassthroughNotLiveMigratable", "VMI uses hyperv passthrough")
    );
}

#[test]
fn host_model_needs_a_detected_host_model_on_the_source_node() {
    let mut snap = haos();
    let toy = snap.nodes.iter_mut().find(|n| n.metadata.name.as_deref() == Some("the-toy-factory")).unwrap();
    toy.metadata.labels.as_mut().unwrap().retain(|k, _| !k.starts_with("host-model-cpu.node.kubevirt.io/"));
    let r = report(&snap);
    assert_eq!(
        only(&r.blockers),
        (
            "migratable.cpu",
            "CPUModeLiveMigratable",
            "the node \"the-toy-factory\" does not allow migration with host-model"
        )
    );
    // A named model is not a LiveMigratable blocker, but needs its label on the target.
    edit_vmi(&mut snap, |v| v["spec"]["domain"]["cpu"]["model"] = json!("Haswell-noTSX-IBRS"));
    let r = report(&snap);
    assert!(r.blockers.is_empty());
    assert!(node(&r, "illusion").eligible, "{:?}", node(&r, "illusion"));
}

#[test]
fn pod_network_rules() {
    // masquerade: migratable; IP changes, but the LoadBalancer Service keeps the VM reachable.
    let mut snap = haos();
    edit_vmi(&mut snap, |v| {
        v["spec"]["domain"]["devices"]["interfaces"][0] = json!({"name": "default", "masquerade": {}})
    });
    let r = report(&snap);
    assert!(r.blockers.is_empty());
    let c = checks(&r, "network.interface")[0];
    assert_eq!(c.status, Status::Pass);
    assert_eq!(
        c.reason,
        "interface default (masquerade on pod network, IP 10.244.0.57): the pod IP changes, but Service \
         vm-instance-haos (LoadBalancer 192.168.50.101) keeps the VM reachable"
    );
    snap.services.clear();
    let r = report(&snap);
    assert_eq!(checks(&r, "network.interface")[0].status, Status::Warn);

    // Bridge with the annotation keeps its IP; the Multus interface keeps its IP.
    let r = report(&haos());
    let ifaces = checks(&r, "network.interface");
    assert_eq!(ifaces.len(), 2);
    assert!(ifaces.iter().all(|c| c.status == Status::Pass));
    assert_eq!(
        ifaces[1].reason,
        "interface lan (bridge on Multus network tenant-root/lan, IP 192.168.1.150): IP kept (secondary network)"
    );

    // A binding plugin is migratable only when registered with a migration stanza.
    let mut snap = haos();
    edit_vmi(&mut snap, |v| {
        v["spec"]["domain"]["devices"]["interfaces"][0] = json!({"name": "default", "binding": {"name": "passt"}})
    });
    let r = report(&snap);
    assert_eq!(r.blockers[0].reason, "InterfaceNotLiveMigratable");
    assert_eq!(checks(&r, "network.interface")[0].status, Status::Fail);
    snap.kubevirts[0].spec.configuration.network =
        Some(typed(json!({"binding": {"passt": {"migration": {"method": "link-refresh"}}}})));
    let r = report(&snap);
    assert!(r.blockers.is_empty());
    let c = checks(&r, "network.interface")[0];
    assert_eq!(c.status, Status::Pass, "the LoadBalancer Service keeps it reachable: {c:?}");
    assert!(
        c.reason.starts_with("interface default (passt on pod network, IP 10.244.0.57): the pod IP changes"),
        "{c:?}"
    );

    // No pod network at all: migratable.
    let b = blockers_after(|v| {
        v["spec"]["networks"].as_array_mut().unwrap().remove(0);
        v["metadata"]["annotations"].as_object_mut().unwrap().remove(ANNOTATION);
    });
    assert!(b.is_empty(), "{b:#?}");
}

// ---- running, in flight, parallel limits, KubeVirt ---------------------------------------------------------

#[test]
fn stopped_vm_fails_with_vm_is_not_running() {
    let mut snap = haos();
    snap.vmis.clear();
    snap.dry_runs.clear();
    let r = report(&snap);
    let c = one(&r, "vm.running");
    assert_eq!(c.status, Status::Fail);
    assert_eq!(c.reason, "VM is not running: VM tenant-root/vm-instance-haos has no VMI");
    assert_eq!(one(&r, "migratable.server").status, Status::Skip);
    assert_eq!(one(&r, "admission.dryrun").reason, "VM is not running");
    assert!(r.nodes.is_empty() && r.effective_config.is_none());
    assert_eq!(r.verdict, Verdict::NotMigratable);

    let mut snap = haos();
    edit_vmi(&mut snap, |v| v["status"]["phase"] = json!("Scheduling"));
    assert_eq!(
        one(&report(&snap), "vm.running").reason,
        "VM is not running: VMI tenant-root/vm-instance-haos is Scheduling"
    );
}

#[test]
fn in_flight_migration_is_named_with_its_phase() {
    let mut snap = haos();
    snap.migrations.push(typed(fixture("vmim-running")));
    let r = report(&snap);
    let c = one(&r, "migration.inflight");
    assert_eq!(c.status, Status::Fail);
    assert_eq!(c.reason, "migration already in flight for VMI vm-instance-haos: kubevirt-migrate-vm-8k4tn (Running)");
    assert_eq!(
        one(&r, "config.parallel").reason,
        "1/5 migrations running cluster-wide, 1/2 out of node the-toy-factory"
    );
}

/// A running migration of another VMI on `node`.
fn other_running_migration(snap: &mut ClusterSnapshot, i: usize, node: &str) {
    let name = format!("other-{i}");
    let mut vmi = snap.vmis[0].clone();
    vmi.metadata.name = Some(name.clone());
    vmi.status.as_mut().unwrap().node_name = Some(node.into());
    snap.vmis.push(vmi);
    let mut m: VirtualMachineInstanceMigration = typed(fixture("vmim-running"));
    m.metadata.name = Some(format!("mig-{i}"));
    m.metadata.labels = Some([("kubevirt.io/vmi-name".to_owned(), name.clone())].into());
    m.spec.vmi_name = name;
    snap.migrations.push(m);
}

#[test]
fn parallel_limits_warn_when_full() {
    let mut snap = haos();
    other_running_migration(&mut snap, 1, "the-toy-factory");
    other_running_migration(&mut snap, 2, "the-toy-factory");
    let c = one(&report(&snap), "config.parallel").clone();
    assert_eq!(c.status, Status::Warn);
    assert_eq!(
        c.reason,
        "2 migrations already running out of node the-toy-factory (parallelOutboundMigrationsPerNode 2): a new one waits in Pending"
    );
    let mut snap = haos();
    for i in 0..5 {
        other_running_migration(&mut snap, i, "the-dome");
    }
    let c = one(&report(&snap), "config.parallel").clone();
    assert_eq!(c.status, Status::Warn);
    assert!(c.reason.starts_with("5 migrations already running cluster-wide (parallelMigrationsPerCluster 5)"));
}

#[test]
fn kubevirt_installed_check_forms() {
    let r = report(&haos());
    assert_eq!(one(&r, "kubevirt.installed").reason, "KubeVirt v1.5.2 (cozy-kubevirt/kubevirt, Deployed)");
    let mut snap = haos();
    snap.kubevirts[0].status.as_mut().unwrap().observed_kube_virt_version = Some("v1.6.1".into());
    assert_eq!(one(&report(&snap), "kubevirt.installed").status, Status::Warn);
    snap.kubevirts.clear();
    assert_eq!(one(&report(&snap), "kubevirt.installed").status, Status::Fail);
    snap.unavailable.insert("kubevirts".into(), "cannot list kubevirts: forbidden".into());
    let r = report(&snap);
    assert_eq!(one(&r, "kubevirt.installed").status, Status::Warn);
    assert_eq!(one(&r, "config.migration").status, Status::Warn, "defaults are assumed");
}

#[test]
fn dry_run_denial_is_shown_verbatim() {
    let mut snap = haos();
    let message = fixture("vmim-create-not-migratable")["message"].as_str().unwrap().to_owned();
    snap.dry_runs.insert((NS.into(), VM.into()), DryRun::Denied(message.clone()));
    let c = one(&report(&snap), "admission.dryrun").clone();
    assert_eq!((c.status, c.reason), (Status::Fail, message));
    snap.dry_runs.clear();
    let c = one(&report(&snap), "admission.dryrun").clone();
    assert_eq!(c.status, Status::Skip);
}

// ---- nodes ------------------------------------------------------------------------------------------------

fn node_mut<'a>(snap: &'a mut ClusterSnapshot, name: &str) -> &'a mut Node {
    snap.nodes.iter_mut().find(|n| n.metadata.name.as_deref() == Some(name)).unwrap()
}

#[test]
fn node_reasons_not_ready_unschedulable_taint_selector_affinity_memory() {
    let mut snap = haos();
    let dome = node_mut(&mut snap, "the-dome");
    let labels = dome.metadata.labels.as_mut().unwrap();
    labels.insert("kubevirt.io/schedulable".into(), "false".into());
    let status = dome.status.as_mut().unwrap();
    status.conditions.as_mut().unwrap().iter_mut().find(|c| c.type_ == "Ready").unwrap().status = "Unknown".into();
    dome.spec.as_mut().unwrap().taints =
        Some(vec![typed(json!({"key": "dedicated", "value": "db", "effect": "NoSchedule"}))]);
    let r = report(&snap);
    assert_eq!(
        node(&r, "the-dome").reasons,
        [
            "NotReady",
            "virt-handler is not ready there (needs label kubevirt.io/schedulable=true)",
            "untolerated taint dedicated=db:NoSchedule",
        ]
    );
    let target = one(&r, "nodes.target");
    assert_eq!((target.status, target.reason.as_str()), (Status::Fail, "no eligible target node among 4 nodes"));

    // Tolerations, a nodeSelector and a required node affinity.
    let mut snap = haos();
    node_mut(&mut snap, "the-dome").spec.as_mut().unwrap().taints =
        Some(vec![typed(json!({"key": "dedicated", "value": "db", "effect": "NoSchedule"}))]);
    edit_vmi(&mut snap, |v| {
        v["spec"]["tolerations"] =
            json!([{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]);
        v["spec"]["nodeSelector"] = json!({"rack": "r1"});
        v["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["the-dome"]}]}
        ]}}});
    });
    let r = report(&snap);
    assert_eq!(
        node(&r, "the-dome").reasons,
        [
            "does not match the VM's nodeSelector (needs label rack=r1)",
            "does not match the VM's required node affinity"
        ]
    );

    // Memory: the VM needs more than the-dome has free.
    let mut snap = haos();
    edit_vmi(&mut snap, |v| v["spec"]["domain"]["resources"]["requests"]["memory"] = json!("62Gi"));
    let r = report(&snap);
    assert_eq!(
        node(&r, "the-dome").reasons,
        ["not enough memory: 61.6Gi free of 61.6Gi allocatable, 62.4Gi needed (62Gi + 392Mi overhead)"]
    );
}

#[test]
fn host_devices_need_their_extended_resource_on_the_target() {
    let mut snap = haos();
    edit_vmi(&mut snap, |v| {
        v["spec"]["domain"]["devices"]["gpus"] = json!([{"name": "gpu0", "deviceName": "nvidia.com/T4"}])
    });
    let alloc = node_mut(&mut snap, "here-i-am").status.as_mut().unwrap().allocatable.as_mut().unwrap();
    alloc.insert("nvidia.com/T4".into(), typed(json!("2")));
    let r = report(&snap);
    assert_eq!(node(&r, "the-dome").reasons, ["has 0 allocatable nvidia.com/T4, the VM needs 1"]);
    assert_eq!(node(&r, "here-i-am").reasons, ["cordoned (spec.unschedulable)"]);
}

#[test]
fn memory_overhead_estimate() {
    let vmi: VirtualMachineInstance = typed(fixture("vmi-running"));
    // 4Gi/512 = 8Mi, + 220Mi + 8Mi × 1 vCPU + 8Mi + 32Mi.
    assert_eq!(nodes::memory_overhead(&vmi, 4 << 30), 276 << 20);
}

#[test]
fn launcher_pods_count_against_node_memory_and_anti_affinity() {
    let mut snap = haos();
    let mut target: Pod = snap.launcher_pods[0].clone();
    target.metadata.name = Some("virt-launcher-vm-instance-haos-target".into());
    target.spec.as_mut().unwrap().node_name = Some("the-dome".into());
    snap.launcher_pods.push(target);
    let r = report(&snap);
    assert_eq!(node(&r, "the-dome").reasons, ["already runs a virt-launcher pod of this VMI (pod anti-affinity)"]);
    let index = Index::new(&snap);
    assert_eq!(index.memory_requested("the-dome"), 4567597057);
}

// ---- report, exit codes, rendering ------------------------------------------------------------------------

#[test]
fn exit_codes_and_strict() {
    let mut snap = haos();
    snap.kubevirts[0].spec.configuration.eviction_strategy = None; // one warning
    let r = CheckReport::new(None, vec![report(&snap)]);
    assert_eq!(r.vms[0].verdict, Verdict::MigratableWithWarnings);
    assert_eq!(r.exit_code(false), ExitCode::Success);
    assert_eq!(r.exit_code(true), ExitCode::NotMigratable);
}

#[test]
fn request_validation() {
    let ok = CheckRequest { vms: vec!["a".into()], ..Default::default() };
    assert!(ok.validate().is_ok() && ok.wants_dry_run());
    let all = CheckRequest { all: true, all_namespaces: true, ..Default::default() };
    assert!(all.validate().is_ok() && !all.wants_dry_run());
    for bad in [
        CheckRequest::default(),
        CheckRequest { vms: vec!["a".into()], all: true, ..Default::default() },
        CheckRequest { vms: vec!["a".into()], all_namespaces: true, ..Default::default() },
        CheckRequest { all: true, all_namespaces: true, namespace: Some("x".into()), ..Default::default() },
    ] {
        assert_eq!(bad.validate().unwrap_err().exit_code(), ExitCode::Usage, "{bad:?}");
    }
    assert_eq!(CheckError::KubeVirtNotInstalled("x".into()).exit_code(), ExitCode::Error);
    assert_eq!(
        CheckError::Forbidden { verb: "list".into(), resource: "virtualmachines".into(), namespace: Some("ns".into()) }
            .to_string(),
        "forbidden: you cannot list virtualmachines in namespace ns"
    );
}

#[test]
fn evaluate_all_keeps_target_order_and_version() {
    let mut snap = haos();
    snap.targets.push((NS.into(), "missing".into()));
    let r = evaluate_all(&snap, &EvalOptions::default());
    assert_eq!(r.kubevirt_version.as_deref(), Some("v1.5.2"));
    let names: Vec<&str> = r.vms.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, [VM, "missing"]);
    assert_eq!(r.vms[1].verdict, Verdict::NotMigratable);
}

#[test]
fn json_schema_shape() {
    let r = evaluate_all(&haos(), &EvalOptions::default());
    let v: Value = serde_json::from_str(&render::json(&r)).unwrap();
    assert_eq!(v["apiVersion"], "vmmigrate.kubevirt.io/v1alpha1");
    assert_eq!(v["kind"], "CheckReport");
    assert_eq!(v["kubevirtVersion"], "v1.5.2");
    let vm = &v["vms"][0];
    assert_eq!(vm["verdict"], "migratable");
    assert_eq!(
        vm["checks"][0],
        json!({"id": "kubevirt.installed", "status": "pass", "reason": "KubeVirt v1.5.2 (cozy-kubevirt/kubevirt, Deployed)"})
    );
    assert_eq!(
        vm["nodes"][1],
        json!({"node": "illusion", "eligible": false, "reasons": node(&report(&haos()), "illusion").reasons})
    );
    assert_eq!(vm["effectiveConfig"]["completionTimeoutSeconds"], 750);
    assert_eq!(vm["effectiveConfig"]["completionTimeoutPerGiB"], json!({"value": 150, "source": "kubevirt"}));
    assert_eq!(vm["effectiveConfig"]["disableTLS"], json!({"value": false, "source": "default"}));
    let yaml = render::yaml(&r);
    assert!(yaml.contains("kind: CheckReport"), "{yaml}");
    assert!(yaml.contains("completionTimeoutSeconds: 750"), "{yaml}");
}

/// The two-blocker variant of the seed VMI: RWO disk and bridge without the annotation.
fn two_blockers() -> ClusterSnapshot {
    let mut snap = haos();
    snap.vmis = vec![typed(fixture("vmi-not-migratable"))];
    snap.pvcs = vec![typed(fixture("pvc-rwo"))];
    edit_vmi(&mut snap, |v| {
        v["metadata"]["annotations"].as_object_mut().unwrap().remove(ANNOTATION);
    });
    snap
}

/// Compares with a reviewed rendering in testdata/check; `UPDATE_SNAPSHOTS=1` rewrites it.
fn assert_snapshot(file: &str, actual: &str) {
    let path = format!("{}/testdata/check/{file}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    let first = actual.lines().zip(expected.lines()).position(|(a, e)| a != e);
    if let Some(i) = first {
        panic!(
            "{path}:{}: got\n{}\nexpected\n{}",
            i + 1,
            actual.lines().nth(i).unwrap(),
            expected.lines().nth(i).unwrap()
        );
    }
    assert_eq!(actual, expected, "rendering differs from {path} (line count)");
}

#[test]
fn render_haos_wide() {
    let r = evaluate_all(&haos(), &EvalOptions::default());
    assert_snapshot("haos-wide.txt", &render::table(&r, render::TableOptions { wide: true, ..Default::default() }));
}

#[test]
fn render_two_blockers_and_summary() {
    let mut snap = two_blockers();
    snap.vms.push(snap.vms[0].clone());
    snap.vms[1].metadata.name = Some("stopped".into());
    snap.targets.push((NS.into(), "stopped".into()));
    let r = evaluate_all(&snap, &EvalOptions::default());
    assert_snapshot("two-blockers.txt", &render::table(&r, render::TableOptions::default()));
    let summary = render::table(&r, render::TableOptions { summary: true, ..Default::default() });
    assert_snapshot("summary.txt", &summary);
}

#[test]
fn colour_only_when_asked() {
    let r = evaluate_all(&two_blockers(), &EvalOptions::default());
    let plain = render::table(&r, render::TableOptions::default());
    assert!(!plain.contains('\x1b'));
    let coloured = render::table(&r, render::TableOptions { colour: true, ..Default::default() });
    assert!(coloured.contains("\x1b[31m✗\x1b[0m migratable.server"));
    assert!(coloured.contains("\x1b[31mNOT MIGRATABLE\x1b[0m"));
}

#[test]
fn node_verdicts_are_shared_only_between_equal_requirements() {
    let mut snap = haos();
    let mut twin = snap.vmis[0].clone();
    twin.metadata.name = Some("twin".into());
    twin.metadata.uid = Some("twin-uid".into());
    let mut elsewhere = twin.clone();
    elsewhere.metadata.name = Some("elsewhere".into());
    elsewhere.status.as_mut().unwrap().node_name = Some("the-dome".into());
    snap.vmis.extend([twin, elsewhere]);
    snap.targets.extend([(NS.into(), "twin".into()), (NS.into(), "elsewhere".into())]);
    let r = evaluate_all(&snap, &EvalOptions::default());
    assert_eq!(r.vms[0].nodes, r.vms[1].nodes);
    let eligible: Vec<&str> = r.vms[2].nodes.iter().filter(|n| n.eligible).map(|n| n.node.as_str()).collect();
    assert_eq!(eligible, ["the-toy-factory"], "a VM on the-dome can go to the other Skylake node");
}
