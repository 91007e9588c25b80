//! The migration controller end to end against the store: the successful walk of the haos VM to the-dome.

mod common;

use common::*;
use serde_json::{Value, json};
use vmmigrate_sim::api::EventType;
use vmmigrate_sim::api::resources::{PODS, VMIMS, VMIS, VMS};
use vmmigrate_sim::kubevirt::BehaviourMap;
use vmmigrate_sim::kubevirt::behaviour::{MemoryModel, MigrationBehaviour};

const PHASES: [&str; 7] =
    ["Pending", "Scheduling", "Scheduled", "PreparingTarget", "TargetReady", "Running", "Succeeded"];

fn slow_memory() -> BehaviourMap {
    // 1 GiB in use at 100 MiB/s: a dozen simulated seconds of pre-copy, so the launcher logs a few lines.
    let memory =
        MemoryModel { bandwidth_mib_s: 100.0, dirty_rate_mib_s: 10.0, used_fraction: 0.25, max_downtime_ms: 300 };
    BehaviourMap { default: MigrationBehaviour { memory, ..Default::default() }, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haos_migrates_to_the_only_eligible_node() {
    let (s, kv) = haos(200.0, json!({}), slow_memory());
    let vmi_before = s.get(&VMIS, Some(NS), VM).unwrap();
    let source_pod = "virt-launcher-vm-instance-haos-abcde";
    let mut rx = s.subscribe();

    // Dry run: admitted and returned, nothing stored.
    let dry = create_vmim(&s, VM, true).unwrap();
    assert_eq!(dry["metadata"]["labels"]["kubevirt.io/vmi-name"], VM);
    assert!(s.list(&VMIMS, Some(NS)).0.is_empty());

    let created = create_vmim(&s, VM, false).unwrap();
    let vmim = name(&created);
    let uid = created["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(created["metadata"]["finalizers"], json!(["kubevirt.io/migrationJobFinalize"]));
    assert!(created.get("status").is_none());

    // A second one while this is in flight is denied with KubeVirt's message.
    let err = create_vmim(&s, VM, false).unwrap_err();
    assert_eq!(
        err.message,
        format!(
            "admission webhook \"migration-create-validator.kubevirt.io\" denied the request: in-flight migration detected. Active migration job ({uid}) is currently already in progress for VMI {VM}."
        )
    );
    let dry_err = create_vmim(&s, VM, true).unwrap_err();
    assert_eq!(dry_err.message, err.message, "dry-run goes through the same validation");

    let vm_rx = s.subscribe();
    let versions = history(&s, &mut rx, &vmim, 600).await;
    let last = &versions.last().unwrap().1;
    assert_eq!(phase(last), "Succeeded");

    // Phases observed in order, never going back.
    let mut seen: Vec<&str> = Vec::new();
    for (_, v) in &versions {
        let p = phase(v);
        if !p.is_empty() && seen.last() != Some(&p) {
            seen.push(p);
        }
    }
    assert_eq!(seen, PHASES);
    // Append-only timestamps, one per phase, in order.
    let ts = last["status"]["phaseTransitionTimestamps"].as_array().unwrap();
    let ts_phases: Vec<&str> = ts.iter().map(|t| t["phase"].as_str().unwrap()).collect();
    assert_eq!(ts_phases, PHASES);
    let times: Vec<jiff::Timestamp> =
        ts.iter().map(|t| t["phaseTransitionTimestamp"].as_str().unwrap().parse().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(ts.iter().all(|t| t["phaseTransitionTimestamp"].as_str().unwrap().len() == 20), "second precision");
    // A status always comes with its phase (Pending is written in one go, like vmim-pending.json).
    assert!(versions.iter().all(|(_, v)| v.get("status").is_none() || !phase(v).is_empty()));
    // Until final, the VMIM's migrationState has only the source pod.
    for (_, v) in &versions {
        if !matches!(phase(v), "Succeeded" | "Failed") && v["status"].get("migrationState").is_some() {
            assert_eq!(v["status"]["migrationState"], json!({"sourcePod": source_pod}), "{v}");
        }
    }
    assert_eq!(last["metadata"]["annotations"]["kubevirt.io/latest-observed-api-version"], "v1");
    assert!(last["metadata"]["finalizers"].as_array().unwrap().is_empty());

    // The VMI moved to the-dome, like the fixture vmi-migrated.json.
    let vmi = s.get(&VMIS, Some(NS), VM).unwrap();
    assert_eq!(vmi["status"]["nodeName"], "the-dome");
    assert_eq!(vmi["metadata"]["labels"]["kubevirt.io/nodeName"], "the-dome");
    assert_eq!(vmi["metadata"]["labels"]["kubevirt.io/migrationTargetNodeName"], "the-dome");
    let ms = &vmi["status"]["migrationState"];
    let fixture_ms = &fixture("vmi-migrated.json")["status"]["migrationState"];
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(ms), keys(fixture_ms));
    assert_eq!(ms["migrationUid"], uid.as_str());
    assert_eq!(ms["sourceNode"], "the-toy-factory");
    assert_eq!(ms["sourcePod"], source_pod);
    assert_eq!(ms["targetNode"], "the-dome");
    assert_eq!(ms["targetNodeAddress"], "192.168.50.13");
    assert_eq!((ms["completed"].clone(), ms["mode"].clone()), (json!(true), json!("PreCopy")));
    assert_eq!(ms["migrationConfiguration"], fixture_ms["migrationConfiguration"]);
    assert_eq!(last["status"]["migrationState"], *ms, "the final VMIM carries the VMI's migrationState");
    let ports = ms["targetDirectMigrationNodePorts"].as_object().unwrap();
    assert_eq!(ports.values().cloned().collect::<Vec<_>>().len(), 2);
    assert!(ports.values().any(|v| v == 0) && ports.values().any(|v| v == 49152));
    let start: jiff::Timestamp = ms["startTimestamp"].as_str().unwrap().parse().unwrap();
    let end: jiff::Timestamp = ms["endTimestamp"].as_str().unwrap().parse().unwrap();
    assert!(start <= end);
    assert_eq!(ms["targetNodeDomainReadyTimestamp"], ms["endTimestamp"]);
    assert_eq!(vmi["status"]["interfaces"], vmi_before["status"]["interfaces"], "IP kept without ip_change");

    // The target pod runs on the-dome and is now the ready one; the source pod is retired.
    let target = s.get(&PODS, Some(NS), ms["targetPod"].as_str().unwrap()).unwrap();
    assert_eq!(target["spec"]["nodeName"], "the-dome");
    assert_eq!(target["metadata"]["labels"]["kubevirt.io/migrationJobUID"], uid.as_str());
    assert_eq!(target["metadata"]["annotations"]["kubevirt.io/migrationJobName"], vmim.as_str());
    assert!(
        target["metadata"]["annotations"]["kubevirt.io/migration-target-ready-timestamp"]
            .as_str()
            .unwrap()
            .ends_with(" +0000 UTC")
    );
    assert!(name(&target).starts_with("virt-launcher-vm-instance-haos-") && name(&target).len() == 36);
    let active = vmi["status"]["activePods"].as_object().unwrap();
    assert!(active.contains_key(target["metadata"]["uid"].as_str().unwrap()));
    wait_for(&s, 30, |s| s.get(&PODS, Some(NS), source_pod).is_err().then_some(())).await;
    let vmi = wait_for(&s, 30, |s| {
        s.get(&VMIS, Some(NS), VM).ok().filter(|v| v["status"]["activePods"].as_object().unwrap().len() == 1)
    })
    .await;
    assert_eq!(vmi["status"]["activePods"].as_object().unwrap().values().next().unwrap(), "the-dome");

    // Events of the walk.
    for r in ["SuccessfulCreate", "SuccessfulHandOver", "SuccessfulMigration"] {
        assert_eq!(wait_event(&s, &uid, r).await.0, "Normal");
    }
    let vmi_uid = vmi["metadata"]["uid"].as_str().unwrap();
    assert_eq!(wait_event(&s, vmi_uid, "Migrating").await.1, "VirtualMachineInstance is migrating.");
    assert_eq!(wait_event(&s, vmi_uid, "Migrated").await.1, "The VirtualMachineInstance migrated to node the-dome.");
    let preparing: Vec<String> =
        events_for(&s, vmi_uid).into_iter().filter(|(_, r, _)| r == "PreparingTarget").map(|(_, _, m)| m).collect();
    assert!(preparing.iter().any(|m| m.starts_with("Migration Target is listening at 192.168.50.13, on ports: ")));
    assert!(preparing.iter().any(|m| m == "VirtualMachineInstance Migration Target Prepared."), "{preparing:?}");

    // The source launcher's log: JSON records with parseable "Migration info" messages every 4 s.
    let (lines, _) = s.read_log(NS, source_pod, "compute");
    let infos: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(&l.line).unwrap())
        .filter(|r| r["msg"].as_str().unwrap().starts_with("Migration info for "))
        .collect();
    assert!(infos.len() >= 2, "{} lines", infos.len());
    let mut elapsed = Vec::new();
    for r in &infos {
        assert_eq!(r["component"], "virt-launcher");
        let msg = r["msg"].as_str().unwrap();
        let rest = msg.strip_prefix(&format!("Migration info for {uid}: ")).unwrap();
        let fields: Vec<(&str, &str)> = rest.split(' ').map(|f| f.split_once(':').unwrap()).collect();
        let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "TimeElapsed",
                "DataProcessed",
                "DataRemaining",
                "DataTotal",
                "MemoryProcessed",
                "MemoryRemaining",
                "MemoryTotal",
                "MemoryBandwidth",
                "DirtyRate",
                "Iteration",
                "PostcopyRequests",
                "ConstantPages",
                "NormalPages",
                "NormalData",
                "ExpectedDowntime",
                "DiskMbps"
            ]
        );
        assert_eq!(fields[3].1, "4096MiB");
        elapsed.push(fields[0].1.trim_end_matches("ms").parse::<u64>().unwrap());
    }
    assert_eq!(elapsed[0], 4000);
    assert!(elapsed.windows(2).all(|w| w[1] - w[0] == 4000), "{elapsed:?}");

    // The switchover is on record for the network model.
    let sw = kv.switchovers();
    assert_eq!(sw.len(), 1);
    assert_eq!((sw[0].migration_uid.as_str(), sw[0].target_node.as_str()), (uid.as_str(), "the-dome"));
    assert!(sw[0].at >= start && sw[0].at <= end + jiff::SignedDuration::from_secs(1));
    assert!(sw[0].guest_pause_ms <= 300);
    assert_eq!(sw[0].old_ip, sw[0].new_ip);

    // The VM was Migrating while the migration ran, and is Running again.
    let mut vm_rx = vm_rx;
    let mut printable = Vec::new();
    while let Ok(ev) = vm_rx.try_recv() {
        if ev.resource == &VMS && ev.name == VM {
            let p = ev.object["status"]["printableStatus"].as_str().unwrap_or_default().to_string();
            if printable.last() != Some(&p) {
                printable.push(p);
            }
        }
    }
    assert_eq!(printable, ["Migrating", "Running"]);

    // The VM mirrors the VMI's migratability condition.
    let vm = s.get(&VMS, Some(NS), VM).unwrap();
    assert!(
        vm["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "LiveMigratable" && c["status"] == "True")
    );

    // A new migration is admitted once this one is final; DELETED carries the final state of garbage.
    assert!(versions.iter().all(|(k, _)| *k != EventType::Deleted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_change_gives_the_vmi_a_new_pod_network_address() {
    let mut b = BehaviourMap::default();
    b.per_vm.insert(format!("{NS}/{VM}"), MigrationBehaviour { ip_change: true, ..Default::default() });
    let (s, kv) = haos(500.0, json!({}), b);
    let vmim = name(&create_vmim(&s, VM, false).unwrap());
    wait_phase(&s, &vmim, "Succeeded", 600).await;
    let vmi = s.get(&VMIS, Some(NS), VM).unwrap();
    let ip = vmi["status"]["interfaces"][0]["ipAddress"].as_str().unwrap();
    assert_ne!(ip, "10.244.0.57");
    assert!(ip.starts_with("10.244.3."), "{ip}");
    assert_eq!(vmi["status"]["interfaces"][0]["ipAddresses"][0], ip);
    assert_eq!(vmi["status"]["interfaces"][1]["ipAddress"], "192.168.1.150", "secondary network untouched");
    let sw = &kv.switchovers()[0];
    assert_eq!((sw.old_ip.as_deref(), sw.new_ip.as_deref()), (Some("10.244.0.57"), Some(ip)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalized_migrations_beyond_five_are_collected() {
    let (s, _kv) = haos(500.0, json!({}), BehaviourMap::default());
    for i in 0..6 {
        let old = json!({
            "metadata": {"name": format!("old-{i}"), "labels": {"kubevirt.io/vmi-name": VM}},
            "spec": {"vmiName": VM},
            "status": {"phase": "Succeeded"},
        });
        s.create(&VMIMS, Some(NS), old, false).unwrap();
    }
    let vmim = name(&create_vmim(&s, VM, false).unwrap());
    wait_phase(&s, &vmim, "Succeeded", 600).await;
    let left = wait_for(&s, 60, |s| {
        let names: Vec<String> = s.list(&VMIMS, Some(NS)).0.iter().map(name).collect();
        (names.len() == 5).then_some(names)
    })
    .await;
    assert!(left.contains(&vmim), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_migration_takes_the_vm_back() {
    let (s, _kv) = haos(500.0, json!({}), BehaviourMap::default());
    let first = name(&create_vmim(&s, VM, false).unwrap());
    wait_phase(&s, &first, "Succeeded", 600).await;
    // The old source pod must be gone before the-toy-factory is free again (anti-affinity) and the VMI has one pod.
    wait_for(&s, 60, |s| {
        let v = s.get(&VMIS, Some(NS), VM).ok()?;
        (v["status"]["activePods"].as_object()?.len() == 1).then_some(())
    })
    .await;
    let second = create_vmim(&s, VM, false).unwrap();
    let done = wait_phase(&s, &name(&second), "Succeeded", 600).await;
    let vmi = s.get(&VMIS, Some(NS), VM).unwrap();
    assert_eq!(vmi["status"]["nodeName"], "the-toy-factory");
    let ms = &vmi["status"]["migrationState"];
    assert_eq!(ms["migrationUid"], second["metadata"]["uid"]);
    assert_eq!(ms["sourceNode"], "the-dome");
    assert_eq!(done["status"]["migrationState"]["sourcePod"], ms["sourcePod"]);
    // The new target pod copied the host-model selectors from its source pod.
    let target = s.get(&PODS, Some(NS), ms["targetPod"].as_str().unwrap()).unwrap();
    assert_eq!(target["spec"]["nodeSelector"]["cpu-model-migration.node.kubevirt.io/Skylake-Client-IBRS"], "true");
    let terms = target["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        .as_array()
        .unwrap();
    assert_eq!(terms.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_handler_serves_migration_metrics() {
    let memory =
        MemoryModel { bandwidth_mib_s: 100.0, dirty_rate_mib_s: 150.0, used_fraction: 0.5, max_downtime_ms: 300 };
    let b = BehaviourMap { default: MigrationBehaviour { memory, ..Default::default() }, ..Default::default() };
    let (s, kv) = haos(200.0, json!({}), b);
    let vmim = name(&create_vmim(&s, VM, false).unwrap());
    wait_phase(&s, &vmim, "Running", 600).await;
    let text = wait_for(&s, 600, |_| {
        let t = kv.handler_metrics("the-toy-factory");
        (t.lines().filter(|l| l.starts_with("kubevirt_vmi_migration_data_remaining_bytes{")).count() >= 3).then_some(t)
    })
    .await;
    assert!(text.contains("# TYPE kubevirt_vmi_migration_data_total_bytes counter"));
    let total: Vec<&str> = text.lines().filter(|l| l.starts_with("kubevirt_vmi_migration_data_total_bytes{")).collect();
    assert!(total[0].starts_with(&format!(
        "kubevirt_vmi_migration_data_total_bytes{{name=\"{VM}\",namespace=\"{NS}\",node=\"the-toy-factory\"}} 4.294967296e+09 "
    )));
    let stamps: Vec<i64> = total.iter().map(|l| l.rsplit(' ').next().unwrap().parse().unwrap()).collect();
    assert!(stamps.windows(2).all(|w| w[1] - w[0] == 5000), "{stamps:?}");
    assert_eq!(kv.handler_metrics("the-dome"), "", "only the source node reports");
    s.delete(&VMIMS, Some(NS), &vmim, false).unwrap();
    wait_for(&s, 600, |s| s.get(&VMIMS, Some(NS), &vmim).is_err().then_some(())).await;
    assert!(!kv.handler_metrics("the-toy-factory").is_empty(), "the buffer is emitted once after the end");
    assert_eq!(kv.handler_metrics("the-toy-factory"), "");
}
