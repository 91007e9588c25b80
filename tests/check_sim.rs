//! `check` against vmmigrate-sim (in-process, over HTTP): the haos and blockers scenarios, a generated mix whose
//! every VM's re-derived blockers must agree with the sim's LiveMigratable condition, every check id seen passing
//! and failing in the real binary's `-o json` output, and the error paths.

mod check_common;

use std::collections::{BTreeMap, BTreeSet};

use check_common::{start, start_with};

use kube::Client;
use kube::api::{Api, PostParams};
use kubectl_vmmigrate::check::{self, CheckError, CheckReport, CheckRequest, Status, VmReport};
use kubectl_vmmigrate::kubevirt::VirtualMachineInstanceMigration;
use serde_json::{Value, json};
use vmmigrate_sim::api::faults::{Denial, Faults};
use vmmigrate_sim::api::{Store, resources};
use vmmigrate_sim::clock::SimClock;

use vmmigrate_sim::scenario::{GenerateOptions, Scenario};
use vmmigrate_sim::{Sim, SimOptions};

fn named(ns: &str, vms: &[&str]) -> CheckRequest {
    CheckRequest { vms: vms.iter().map(|v| v.to_string()).collect(), namespace: Some(ns.into()), ..Default::default() }
}

fn all_namespaces() -> CheckRequest {
    CheckRequest { all: true, all_namespaces: true, ..Default::default() }
}

fn check<'a>(vm: &'a VmReport, id: &str) -> &'a check::Check {
    vm.checks.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no {id} in {:#?}", vm.checks))
}

