//! The scenario format, the haos objects against the fixtures, the example scenarios and the generator.

use serde_json::{Value, json};

use super::*;
use crate::api::Store;
use crate::api::resources::{self as r, ResourceType};
use crate::clock::SimClock;

macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!("../../../testdata/kubevirt/", $name))).unwrap()
    };
}

fn applied(s: &Scenario) -> (Store, Applied) {
    let store = Store::new(SimClock::default());
    let applied = s.apply(&store).unwrap();
    (store, applied)
}

fn haos() -> (Store, Applied) {
    applied(&Scenario::builtin("haos").unwrap())
}

fn get(store: &Store, rt: &'static ResourceType, ns: Option<&str>, name: &str) -> Value {
    store.get(rt, ns, name).unwrap_or_else(|e| panic!("{} {name}: {e}", rt.kind))
}

fn without(mut v: Value, keys: &[&str]) -> Value {
    if let Some(m) = v.as_object_mut() {
        for k in keys {
            m.remove(*k);
        }
    }
    v
}

#[test]
fn haos_nodes_carry_the_fixture_labels_and_resources() {
    let (store, _) = haos();
    let fixture = fixture!("nodes.json");
    for want in fixture["items"].as_array().unwrap() {
        let name = want["metadata"]["name"].as_str().unwrap();
        let got = get(&store, &r::NODES, None, name);
        assert_eq!(got["metadata"]["labels"], want["metadata"]["labels"], "labels of {name}");
        for k in ["kubevirt.io/ksm-handler-managed", "node.alpha.kubernetes.io/ttl"] {
            assert_eq!(got["metadata"]["annotations"][k], want["metadata"]["annotations"][k], "{name} {k}");
        }
        assert_eq!(got["status"]["allocatable"], want["status"]["allocatable"], "allocatable of {name}");
        assert_eq!(got["status"]["capacity"]["memory"], want["status"]["capacity"]["memory"]);
        assert_eq!(got["status"]["addresses"], want["status"]["addresses"], "addresses of {name}");
        assert_eq!(got["spec"]["unschedulable"], want["spec"]["unschedulable"], "{name}");
        assert_eq!(got["spec"]["podCIDR"], want["spec"]["podCIDR"]);
        let taint_keys = |v: &Value| -> Vec<Value> {
            v["spec"]["taints"].as_array().map(|t| t.iter().map(|t| t["key"].clone()).collect()).unwrap_or_default()
        };
        assert_eq!(taint_keys(&got), taint_keys(want), "taints of {name}");
        let ready = |v: &Value| {
            v["status"]["conditions"].as_array().unwrap().iter().any(|c| c["type"] == "Ready" && c["status"] == "True")
        };
        assert!(ready(&got));
        assert_eq!(got["status"]["nodeInfo"]["kubeletVersion"], want["status"]["nodeInfo"]["kubeletVersion"]);
    }
}

#[test]
fn haos_vm_matches_the_fixture() {
    let (store, _) = haos();
    let want = fixture!("vm.json");
    let got = get(&store, &r::VMS, Some("tenant-root"), "vm-instance-haos");
    assert_eq!(got["spec"], want["spec"]);
    for k in ["labels", "annotations", "finalizers"] {
        assert_eq!(got["metadata"][k], want["metadata"][k], "{k}");
    }
    for k in ["printableStatus", "runStrategy", "ready", "created", "volumeSnapshotStatuses"] {
        assert_eq!(got["status"][k], want["status"][k], "status.{k}");
    }
    let it = get(&store, &r::CLUSTER_INSTANCETYPES, None, "u1.medium");
    assert_eq!(
        got["status"]["instancetypeRef"]["controllerRevisionRef"]["name"],
        json!(format!("vm-instance-haos-u1.medium-v1beta1-{}-1", it["metadata"]["uid"].as_str().unwrap()))
    );
    let types = |v: &Value| -> Vec<Value> {
        v["status"]["conditions"].as_array().unwrap().iter().map(|c| c["type"].clone()).collect()
    };
    let mut fixture_types = types(&want);
    fixture_types.retain(|t| t != "LiveMigratable" && t != "StorageLiveMigratable");
    assert_eq!(types(&got), fixture_types, "LiveMigratable is simkv's to compute");
}

