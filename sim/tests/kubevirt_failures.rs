//! Migrations that do not simply succeed: aborts, scenario failures, unschedulable targets, timeouts, limits.

mod common;

use common::*;
use serde_json::{Value, json};
use vmmigrate_sim::api::EventType;
use vmmigrate_sim::api::resources::{NODES, PODS, VMIMS, VMIS};
use vmmigrate_sim::kubevirt::BehaviourMap;
use vmmigrate_sim::kubevirt::behaviour::{MemoryModel, MigrationBehaviour, Outcome};

const CANCELED: &str = "Live migration failed error encountered during MigrateToURI3 libvirt api call: virError(Code=78, Domain=10, Message='operation aborted: migration out: canceled by client')";

fn with(outcome: Outcome, memory: MemoryModel) -> BehaviourMap {
    BehaviourMap { default: MigrationBehaviour { outcome, memory, ..Default::default() }, ..Default::default() }
}

fn never_converges() -> MemoryModel {
    MemoryModel { bandwidth_mib_s: 100.0, dirty_rate_mib_s: 150.0, used_fraction: 0.5, max_downtime_ms: 300 }
}

fn stall(phase: &str) -> Outcome {
    Outcome::StallAt { phase: phase.into() }
}

fn target_pods(s: &vmmigrate_sim::api::Store) -> Vec<Value> {
    s.list(&PODS, Some(NS))
        .0
        .into_iter()
        .filter(|p| p["metadata"]["labels"].get("kubevirt.io/migrationJobUID").is_some())
        .collect()
}