fn vm<'a>(report: &'a CheckReport, name: &str) -> &'a VmReport {
    report.vms.iter().find(|v| v.name == name).unwrap_or_else(|| panic!("no VM {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haos_named_vm() {
    let c = start(&Scenario::builtin("haos").unwrap(), Faults::default()).await;
    let report = c.check(named("tenant-root", &["vm-instance-haos"])).await.unwrap();
    let r = &report.vms[0];
    assert_eq!(report.kubevirt_version.as_deref(), Some("v1.5.2"));
    let failing: Vec<_> = r.checks.iter().filter(|c| c.status == Status::Fail).collect();
    assert!(failing.is_empty(), "{failing:#?}");
    let eligible: Vec<&str> = r.nodes.iter().filter(|n| n.eligible).map(|n| n.node.as_str()).collect();
    assert_eq!(eligible, ["the-dome"], "{:#?}", r.nodes);
    let here = r.nodes.iter().find(|n| n.node == "here-i-am").unwrap();
    assert!(here.reasons.iter().any(|x| x.starts_with("cordoned")), "{here:?}");
    let illusion = r.nodes.iter().find(|n| n.node == "illusion").unwrap();
    assert!(
        illusion.reasons.iter().any(|x| x.contains("cpu-model-migration.node.kubevirt.io/Skylake-Client-IBRS")),
        "{illusion:?}"
    );
    assert_eq!(r.effective_config.as_ref().unwrap().completion_timeout_seconds, 750);
    assert!(check(r, "eviction.strategy").reason.starts_with("evictionStrategy LiveMigrate (from the KubeVirt CR)"));
    assert_eq!(check(r, "admission.dryrun").status, Status::Pass, "{:#?}", check(r, "admission.dryrun"));
    assert_eq!(check(r, "migratable.server").status, Status::Pass);
    assert_eq!(check(r, "migratable.consistency").status, Status::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haos_all_namespaces_within_the_request_budget() {
    let c = start(&Scenario::builtin("haos").unwrap(), Faults::default()).await;
    let before = c.sim.audit_log().count();
    let report = c.check(all_namespaces()).await.unwrap();
    let requests = c.sim.audit_log().count() - before;
    assert!(requests <= 25, "{requests} requests");
    assert!(report.vms.iter().any(|v| v.name == "vm-instance-haos"));
    assert!(report.vms.iter().all(|v| check(v, "admission.dryrun").status == Status::Skip));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blockers_scenario_lists_every_blocker_and_agrees_with_the_server() {
    let c = start(&Scenario::builtin("blockers").unwrap(), Faults::default()).await;
    let report = c
        .check(CheckRequest {
            all: true,
            namespace: Some("blockers".into()),
            server_dry_run: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let reasons = |name: &str| -> Vec<&'static str> { vm(&report, name).blockers.iter().map(|b| b.reason).collect() };
    assert_eq!(reasons("rwo-and-bridge"), ["DisksNotLiveMigratable", "InterfaceNotLiveMigratable"]);
    assert_eq!(reasons("gpu-worker"), ["InterfaceNotLiveMigratable", "HostDeviceNotLiveMigratable"]);
    assert_eq!(reasons("old-host"), ["CPUModeLiveMigratable"]);
    // The GPU exists only on the source node.
    let gpu = vm(&report, "gpu-worker");
    assert!(gpu.nodes.iter().all(|n| !n.eligible), "{:#?}", gpu.nodes);
    assert!(
        gpu.nodes
            .iter()
            .find(|n| n.node == "node-a")
            .unwrap()
            .reasons
            .contains(&"has 0 allocatable nvidia.com/GA102GL_A10, the VM needs 1".to_owned())
    );
    assert_eq!(reasons("healthy"), Vec::<&str>::new());
    let failing: Vec<_> = vm(&report, "healthy").checks.iter().filter(|c| c.status == Status::Fail).collect();
    assert!(failing.is_empty(), "{failing:#?}");
    for r in &report.vms {
        if r.node.is_none() {
            assert_eq!(check(r, "vm.running").status, Status::Fail);
            assert!(check(r, "vm.running").reason.starts_with("VM is not running"));
            continue;
        }
        assert_eq!(check(r, "migratable.consistency").status, Status::Pass, "{}: {:#?}", r.name, r.checks);
        // The authoritative verdict agrees: denied exactly when blocked, with the first blocker's message.
        let dry = check(r, "admission.dryrun");
        match r.blockers.first() {
            Some(b) => assert!(dry.status == Status::Fail && dry.reason.contains(&b.message), "{}: {dry:?}", r.name),
            None => assert_eq!(dry.status, Status::Pass, "{}: {dry:?}", r.name),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_mix_agrees_with_the_sims_live_migratable_condition() {
    let scenario = Scenario::generate(GenerateOptions { vms: 340, namespaces: 5, nodes: 16, seed: 7, mix: true });
    let c = start(&scenario, Faults::default()).await;
    let report = c.check(all_namespaces()).await.unwrap();
    let store = c.sim.store();
    let mut compared = 0;
    for r in &report.vms {
        let Ok(vmi) = store.get(&resources::VMIS, Some(&r.namespace), &r.name) else { continue };
        let cond = vmi["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "LiveMigratable"))
            .cloned()
            .unwrap_or_else(|| panic!("{}/{}: no LiveMigratable condition", r.namespace, r.name));
        match r.blockers.first() {
            None => assert_eq!(cond["status"], "True", "{}/{}: {cond}", r.namespace, r.name),
            Some(b) => {
                assert_eq!(cond["status"], "False", "{}/{}", r.namespace, r.name);
                assert_eq!(cond["reason"], b.reason, "{}/{}", r.namespace, r.name);
                assert_eq!(cond["message"], b.message.as_str(), "{}/{}", r.namespace, r.name);
            }
        }
        compared += 1;
    }
    assert!(compared >= 300, "only {compared} running VMs compared");
    assert!(report.vms.iter().any(|r| r.blockers.len() >= 2), "the mix has VMs with two blockers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_one_clear_line() {
    let c = start(&Scenario::builtin("haos").unwrap(), Faults::default()).await;
    let err = c.check(named("tenant-root", &["nope"])).await.unwrap_err();
    assert_eq!(err.to_string(), "VirtualMachine tenant-root/nope not found");
    let err = c.check(named("ghost", &["vm-instance-haos"])).await.unwrap_err();
    assert_eq!(err.to_string(), "namespace ghost not found");

    let deny = Faults {
        deny: vec![Denial { verb: "list".into(), resource: "virtualmachines".into(), group: None, namespace: None }],
        ..Default::default()
    };
    let c = start(&Scenario::builtin("haos").unwrap(), deny).await;
    let err = c.check(all_namespaces()).await.unwrap_err();
    assert_eq!(err.to_string(), "forbidden: you cannot list virtualmachines");
    assert_eq!(err.exit_code().code(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_migrate_permission_names_the_clusterrole() {
    let deny = Faults {
        deny: vec![Denial {
            verb: "create".into(),
            resource: "virtualmachineinstancemigrations".into(),
            group: None,
            namespace: None,
        }],
        ..Default::default()
    };
    let c = start(&Scenario::builtin("haos").unwrap(), deny).await;
    let report = c.check(named("tenant-root", &["vm-instance-haos"])).await.unwrap();
    let r = &report.vms[0];
    let perm = check(r, "permission.vmim-create");
    assert_eq!(perm.status, Status::Fail);
    assert!(perm.fix.as_deref().unwrap().contains("kubevirt.io:migrate"));
    // The dry-run create is forbidden too, and says so verbatim.
    let dry = check(r, "admission.dryrun");
    assert_eq!(dry.status, Status::Fail);
    assert!(dry.reason.contains("forbidden"), "{dry:?}");
    assert_eq!(report.exit_code(false), kubectl_vmmigrate::exit::ExitCode::NotMigratable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubevirt_not_installed() {
    let store = Store::new(SimClock::new(1.0));
    vmmigrate_sim::empty_cluster(&store).unwrap();
    let sim = Sim::start(SimOptions::new(store)).await.unwrap();
    let client = Client::try_from(kube::Config::new(sim.url().parse().unwrap())).unwrap();
    let err = check::run(&client, "default", &named("default", &["x"])).await.unwrap_err();
    assert!(matches!(err, CheckError::KubeVirtNotInstalled(_)), "{err:?}");
}

/// Every check id, in a passing and in a non-passing form, across a few sim setups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_and_fails_somewhere() {
    // What the real binary printed (`-o json`), per check id: the statuses seen.
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut record = |report: &Value| {
        for vm in report["vms"].as_array().expect("vms") {
            for c in vm["checks"].as_array().expect("checks") {
                let (id, status) = (c["id"].as_str().unwrap(), c["status"].as_str().unwrap());
                seen.entry(id.to_string()).or_default().insert(status.to_string());
            }
        }
    };
    let haos = Scenario::builtin("haos").unwrap();

    // The healthy seed cluster, and the blockers scenario.
    let c = start(&haos, Faults::default()).await;
    record(&c.check_binary(&CheckRequest { probe: true, ..named("tenant-root", &["vm-instance-haos"]) }).await);
    let c = start(&Scenario::builtin("blockers").unwrap(), Faults::default()).await;
    record(
        &c.check_binary(&CheckRequest {
            all: true,
            namespace: Some("blockers".into()),
            server_dry_run: true,
            ..Default::default()
        })
        .await,
    );

    // KubeVirt CR unreadable, probe permissions and the migrate permission denied.
    let deny = |verb: &str, resource: &str| Denial {
        verb: verb.into(),
        resource: resource.into(),
        group: None,
        namespace: None,
    };
    let faults = Faults {
        deny: vec![
            deny("list", "kubevirts"),
            deny("*", "virtualmachineinstancemigrations"),
            deny("get", "virtualmachineinstances"),
            deny("watch", "virtualmachineinstances"),
            deny("get", "pods/log"),
            deny("create", "pods"),
            deny("patch", "pods/ephemeralcontainers"),
            deny("create", "pods/exec"),
        ],
        ..Default::default()
    };
    let c = start(&haos, faults).await;
    let r = c.check(CheckRequest { probe: true, ..named("tenant-root", &["vm-instance-haos"]) }).await;
    // Without get on VMIs the VM cannot be evaluated at all: one clear error.
    assert_eq!(
        r.unwrap_err().to_string(),
        "forbidden: you cannot get virtualmachineinstances in namespace tenant-root"
    );
    let faults = Faults {
        deny: vec![
            deny("list", "kubevirts"),
            deny("get", "virtualmachineinstances"),
            deny("watch", "virtualmachineinstances"),
            deny("get", "pods/log"),
            deny("create", "pods"),
            deny("patch", "pods/ephemeralcontainers"),
            deny("create", "pods/exec"),
            Denial {
                verb: "*".into(),
                resource: "virtualmachineinstancemigrations".into(),
                group: None,
                namespace: Some("tenant-root".into()),
            },
        ],
        ..Default::default()
    };
    let c = start(&haos, faults).await;
    let all = CheckRequest { all: true, namespace: Some("tenant-root".into()), probe: true, ..Default::default() };
    let r = c.check(all.clone()).await.unwrap();
    assert_eq!(check(&r.vms[0], "permission.vmi-get").status, Status::Fail);
    record(&c.check_binary(&all).await);

    // virt-handler stopped syncing after the annotation was removed: the condition is stale.
    let c = start_with(&haos, Faults::default(), 100.0, false, |store| {
        store
            .modify(&resources::VMIS, Some("tenant-root"), "vm-instance-haos", |v| {
                v["metadata"]["annotations"]
                    .as_object_mut()
                    .unwrap()
                    .remove("kubevirt.io/allow-pod-bridge-network-live-migration");
                Ok(())
            })
            .unwrap();
    })
    .await;
    let req = named("tenant-root", &["vm-instance-haos"]);
    let r = c.check(req.clone()).await.unwrap();
    assert_eq!(check(&r.vms[0], "migratable.server").status, Status::Pass);
    assert_eq!(
        check(&r.vms[0], "migratable.consistency").reason,
        "server says LiveMigratable=True but client-side rules find InterfaceNotLiveMigratable"
    );
    record(&c.check_binary(&req).await);

    // A migration in flight that fills the outbound limit, and no eligible node left.
    let c = start_with(&haos, Faults::default(), 1.0, true, |store| {
        store
            .modify(&resources::KUBEVIRTS, Some("cozy-kubevirt"), "kubevirt", |kv| {
                kv["spec"]["configuration"]["migrations"]["parallelOutboundMigrationsPerNode"] = json!(1);
                Ok(())
            })
            .unwrap();
        store
            .modify(&resources::NODES, None, "the-dome", |n| {
                n["spec"]["unschedulable"] = json!(true);
                Ok(())
            })
            .unwrap();
    })
    .await;
    let vmims: Api<VirtualMachineInstanceMigration> = Api::namespaced(c.client.clone(), "tenant-root");
    let created =
        vmims.create(&PostParams::default(), &check::snapshot::dry_run_migration("vm-instance-haos")).await.unwrap();
    // Wait (on the simulated clock) until the controller has moved it past Pending.
    let name = created.metadata.name.unwrap();
    for _ in 0..200 {
        let phase =
            c.sim.store().get(&resources::VMIMS, Some("tenant-root"), &name).unwrap()["status"]["phase"].clone();
        if phase != json!(null) && phase != json!("Pending") && phase != json!("") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let req = named("tenant-root", &["vm-instance-haos"]);
    let r = c.check(req.clone()).await.unwrap();
    let vm = &r.vms[0];
    assert_eq!(check(vm, "migration.inflight").status, Status::Fail, "{:#?}", vm.checks);
    assert!(
        check(vm, "migration.inflight")
            .reason
            .starts_with("migration already in flight for VMI vm-instance-haos: vm-instance-haos-vmmigrate-")
    );
    assert_eq!(check(vm, "nodes.target").reason, "no eligible target node among 4 nodes");
    assert_eq!(check(vm, "config.parallel").status, Status::Warn, "{:#?}", check(vm, "config.parallel"));
    record(&c.check_binary(&req).await);

    let missing: Vec<String> = seen
        .iter()
        .filter(|(_, s)| !s.contains("pass") || !(s.contains("fail") || s.contains("warn")))
        .map(|(id, s)| format!("{id}: {s:?}"))
        .collect();
    assert!(missing.is_empty(), "checks not seen both passing and failing: {missing:#?}");
    assert!(seen.len() >= 29, "{seen:#?}");
}