#[test]
fn haos_vmi_matches_the_fixture() {
    let (store, _) = haos();
    let want = fixture!("vmi-running.json");
    let got = get(&store, &r::VMIS, Some("tenant-root"), "vm-instance-haos");
    let vm = get(&store, &r::VMS, Some("tenant-root"), "vm-instance-haos");
    assert_eq!(got["spec"], want["spec"]);
    assert_eq!(got["metadata"]["labels"], want["metadata"]["labels"]);
    let ann = |v: &Value| without(v["metadata"]["annotations"].clone(), &["kubevirt.io/vm-generation"]);
    assert_eq!(ann(&got), ann(&want));
    assert_eq!(got["metadata"]["finalizers"], want["metadata"]["finalizers"]);
    assert_eq!(got["metadata"]["ownerReferences"][0]["uid"], vm["metadata"]["uid"]);
    assert_eq!(
        without(got["metadata"]["ownerReferences"][0].clone(), &["uid"]),
        without(want["metadata"]["ownerReferences"][0].clone(), &["uid"])
    );
    for k in [
        "interfaces",
        "volumeStatus",
        "machine",
        "migrationMethod",
        "migrationTransport",
        "nodeName",
        "phase",
        "currentCPUTopology",
        "memory",
        "qosClass",
        "launcherContainerImageVersion",
        "runtimeUser",
        "selinuxContext",
    ] {
        assert_eq!(got["status"][k], want["status"][k], "status.{k}");
    }
    let conditions = got["status"]["conditions"].as_array().unwrap();
    assert!(conditions.iter().all(|c| c["type"] != "LiveMigratable" && c["type"] != "StorageLiveMigratable"));
    assert!(conditions.iter().any(|c| c["type"] == "AgentConnected" && c["status"] == "True"));
    let pod = get(&store, &r::PODS, Some("tenant-root"), "virt-launcher-vm-instance-haos-7x2kq");
    assert_eq!(got["status"]["activePods"], json!({ pod["metadata"]["uid"].as_str().unwrap(): "the-toy-factory" }));
}

#[test]
fn haos_launcher_pod_matches_the_fixture() {
    let (store, _) = haos();
    let want = fixture!("virt-launcher-pod.json");
    let got = get(&store, &r::PODS, Some("tenant-root"), "virt-launcher-vm-instance-haos-7x2kq");
    let vmi = get(&store, &r::VMIS, Some("tenant-root"), "vm-instance-haos");
    let vmi_uid = vmi["metadata"]["uid"].as_str().unwrap();
    let fixture_uid = want["metadata"]["labels"]["kubevirt.io/created-by"].as_str().unwrap();
    // The fixture's spec with the VMI UID the store gave.
    let want_spec: Value = serde_json::from_str(&want["spec"].to_string().replace(fixture_uid, vmi_uid)).unwrap();
    assert_eq!(got["spec"], want_spec);
    let mut want_labels = want["metadata"]["labels"].clone();
    want_labels["kubevirt.io/created-by"] = json!(vmi_uid);
    assert_eq!(got["metadata"]["labels"], want_labels);
    assert_eq!(got["metadata"]["generateName"], want["metadata"]["generateName"]);
    assert_eq!(got["metadata"]["ownerReferences"][0]["uid"], json!(vmi_uid));
    let annotations = got["metadata"]["annotations"].as_object().unwrap();
    for (k, v) in annotations {
        let fixture_value = &want["metadata"]["annotations"][k];
        if k == "k8s.v1.cni.cncf.io/network-status" {
            // Byte for byte, but for Kube-OVN's gateway, which the sim does not model.
            let gateway = ",\n        \"gateway\": [\n            \"10.244.0.1\"\n        ]";
            assert_eq!(v.as_str().unwrap(), fixture_value.as_str().unwrap().replace(gateway, ""));
        } else if k != "kubevirt.io/vm-generation" {
            assert_eq!(v, fixture_value, "annotation {k}");
        }
    }
    assert!(annotations.contains_key("k8s.v1.cni.cncf.io/networks"));
    for k in ["phase", "podIP", "podIPs", "hostIP", "hostIPs", "qosClass"] {
        assert_eq!(got["status"][k], want["status"][k], "status.{k}");
    }
    let ctypes = |v: &Value| -> Vec<Value> {
        v["status"]["conditions"].as_array().unwrap().iter().map(|c| c["type"].clone()).collect()
    };
    assert_eq!(ctypes(&got), ctypes(&want));
}

