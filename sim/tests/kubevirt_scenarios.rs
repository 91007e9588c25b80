//! KubeVirt against the clusters the scenario loader builds: the generated mix agrees with the reasons the
//! generator expects, the blockers scenario gets one reason per VM, and the haos scenario migrates to the-dome.

mod common;

use common::{create_vmim, name, phase, start, wait_for, wait_phase};
use serde_json::Value;
use vmmigrate_sim::api::Store;
use vmmigrate_sim::api::resources::{VMIMS, VMIS};
use vmmigrate_sim::clock::SimClock;
use vmmigrate_sim::kubevirt::BehaviourMap;
use vmmigrate_sim::scenario::generate::MIX;
use vmmigrate_sim::scenario::{GenerateOptions, Scenario};

fn applied(scenario: &Scenario) -> (Store, BehaviourMap) {
    let s = Store::new(SimClock::new(500.0));
    let a = scenario.apply(&s).unwrap();
    (s, BehaviourMap { default: a.behaviours.default, per_vm: a.behaviours.per_vm })
}

fn live_migratable(vmi: &Value) -> Option<(String, String)> {
    let c = vmi.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == "LiveMigratable")?;
    Some((c["status"].as_str()?.to_string(), c["reason"].as_str().unwrap_or_default().to_string()))
}

/// Every VMI's (status, reason) once all have a LiveMigratable condition, by name.
async fn conditions(s: &Store) -> Vec<(String, (String, String))> {
    wait_for(s, 120, |s| {
        s.list(&VMIS, None).0.iter().map(|v| live_migratable(v).map(|c| (name(v), c))).collect::<Option<Vec<_>>>()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_mix_agrees_with_the_generators_reasons() {
    // Eight nodes: the eighth is the "old" one (no usable host model) that old-host and reenlightenment VMs need.
    let opts = GenerateOptions { vms: MIX.len() * 2, namespaces: 3, nodes: 8, seed: 1, mix: true };
    let (s, b) = applied(&Scenario::generate(opts));
    start(&s, b);
    let got = conditions(&s).await;
    assert!(got.len() >= MIX.len(), "{} running VMIs", got.len());
    for (vm, (status, reason)) in got {
        let i: usize = vm.trim_start_matches("vm-").parse().unwrap();
        let (kind, expected) = MIX[(i + (opts.seed as usize % MIX.len())) % MIX.len()];
        match expected {
            None => assert_eq!(status, "True", "{vm} ({kind}): {reason}"),
            Some(r) => assert_eq!((status.as_str(), reason.as_str()), ("False", r), "{vm} ({kind})"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blockers_scenario_reasons() {
    let (s, b) = applied(&Scenario::builtin("blockers").unwrap());
    start(&s, b);
    let got: std::collections::BTreeMap<String, (String, String)> = conditions(&s).await.into_iter().collect();
    let expect = [
        ("healthy", ""),
        ("rwo-and-bridge", "DisksNotLiveMigratable"),
        ("gpu-worker", "InterfaceNotLiveMigratable"),
        ("nic-passthrough", "HostDeviceNotLiveMigratable"),
        ("old-host", "CPUModeLiveMigratable"),
        ("confidential", "SEVNotLiveMigratable"),
        ("cluster-db", "PersistentReservationNotLiveMigratable"),
        ("windows-old", "NoTSCFrequencyNotLiveMigratable"),
        ("windows-passthrough", "HypervPassthroughNotLiveMigratable"),
        ("hostdisk", "DisksNotLiveMigratable"),
        ("legacy-binding", "InterfaceNotLiveMigratable"),
        ("passt-plugin", ""),
    ];
    for (vm, reason) in expect {
        let (status, r) = got.get(vm).unwrap_or_else(|| panic!("no VMI {vm}: {got:?}"));
        let want = if reason.is_empty() { "True" } else { "False" };
        assert_eq!((status.as_str(), r.as_str()), (want, reason), "{vm}");
    }
    let passt = s.get(&VMIS, Some("blockers"), "passt-plugin").unwrap();
    assert_eq!(passt["status"]["migrationMethod"], "BlockMigration");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haos_scenario_migrates_to_the_dome() {
    let (s, b) = applied(&Scenario::builtin("haos").unwrap());
    start(&s, b);
    wait_for(&s, 60, |s| live_migratable(&s.get(&VMIS, Some("tenant-root"), "vm-instance-haos").ok()?)).await;
    let vmim = name(&create_vmim(&s, "vm-instance-haos", false).unwrap());
    let done = wait_phase(&s, &vmim, "Succeeded", 900).await;
    assert_eq!(phase(&done), "Succeeded");
    let vmi = s.get(&VMIS, Some("tenant-root"), "vm-instance-haos").unwrap();
    assert_eq!(vmi["status"]["nodeName"], "the-dome");
    let ms = &vmi["status"]["migrationState"];
    assert_eq!(ms["sourceNode"], "the-toy-factory");
    assert!(ms["targetNodeAddress"].as_str().is_some_and(|a| !a.is_empty()));
    assert!(s.get(&VMIMS, Some("tenant-root"), &vmim).is_ok());
}