/// Deletes the VMIM and returns the last state carried by its DELETED event.
async fn delete_and_watch(s: &vmmigrate_sim::api::Store, vmim: &str) -> Vec<(EventType, Value)> {
    let mut rx = s.subscribe();
    let d = s.delete(&VMIMS, Some(NS), vmim, false).unwrap();
    assert!(d["metadata"]["deletionTimestamp"].is_string(), "the finalizer holds the object");
    let h = history(s, &mut rx, vmim, 600).await;
    assert_eq!(h.last().unwrap().0, EventType::Deleted);
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_before_handoff_deletes_the_target_and_leaves_the_vmi_alone() {
    let (s, _kv) = haos(500.0, json!({}), with(stall("Scheduled"), MemoryModel::default()));
    let vmi_before = s.get(&VMIS, Some(NS), VM).unwrap();
    let vmim = name(&create_vmim(&s, VM, false).unwrap());
    let uid = s.get(&VMIMS, Some(NS), &vmim).unwrap()["metadata"]["uid"].as_str().unwrap().to_string();
    wait_phase(&s, &vmim, "Scheduled", 600).await;
    assert_eq!(target_pods(&s).len(), 1);
    let h = delete_and_watch(&s, &vmim).await;
    let last = &h.last().unwrap().1;
    assert_eq!(phase(last), "Failed");
    let cond = &last["status"]["conditions"][0];
    assert_eq!((cond["type"].as_str(), cond["status"].as_str()), (Some("migrationAbortRequested"), Some("True")));
    assert!(cond["lastProbeTime"].is_string() && cond["lastTransitionTime"].is_null());
    assert_eq!(last["status"]["migrationState"], json!({"sourcePod": "virt-launcher-vm-instance-haos-abcde"}));
    assert!(target_pods(&s).is_empty());
    let vmi = s.get(&VMIS, Some(NS), VM).unwrap();
    assert!(vmi["status"].get("migrationState").is_none());
    assert_eq!(vmi["status"]["nodeName"], vmi_before["status"]["nodeName"]);
    let ev = wait_event(&s, &uid, "FailedMigration").await;
    assert_eq!(ev, ("Warning".into(), "Migration failed due to being canceled".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_while_running_is_cancelled_by_the_source() {
    let (s, _kv) = haos(500.0, json!({}), with(Outcome::Succeed, never_converges()));
    let vmim = name(&create_vmim(&s, VM, false).unwrap());
    let uid = s.get(&VMIMS, Some(NS), &vmim).unwrap()["metadata"]["uid"].as_str().unwrap().to_string();
    wait_phase(&s, &vmim, "Running", 600).await;
    let h = delete_and_watch(&s, &vmim).await;
    // While the abort is on its way the VMIM is Running with the condition and only sourcePod (vmim-aborting.json).
    let aborting = h.iter().find(|(_, v)| phase(v) == "Running" && v["status"].get("conditions").is_some()).unwrap();
    assert!(aborting.1["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(aborting.1["status"]["migrationState"].as_object().unwrap().len(), 1);
    let last = &h.last().unwrap().1;
    assert_eq!(phase(last), "Failed");
    let ms = &last["status"]["migrationState"];
    assert_eq!(ms["migrationUid"], uid.as_str());
    assert_eq!(ms["abortRequested"], true);
    assert_eq!(ms["abortStatus"], "Succeeded");
    assert_eq!((ms["failed"].clone(), ms["completed"].clone()), (json!(true), json!(true)));
    assert_eq!(ms["failureReason"], CANCELED);
    assert!(ms["endTimestamp"].is_string());
    let ts: Vec<&str> = last["status"]["phaseTransitionTimestamps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["phase"].as_str().unwrap())
        .collect();
    assert_eq!(ts.last(), Some(&"Failed"));
    let vmi = s.get(&VMIS, Some(NS), VM).unwrap();
    assert_eq!(vmi["status"]["nodeName"], "the-toy-factory");
    assert_eq!(vmi["metadata"]["labels"]["kubevirt.io/nodeName"], "the-toy-factory");
    assert!(target_pods(&s).is_empty());
    wait_event(&s, &uid, "SuccessfulAbortMigration").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_at_running_is_reported_by_the_source() {
    let outcome = Outcome::FailAt { phase: "Running".into(), reason: "Live migration failed boom".into() };
    let (s, _kv) = haos(500.0, json!({}), with(outcome, MemoryModel::default()));
    let vmim = name(&create_vmim(&s, VM, false).unwrap());
    let done = wait_phase(&s, &vmim, "Failed", 600).await;
    let vmi = s.get(&VMIS, Some(NS), VM).unwrap();
    let ms = &vmi["status"]["migrationState"];
    assert_eq!((ms["failed"].clone(), ms["failureReason"].clone()), (json!(true), json!("Live migration failed boom")));
    assert_eq!(vmi["status"]["nodeName"], "the-toy-factory");
    assert!(target_pods(&s).is_empty());
    let uid = done["metadata"]["uid"].as_str().unwrap();
    let ev = wait_event(&s, uid, "FailedMigration").await;
    assert_eq!(ev, ("Warning".into(), "source node reported migration failed".into()));
    // Finalized: migrationState copied, finalizer gone.
    let fin = wait_for(&s, 60, |s| {
        s.get(&VMIMS, Some(NS), &vmim)
            .ok()
            .filter(|m| m["metadata"]["finalizers"].as_array().is_some_and(|f| f.is_empty()))
    })
    .await;
    assert_eq!(fin["status"]["migrationState"]["failureReason"], "Live migration failed boom");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_at_pending_never_touches_the_vmi() {
    let outcome = Outcome::FailAt { phase: "Pending".into(), reason: "quota".into() };
    let (s, _kv) = haos(500.0, json!({}), with(outcome, MemoryModel::default()));
    let vmim = name(&create_vmim(&s, VM, false).unwrap());
    let done = wait_phase(&s, &vmim, "Failed", 600).await;
    assert!(s.get(&VMIS, Some(NS), VM).unwrap()["status"].get("migrationState").is_none());
    assert!(target_pods(&s).is_empty());
    let uid = done["metadata"]["uid"].as_str().unwrap();
    assert_eq!(wait_event(&s, uid, "FailedMigration").await.1, "quota");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_unschedulable_fails_after_300_seconds() {
    let (s, _kv) = haos(1000.0, json!({}), with(Outcome::TargetUnschedulable, MemoryModel::default()));
    let created = create_vmim(&s, VM, false).unwrap();
    let vmim = name(&created);
    let uid = created["metadata"]["uid"].as_str().unwrap().to_string();
    let pod = wait_for(&s, 600, |s| {
        target_pods(s).into_iter().find(|p| p.pointer("/status/conditions/0/reason") == Some(&json!("Unschedulable")))
    })
    .await;
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(pod["status"]["conditions"][0]["type"], "PodScheduled");
    assert!(pod["status"]["conditions"][0]["message"].as_str().unwrap().starts_with("0/4 nodes are available: "));
    assert!(pod["spec"].get("nodeName").is_none());
    assert_eq!(phase(&s.get(&VMIMS, Some(NS), &vmim).unwrap()), "Scheduling");
    let warning = format!("Migration target pod for VMI [{NS}/{VM}] is currently unschedulable.");
    assert_eq!(wait_event(&s, &uid, "migrationTargetPodUnschedulable").await, ("Warning".into(), warning));
    let failed = wait_phase(&s, &vmim, "Failed", 900).await;
    let ts = failed["status"]["phaseTransitionTimestamps"].as_array().unwrap();
    let at = |i: usize| ts[i]["phaseTransitionTimestamp"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    let waited = at(ts.len() - 1).duration_since(at(1)).as_secs();
    // Not before the timeout; well before the 900 s catch-all (the upper bound only guards against the wrong timeout).
    assert!((299..900).contains(&waited), "failed after {waited} s in Scheduling");
    assert!(target_pods(&s).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_eligible_node_uses_the_schedulers_message_and_the_annotation_timeout() {
    let (s, _kv) = haos(500.0, json!({}), BehaviourMap::default());
    s.delete(&NODES, None, "the-dome", false).unwrap();
    let mut body = json!({"metadata": {"name": "m1", "annotations": {"kubevirt.io/migrationUnschedulablePodTimeoutSeconds": "30"}}, "spec": {"vmiName": VM}});
    let req = vmmigrate_sim::api::hooks::AdmissionRequest {
        operation: vmmigrate_sim::api::hooks::Operation::Create,
        resource: &VMIMS,
        subresource: None,
        namespace: Some(NS),
        name: "m1",
        old: None,
        dry_run: false,
        store: &s,
    };
    vmmigrate_sim::api::hooks::Admission::admit(&vmmigrate_sim::kubevirt::KubeVirtAdmission, &req, &mut body).unwrap();
    s.create(&VMIMS, Some(NS), body, false).unwrap();
    let pod = wait_for(&s, 600, |s| {
        target_pods(s).into_iter().find(|p| p.pointer("/status/conditions/0/reason") == Some(&json!("Unschedulable")))
    })
    .await;
    assert_eq!(
        pod["status"]["conditions"][0]["message"],
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) didn't match pod anti-affinity rules, 1 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    let failed = wait_phase(&s, "m1", "Failed", 600).await;
    let ts = failed["status"]["phaseTransitionTimestamps"].as_array().unwrap();
    let at = |i: usize| ts[i]["phaseTransitionTimestamp"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    let waited = at(ts.len() - 1).duration_since(at(1)).as_secs();
    // The annotation, not the 300 s default, decided.
    assert!((29..300).contains(&waited), "failed after {waited} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dirty_rate_above_bandwidth_hits_the_completion_timeout() {
    // progressTimeout 0 disables the stuck check, so the 750 s completion timeout of a 4Gi guest decides.
    let (s, _kv) = haos(1000.0, json!({"progressTimeout": 0}), with(Outcome::Succeed, never_converges()));
    let vmim = name(&create_vmim(&s, VM, false).unwrap());
    let failed = wait_phase(&s, &vmim, "Failed", 2000).await;
    let vmi = s.get(&VMIS, Some(NS), VM).unwrap();
    let ms = &vmi["status"]["migrationState"];
    assert_eq!(ms["failureReason"], "Live migration is not completed after 750 seconds and has been aborted");
    assert_eq!(ms["abortStatus"], "Succeeded");
    assert_eq!(ms["failed"], true);
    let start: jiff::Timestamp = ms["startTimestamp"].as_str().unwrap().parse().unwrap();
    let end: jiff::Timestamp = ms["endTimestamp"].as_str().unwrap().parse().unwrap();
    assert!(end.duration_since(start).as_secs() >= 750);
    assert_eq!(phase(&failed), "Failed");
    // The launcher logged its progress all along: ~187 lines, remaining data never reaching zero.
    let (lines, _) = s.read_log(NS, "virt-launcher-vm-instance-haos-abcde", "compute");
    assert!(lines.len() >= 180, "{}", lines.len());
    assert!(lines.iter().any(|l| l.line.contains("Live migration is not completed after 750 seconds")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_transfer_hits_the_progress_timeout() {
    let (s, _kv) = haos(1000.0, json!({}), with(stall("Running"), MemoryModel::default()));
    let vmim = name(&create_vmim(&s, VM, false).unwrap());
    wait_phase(&s, &vmim, "Failed", 2000).await;
    let ms = s.get(&VMIS, Some(NS), VM).unwrap()["status"]["migrationState"].clone();
    assert_eq!(ms["failureReason"], "Live migration stuck for 151 seconds and has been aborted");
    assert_eq!(ms["abortStatus"], "Succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_copy_finishes_what_pre_copy_cannot() {
    let conf = json!({"allowPostCopy": true, "progressTimeout": 0, "completionTimeoutPerGiB": 10});
    let (s, kv) = haos(1000.0, conf, with(Outcome::Succeed, never_converges()));
    let vmim = name(&create_vmim(&s, VM, false).unwrap());
    wait_phase(&s, &vmim, "Succeeded", 2000).await;
    let ms = s.get(&VMIS, Some(NS), VM).unwrap()["status"]["migrationState"].clone();
    assert_eq!(ms["mode"], "PostCopy");
    assert_eq!(kv.switchovers().len(), 1);
}

/// The haos VM's migration stays in PreparingTarget (in flight) until it is deleted; other VMs migrate normally.
fn first_stalls() -> BehaviourMap {
    let mut b = BehaviourMap::default();
    b.per_vm
        .insert(format!("{NS}/{VM}"), MigrationBehaviour { outcome: stall("PreparingTarget"), ..Default::default() });
    b
}

fn transition(s: &vmmigrate_sim::api::Store, vmim: &str, p: &str) -> jiff::Timestamp {
    let m = s.get(&VMIMS, Some(NS), vmim).unwrap();
    let ts = m["status"]["phaseTransitionTimestamps"].as_array().unwrap();
    let t = ts.iter().find(|t| t["phase"] == p).unwrap();
    t["phaseTransitionTimestamp"].as_str().unwrap().parse().unwrap()
}

/// Aborts the stalled first migration: the abort is signalled through the VMI like one while Running.
async fn abort_first(s: &vmmigrate_sim::api::Store, first: &str) -> Value {
    let h = delete_and_watch(s, first).await;
    let last = h.last().unwrap().1.clone();
    assert_eq!(phase(&last), "Failed");
    assert_eq!(last["status"]["migrationState"]["abortStatus"], "Succeeded");
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_limit_keeps_a_second_migration_pending() {
    let (s, _kv) = haos(500.0, json!({"parallelMigrationsPerCluster": 1}), first_stalls());
    add_vm(&s, "vm-2", "illusion");
    let first = name(&create_vmim(&s, VM, false).unwrap());
    wait_phase(&s, &first, "PreparingTarget", 600).await;
    let second = name(&create_vmim(&s, "vm-2", false).unwrap());
    wait_phase(&s, &second, "Pending", 600).await;
    s.clock().sleep(std::time::Duration::from_secs(30)).await;
    let m = s.get(&VMIMS, Some(NS), &second).unwrap();
    assert_eq!(phase(&m), "Pending", "held by parallelMigrationsPerCluster");
    assert!(m["status"].get("conditions").is_none());
    assert_eq!(target_pods(&s).len(), 1);
    let first_end = abort_first(&s, &first).await;
    wait_phase(&s, &second, "Succeeded", 600).await;
    let failed_at = first_end["status"]["phaseTransitionTimestamps"].as_array().unwrap().last().unwrap().clone();
    let failed_at: jiff::Timestamp = failed_at["phaseTransitionTimestamp"].as_str().unwrap().parse().unwrap();
    assert!(transition(&s, &second, "Scheduling") >= failed_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_node_limit_holds_outbound_migrations() {
    let (s, _kv) = haos(500.0, json!({"parallelOutboundMigrationsPerNode": 1}), first_stalls());
    add_vm(&s, "vm-2", "the-toy-factory");
    add_vm(&s, "vm-3", "illusion");
    let first = name(&create_vmim(&s, VM, false).unwrap());
    wait_phase(&s, &first, "PreparingTarget", 600).await;
    let same_node = name(&create_vmim(&s, "vm-2", false).unwrap());
    let other_node = name(&create_vmim(&s, "vm-3", false).unwrap());
    wait_phase(&s, &other_node, "Succeeded", 600).await;
    assert_eq!(phase(&s.get(&VMIMS, Some(NS), &same_node).unwrap()), "Pending", "held by the per-node limit");
    abort_first(&s, &first).await;
    wait_phase(&s, &same_node, "Succeeded", 900).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_target_pod_fails_the_migration() {
    let (s, _kv) = haos(500.0, json!({}), with(Outcome::Succeed, never_converges()));
    let vmim = name(&create_vmim(&s, VM, false).unwrap());
    wait_phase(&s, &vmim, "Running", 600).await;
    let target = target_pods(&s).remove(0);
    s.delete(&PODS, Some(NS), &name(&target), false).unwrap();
    wait_phase(&s, &vmim, "Failed", 600).await;
    let ms = s.get(&VMIS, Some(NS), VM).unwrap()["status"]["migrationState"].clone();
    assert_eq!((ms["failed"].clone(), ms["failureReason"].clone()), (json!(true), json!("Target pod is down")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_vmi_fails_and_removes_its_migration() {
    let (s, _kv) = haos(500.0, json!({}), with(stall("Scheduling"), MemoryModel::default()));
    let vmim = name(&create_vmim(&s, VM, false).unwrap());
    wait_phase(&s, &vmim, "Scheduling", 600).await;
    let mut rx = s.subscribe();
    let mut vmi = s.get(&VMIS, Some(NS), VM).unwrap();
    vmi["metadata"]["finalizers"] = json!([]);
    s.update(&VMIS, Some(NS), VM, vmi, vmmigrate_sim::api::UpdateMode::Full, false).unwrap();
    s.delete(&VMIS, Some(NS), VM, false).unwrap();
    let h = history(&s, &mut rx, &vmim, 600).await;
    let last = &h.last().unwrap().1;
    assert_eq!(phase(last), "Failed");
    wait_for(&s, 60, |s| s.get(&VMIMS, Some(NS), &vmim).is_err().then_some(())).await;
    let uid = last["metadata"]["uid"].as_str().unwrap();
    assert_eq!(wait_event(&s, uid, "FailedMigration").await.1, "Migration failed because vmi does not exist.");
    assert!(target_pods(&s).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_kubevirt_stops_its_migrations() {
    let s = common::cluster(500.0, json!({}));
    common::add_vm(&s, VM, "the-toy-factory");
    let kv = vmmigrate_sim::kubevirt::KubeVirtSim::new(s.clone(), with(stall("Scheduled"), MemoryModel::default()));
    let controllers = kv.start();
    let vmim = name(&create_vmim(&s, VM, false).unwrap());
    wait_phase(&s, &vmim, "Scheduled", 600).await;
    controllers.abort();
    let _ = controllers.await;
    // Deleting the VMIM now gets no answer from KubeVirt: the finalizer stays, nothing moves.
    s.delete(&VMIMS, Some(NS), &vmim, false).unwrap();
    s.clock().sleep(std::time::Duration::from_secs(120)).await;
    let m = s.get(&VMIMS, Some(NS), &vmim).unwrap();
    assert_eq!(phase(&m), "Scheduled");
    assert!(m["status"].get("conditions").is_none());
    assert_eq!(target_pods(&s).len(), 1);
}