#[test]
fn haos_storage_network_and_kubevirt_objects_match_the_fixtures() {
    let (store, applied) = haos();
    let ns = Some("tenant-root");
    let pvc = get(&store, &r::PVCS, ns, "vm-disk-haos");
    let want = fixture!("pvc-rwx.json");
    assert_eq!(
        without(pvc["spec"].clone(), &["volumeName", "dataSource", "dataSourceRef"]),
        without(want["spec"].clone(), &["volumeName", "dataSource", "dataSourceRef"])
    );
    assert_eq!(pvc["status"], want["status"]);
    assert_eq!(pvc["metadata"]["labels"], want["metadata"]["labels"]);
    assert_eq!(pvc["metadata"]["annotations"], want["metadata"]["annotations"]);
    let dv = get(&store, &r::DATAVOLUMES, ns, "vm-disk-haos");
    let want = fixture!("datavolume.json");
    assert_eq!(dv["spec"], want["spec"]);
    assert_eq!(dv["status"]["phase"], want["status"]["phase"]);
    assert_eq!(pvc["metadata"]["ownerReferences"][0]["uid"], dv["metadata"]["uid"]);

    let svc = get(&store, &r::SERVICES, ns, "vm-instance-haos");
    let want = fixture!("service-lb.json");
    assert_eq!(
        without(svc["spec"].clone(), &["healthCheckNodePort", "ports"]),
        without(want["spec"].clone(), &["healthCheckNodePort", "ports"])
    );
    assert_eq!(svc["status"], want["status"]);
    for k in ["labels", "annotations", "finalizers"] {
        assert_eq!(svc["metadata"][k], want["metadata"][k], "service {k}");
    }
    assert_eq!(
        without(svc["spec"]["ports"][0].clone(), &["nodePort"]),
        without(want["spec"]["ports"][0].clone(), &["nodePort"])
    );

    for (name, file) in [("replicated", fixture!("storageclass.json")), ("local", fixture!("storageclass-local.json"))]
    {
        let got = get(&store, &r::STORAGE_CLASSES, None, name);
        assert_eq!(without(got.clone(), &["metadata"]), without(file.clone(), &["metadata"]));
        assert_eq!(got["metadata"]["annotations"], file["metadata"]["annotations"]);
    }
    let kv = get(&store, &r::KUBEVIRTS, Some("cozy-kubevirt"), "kubevirt");
    let want = fixture!("kubevirt-cr.json");
    assert_eq!(kv["spec"], want["spec"]);
    for k in ["phase", "observedKubeVirtVersion", "targetKubeVirtVersion", "operatorVersion"] {
        assert_eq!(kv["status"][k], want["status"][k], "kubevirt status.{k}");
    }
    assert_eq!(kv["metadata"]["labels"], want["metadata"]["labels"]);
    assert_eq!(kv["metadata"]["annotations"], want["metadata"]["annotations"]);
    let mp = get(&store, &r::MIGRATION_POLICIES, None, "tenant-root-bulk-storage");
    assert_eq!(mp["spec"], fixture!("migrationpolicy.json")["spec"]);
    let it = get(&store, &r::CLUSTER_INSTANCETYPES, None, "u1.medium");
    let want = fixture!("clusterinstancetype-u1.medium.json");
    assert_eq!(it["spec"], want["spec"]);
    assert_eq!(it["metadata"]["labels"], want["metadata"]["labels"]);
    assert_eq!(it["metadata"]["annotations"], want["metadata"]["annotations"]);
    assert!(store.get(&r::NADS, ns, "lan").is_ok());
    let (handlers, _) = store.list(&r::PODS, Some("cozy-kubevirt"));
    assert_eq!(handlers.len(), 4);
    assert_eq!(applied.kubevirt_namespace, "cozy-kubevirt");
    assert_eq!(applied.kubernetes_version, "v1.34.1");
    assert_eq!(applied.images["busybox:1.36"].ping_variant.as_deref(), Some("busybox"));
}

#[test]
fn haos_behaviour_keeps_the_seed_phase_order_and_is_shorter() {
    let s = Scenario::builtin("haos").unwrap();
    let b = s.behaviours();
    assert!(b.per_vm.is_empty());
    let d = &b.for_vm("tenant-root", "vm-instance-haos").phase_durations_ms;
    let total = d.pending + d.scheduling + d.scheduled + d.preparing_target + d.target_ready;
    // The seed took 10 s from Pending to Running; the default is realistic but shorter.
    assert!((3_000..10_000).contains(&total), "{total}");
    assert_eq!(b.default.outage_ms.get("10.244.0.57"), Some(&180));
}

#[test]
fn unknown_fields_are_one_line_naming_file_and_field() {
    let text = "nodes:\n  - name: a\n    cordonned: true\n";
    let err = Scenario::from_yaml(text, "typo.yaml").unwrap_err().to_string();
    assert!(!err.contains('\n'), "{err}");
    assert!(err.starts_with("typo.yaml:3:"), "{err}");
    assert!(err.ends_with("unknown field `cordonned`, expected one of name, cordoned, ready, schedulable, cpu, taints, labels, annotations, allocatable, capacity, devices, internalIp, podCidr"), "{err}");
    let err =
        Scenario::from_json(r#"{"nodes": [], "vms": [{"namespace": "a", "name": "b", "nodeName": "x"}]}"#, "x.json")
            .unwrap_err()
            .to_string();
    assert!(err.starts_with("x.json:1:") && err.contains("nodeName"), "{err}");
}

#[test]
fn dangling_references_are_rejected() {
    let base = "nodes: [{name: n1}]\nvms:\n  - {namespace: a, name: b, node: n1, ";
    for (tail, needle) in [
        ("instancetype: u9}", "instancetype \"u9\""),
        ("networks: [{name: lan, multus: lan}]}", "NAD a/lan"),
        ("volumes: [{name: r}]}", "exactly one of"),
        ("volumes: [{name: r, pvc: p}]}", "no default class"),
        ("running: true, node: n2}", "duplicate mapping key: node"),
        ("memory: 4GB}", "vm a/b: memory: \"4GB\" is not a quantity such as 4Gi"),
        ("volumes: [{name: r, containerDisk: x, size: big}]}", "volume r size: \"big\" is not a quantity"),
    ] {
        let text = format!("{base}{tail}\n");
        let err = Scenario::from_yaml(&text, "s.yaml").unwrap_err().to_string();
        assert!(err.contains(needle) && !err.contains('\n'), "{tail}: {err}");
    }
    let err =
        Scenario::from_yaml("nodes: [{name: n1}]\nvms: [{namespace: a, name: b, node: n9}]\n", "s.yaml").unwrap_err();
    assert_eq!(err.to_string(), "s.yaml: vm a/b: node \"n9\" is not in nodes");
    assert!(matches!(Scenario::builtin("nope"), Err(ScenarioError::UnknownBuiltin(_))));
    let err = Scenario::load("/nonexistent/haos2.yaml").unwrap_err().to_string();
    assert!(err.starts_with("/nonexistent/haos2.yaml (neither a built-in scenario"), "{err}");
}

#[test]
fn example_scenarios_load_and_apply() {
    for (name, _) in BUILTIN {
        let s = Scenario::builtin(name).unwrap();
        let (store, applied) = applied(&s);
        assert!(applied.objects > 10, "{name}");
        let (vms, _) = store.list(&r::VMS, None);
        assert_eq!(vms.len(), s.vms.len(), "{name}");
        let (vmis, _) = store.list(&r::VMIS, None);
        assert_eq!(vmis.len(), s.vms.iter().filter(|v| v.running).count(), "{name}");
    }
    let f = Scenario::builtin("faults").unwrap();
    assert_eq!(f.faults.drop_watch_after_events, Some(3));
    assert!(matches!(
        f.behaviours().for_vm("faults", "stuck").outcome,
        crate::kubevirt::behaviour::Outcome::TargetUnschedulable
    ));
}

#[test]
fn blockers_produce_the_shapes_simkv_reads() {
    let (store, _) = applied(&Scenario::builtin("blockers").unwrap());
    let ns = Some("blockers");
    let vmi = |n: &str| get(&store, &r::VMIS, ns, n);
    assert_eq!(
        vmi("rwo-and-bridge")["status"]["volumeStatus"][0]["persistentVolumeClaimInfo"]["accessModes"],
        json!(["ReadWriteOnce"])
    );
    assert_eq!(vmi("rwo-and-bridge")["status"]["migrationMethod"], "BlockMigration");
    assert_eq!(
        vmi("rwo-and-bridge")["spec"]["domain"]["devices"]["interfaces"][0],
        json!({"name": "default", "bridge": {}})
    );
    assert!(vmi("rwo-and-bridge")["metadata"]["annotations"].get(objects::ALLOW_POD_BRIDGE).is_none());
    assert_eq!(vmi("gpu-worker")["spec"]["domain"]["devices"]["gpus"][0]["deviceName"], "nvidia.com/GA102GL_A10");
    assert_eq!(
        vmi("nic-passthrough")["spec"]["domain"]["devices"]["hostDevices"][0]["deviceName"],
        "intel.com/E810_VF"
    );
    assert_eq!(vmi("confidential")["spec"]["domain"]["launchSecurity"], json!({"sev": {}}));
    assert_eq!(vmi("cluster-db")["spec"]["domain"]["devices"]["disks"][1]["lun"]["reservation"], true);
    assert_eq!(vmi("windows-old")["spec"]["domain"]["features"]["hyperv"]["reenlightenment"]["enabled"], true);
    assert!(vmi("windows-old")["status"].get("topologyHints").is_none());
    assert_eq!(vmi("windows-passthrough")["spec"]["domain"]["features"]["hypervPassthrough"]["enabled"], true);
    assert_eq!(vmi("hostdisk")["spec"]["volumes"][1]["hostDisk"]["shared"], false);
    assert_eq!(vmi("legacy-binding")["spec"]["domain"]["devices"]["interfaces"][0]["binding"]["name"], "legacy-plugin");
    assert_eq!(vmi("passt-plugin")["status"]["migrationMethod"], "BlockMigration");
    assert_eq!(vmi("healthy")["status"]["migrationMethod"], "LiveMigration");
    let old = get(&store, &r::NODES, None, "node-old");
    let labels = old["metadata"]["labels"].as_object().unwrap();
    assert!(!labels.keys().any(|k| k.starts_with("host-model-cpu.node.kubevirt.io/")));
    assert!(store.get(&r::VMIS, ns, "stopped").is_err());
    assert_eq!(get(&store, &r::VMS, ns, "stopped")["status"]["printableStatus"], "Stopped");
    let kv = get(&store, &r::KUBEVIRTS, Some("kubevirt"), "kubevirt");
    assert_eq!(kv["spec"]["configuration"]["network"]["binding"]["passt-plugin"]["migration"], json!({}));
}

#[test]
fn generator_is_deterministic_and_counts_right() {
    let opts = GenerateOptions { vms: 20_000, namespaces: 50, nodes: 100, seed: 7, mix: true };
    let a = Scenario::generate(opts);
    assert_eq!(a, Scenario::generate(opts));
    assert_ne!(a, Scenario::generate(GenerateOptions { seed: 8, ..opts }));
    assert_eq!(a.vms.len(), 20_000);
    assert_eq!(a.nodes.len(), 100);
    assert_eq!(a.cluster.namespaces.len(), 50);
    a.validate("generated").unwrap();
    let stopped = a.vms.iter().filter(|v| !v.running).count();
    assert!(stopped > 1000 && stopped < 1300, "{stopped}");
    let plain = Scenario::generate(GenerateOptions { mix: false, ..opts });
    assert!(plain.vms.iter().all(|v| v.running && v.host_devices.is_empty() && !v.sev));
}

#[test]
fn generated_yaml_round_trips() {
    let opts = GenerateOptions { vms: 40, namespaces: 3, nodes: 9, seed: 1, mix: true };
    let yaml = generate_yaml(opts).unwrap();
    let back = Scenario::from_yaml(&yaml, "generated.yaml").unwrap();
    assert_eq!(back, Scenario::generate(opts));
}

#[test]
fn generated_mixed_cluster_applies_with_every_kind() {
    let opts = GenerateOptions { vms: generate::MIX.len() * 3, namespaces: 3, nodes: 9, seed: 3, mix: true };
    let s = Scenario::generate(opts);
    let (store, applied) = applied(&s);
    let (pods, _) = store.list(&r::PODS, None);
    let running = s.vms.iter().filter(|v| v.running).count();
    assert_eq!(pods.len(), running + 9, "launcher pods + one virt-handler per node");
    assert_eq!(
        applied.objects,
        store.list(&r::NAMESPACES, None).0.len()
            + [
                &r::NODES,
                &r::PODS,
                &r::VMS,
                &r::VMIS,
                &r::PVCS,
                &r::DATAVOLUMES,
                &r::STORAGE_CLASSES,
                &r::KUBEVIRTS,
                &r::NADS,
                &r::CLUSTER_INSTANCETYPES,
                &r::SERVICES,
                &r::MIGRATION_POLICIES
            ]
            .iter()
            .map(|rt| store.list(rt, None).0.len())
            .sum::<usize>()
    );
    // Every VMI of an "old-host" VM runs on a node without a usable host model.
    for vm in s.vms.iter().filter(|v| v.running && v.cpu_model.is_none()) {
        let node = get(&store, &r::NODES, None, vm.node.as_deref().unwrap());
        let has_host_model =
            node["metadata"]["labels"].as_object().unwrap().keys().any(|k| k.starts_with("host-model-cpu"));
        let kind = opts.kind(vm.name[3..].parse::<usize>().unwrap()).0;
        assert_eq!(has_host_model, kind != "old-host", "{} ({kind})", vm.name);
    }
}

/// Every object in the store validates against its upstream schema; returns the kinds that have none.
fn validate_store(store: &Store) -> std::collections::BTreeSet<&'static str> {
    let mut unchecked = std::collections::BTreeSet::new();
    for rt in r::ALL {
        for obj in store.list(rt, None).0 {
            match crate::openapi::definition_for(&rt.api_version(), rt.kind) {
                Some(def) => {
                    if let Err(errors) = crate::openapi::validate(def, &obj) {
                        panic!("{} {}: {errors:#?}", rt.kind, obj["metadata"]["name"]);
                    }
                }
                None => {
                    unchecked.insert(rt.kind);
                }
            }
        }
    }
    unchecked
}

#[test]
fn every_object_validates_against_the_upstream_schemas() {
    let no_schema = std::collections::BTreeSet::from(["DataVolume", "NetworkAttachmentDefinition"]);
    assert_eq!(validate_store(&haos().0), no_schema);
    for (name, _) in BUILTIN {
        validate_store(&applied(&Scenario::builtin(name).unwrap()).0);
    }
    let mixed = Scenario::generate(GenerateOptions { vms: 60, namespaces: 3, nodes: 9, seed: 11, mix: true });
    assert_eq!(validate_store(&applied(&mixed).0), no_schema);
}

/// The reasons simkv's LiveMigratable computes for a store's VMIs, by VM name.
fn verdicts(store: &Store) -> std::collections::BTreeMap<String, Option<String>> {
    use crate::kubevirt::migratable::{live_migratable, migration_method};
    let kv = store.list(&r::KUBEVIRTS, None).0.into_iter().next();
    store
        .list(&r::VMIS, None)
        .0
        .iter()
        .map(|vmi| {
            let node = store.get(&r::NODES, None, vmi["status"]["nodeName"].as_str().unwrap()).ok();
            let v = live_migratable(vmi, node.as_ref(), kv.as_ref());
            assert_eq!(vmi["status"]["migrationMethod"], migration_method(vmi), "{}", vmi["metadata"]["name"]);
            (vmi["metadata"]["name"].as_str().unwrap().to_string(), (!v.migratable).then_some(v.reason))
        })
        .collect()
}

#[test]
fn generated_reasons_agree_with_simkv() {
    for (nodes, seed) in [(9, 5), (3, 2)] {
        let opts = GenerateOptions { vms: generate::MIX.len() * 2, namespaces: 2, nodes, seed, mix: true };
        let (store, _) = applied(&Scenario::generate(opts));
        let got = verdicts(&store);
        let want: std::collections::BTreeMap<String, Option<String>> = (0..opts.vms)
            .filter(|i| opts.kind(*i).0 != "stopped")
            .map(|i| (format!("vm-{i:05}"), opts.kind(i).1.map(str::to_string)))
            .collect();
        assert_eq!(got, want, "nodes {nodes}");
        let reasons: std::collections::BTreeSet<_> = got.values().flatten().collect();
        assert_eq!(reasons.len(), 8, "every LiveMigratable reason of v1.5.2");
    }
}

#[test]
fn blockers_reasons_agree_with_simkv() {
    let (store, _) = applied(&Scenario::builtin("blockers").unwrap());
    let want = [
        ("cluster-db", Some("PersistentReservationNotLiveMigratable")),
        ("confidential", Some("SEVNotLiveMigratable")),
        ("gpu-worker", Some("InterfaceNotLiveMigratable")),
        ("healthy", None),
        ("hostdisk", Some("DisksNotLiveMigratable")),
        ("legacy-binding", Some("InterfaceNotLiveMigratable")),
        ("nic-passthrough", Some("HostDeviceNotLiveMigratable")),
        ("old-host", Some("CPUModeLiveMigratable")),
        ("passt-plugin", None),
        ("rwo-and-bridge", Some("DisksNotLiveMigratable")),
        ("windows-old", Some("NoTSCFrequencyNotLiveMigratable")),
        ("windows-passthrough", Some("HypervPassthroughNotLiveMigratable")),
    ]
    .map(|(n, r)| (n.to_string(), r.map(str::to_string)));
    assert_eq!(verdicts(&store), want.into_iter().collect());
    let (haos_store, _) = haos();
    assert_eq!(verdicts(&haos_store), [("vm-instance-haos".to_string(), None)].into_iter().collect());
}

#[test]
fn raw_objects_are_created_as_given() {
    let text = r#"
nodes: [{name: n1}]
rawObjects:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: probe-config, namespace: tools}, data: {target: 10.0.0.1}}
cluster: {namespaces: [tools]}
"#;
    let (store, applied) = applied(&Scenario::from_yaml(text, "raw.yaml").unwrap());
    let cm = get(&store, &r::CONFIGMAPS, Some("tools"), "probe-config");
    assert_eq!(cm["data"], json!({"target": "10.0.0.1"}));
    assert_eq!(applied.kubevirt_namespace, "kubevirt");
    let bad =
        Scenario::from_yaml("nodes: []\nrawObjects: [{apiVersion: v9, kind: Gadget, metadata: {name: g}}]\n", "b")
            .unwrap()
            .apply(&Store::new(SimClock::default()))
            .unwrap_err();
    assert_eq!(bad.to_string(), "rawObjects: v9 Gadget is not a served resource type");
}

#[test]
fn applies_on_top_of_a_clusters_own_namespaces() {
    let store = Store::new(SimClock::default());
    crate::empty_cluster(&store).unwrap();
    let text =
        "nodes: [{name: n1}]\nvms: [{namespace: default, name: v, node: n1}]\ncluster: {namespaces: [kube-system]}\n";
    Scenario::from_yaml(text, "d.yaml").unwrap().apply(&store).unwrap();
    assert!(store.get(&r::VMIS, Some("default"), "v").is_ok());
}

#[test]
fn files_load_as_yaml_or_json_by_extension() {
    let opts = GenerateOptions { vms: 5, namespaces: 2, nodes: 3, seed: 4, mix: true };
    let dir = std::env::temp_dir();
    let yaml = dir.join(format!("vmmigrate-sim-scenario-{}.yaml", std::process::id()));
    let json_path = dir.join(format!("vmmigrate-sim-scenario-{}.json", std::process::id()));
    std::fs::write(&yaml, generate_yaml(opts).unwrap()).unwrap();
    std::fs::write(&json_path, serde_json::to_string(&Scenario::generate(opts)).unwrap()).unwrap();
    let from_yaml = Scenario::load(yaml.to_str().unwrap());
    let from_json = Scenario::from_file(&json_path);
    let _ = (std::fs::remove_file(&yaml), std::fs::remove_file(&json_path));
    assert_eq!(from_yaml.unwrap(), Scenario::generate(opts));
    assert_eq!(from_json.unwrap(), Scenario::generate(opts));
}
