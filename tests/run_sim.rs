//! `run` and `cancel` against vmmigrate-sim (real HTTP API server, KubeVirt controller, launcher logs and
//! faults), in process. Simulated time runs faster than real time; no test asserts on wall-clock time.
//!
//! These call the library entry points the CLI calls; `run_cli.rs` goes through the binary.

mod simcluster;

use std::time::Duration;

use kubectl_vmmigrate::migrate::{
    self, LineSink, Outcome, RecordingSink, RunRequest, state::UiMessage, stuck::StuckThresholds,
};
use serde_json::{Value, json};
use simcluster::{Cluster, slow_link};
use vmmigrate_sim::api::faults::Faults;
use vmmigrate_sim::api::resources::{KUBEVIRTS, VMIMS};
use vmmigrate_sim::kubevirt::MigrationBehaviour;

async fn run(
    c: &Cluster,
    ns: &str,
    req: RunRequest,
) -> (Result<migrate::RunReport, migrate::MigrateError>, Vec<UiMessage>) {
    let mut ui = RecordingSink::default();
    let r = migrate::run(&c.client(), ns, &req, &mut ui).await;
    (r, ui.messages)
}

fn req(vm: &str) -> RunRequest {
    RunRequest { vm: vm.into(), abort_on_timeout: true, ..Default::default() }
}

fn phases(messages: &[UiMessage]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m {
            UiMessage::Phase { phase, .. } => Some(phase.clone()),
            _ => None,
        })
        .collect()
}

fn stuck(messages: &[UiMessage]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m {
            UiMessage::Stuck(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn json_doc(report: &migrate::RunReport) -> Value {
    serde_json::from_str(&report.render(migrate::ResultFormat::Json).unwrap()).expect("-o json parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haos_migrates_to_the_dome_in_few_requests() {
    let c = Cluster::start("haos", 20.0, None).await;
    let before = c.requests();
    let (r, messages) = run(&c, "tenant-root", req("vm-instance-haos")).await;
    let report = r.expect("run ok");
    let requests = c.requests() - before;
    assert_eq!(report.outcome, Some(Outcome::Succeeded), "{messages:?}");
    assert_eq!(report.exit_code(), 0);
    assert_eq!(
        phases(&messages),
        ["Pending", "Scheduling", "Scheduled", "PreparingTarget", "TargetReady", "Running", "Succeeded"]
    );
    let r = &report.result;
    assert_eq!(r.source_node.as_deref(), Some("the-toy-factory"));
    assert_eq!(r.target_node.as_deref(), Some("the-dome"));
    assert_eq!(r.vmi.as_ref().and_then(|v| v.node.as_deref()), Some("the-dome"));
    assert!(r.vmi.as_ref().is_some_and(|v| v.ready), "{:?}", r.vmi);
    assert_eq!(r.mode.as_deref(), Some("PreCopy"));
    assert!(r.duration_seconds.is_some_and(|d| d > 0), "{:?}", r.duration_seconds);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert!(requests < 12, "{requests} API requests");
    let vmims = c.vmims("tenant-root");
    assert_eq!(vmims.len(), 1);
    assert_eq!(vmims[0]["metadata"]["labels"]["app.kubernetes.io/managed-by"], "kubectl-vmmigrate");
    assert!(vmims[0]["metadata"]["name"].as_str().unwrap().starts_with("vmmigrate-vm-instance-haos-"));
    assert_eq!(json_doc(&report)["targetNode"], "the-dome");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_dropped_watches_expired_history_and_throttled_creates() {
    let c = Cluster::start("faults", 10.0, None).await;
    let (r, messages) = run(&c, "faults", req("steady")).await;
    let report = r.expect("run ok");
    assert_eq!(report.outcome, Some(Outcome::Succeeded), "{messages:?}");
    assert_eq!(phases(&messages).last().map(String::as_str), Some("Succeeded"));
    assert_eq!(c.posts(), 3, "two 429s, then the create");
    assert!(messages.iter().any(|m| matches!(m, UiMessage::Note(n) if n.contains("429") && n.contains("retrying"))));
    let ours: Vec<_> = c.vmims("faults").into_iter().filter(|m| m["spec"]["vmiName"] == "steady").collect();
    assert_eq!(ours.len(), 1, "never a second VMIM");
    assert_eq!(json_doc(&report)["outcome"], "Succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_at_preparing_target_exits_4_with_the_reason() {
    let c = Cluster::start("faults", 10.0, Some(Faults::default())).await;
    let (r, messages) = run(&c, "faults", req("flaky")).await;
    let report = r.expect("run ok");
    assert_eq!(report.exit_code(), 4, "{:?} {messages:?}", report.outcome);
    let reason = report.result.failure_reason.clone().unwrap_or_default();
    assert!(reason.contains("failed to prepare target: virt-handler not reachable"), "{reason}");
    assert_eq!(json_doc(&report)["outcome"], "Failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unschedulable_target_is_explained_then_fails() {
    let c = Cluster::start("faults", 100.0, Some(Faults::default())).await;
    let stuck_fast = StuckThresholds {
        pending: Duration::from_secs(3600),
        scheduling: Duration::ZERO,
        handoff: Duration::from_secs(3600),
    };
    let (r, messages) = run(&c, "faults", RunRequest { stuck: stuck_fast, ..req("stuck") }).await;
    let report = r.expect("run ok");
    assert_eq!(report.exit_code(), 4, "{:?}", report.outcome);
    let explained = stuck(&messages);
    assert!(explained.iter().any(|s| s.contains("cannot be scheduled")), "{explained:?}");
    assert!(report.result.failure_reason.is_some(), "{:?}", report.result);
    assert_eq!(json_doc(&report)["outcome"], "Failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_aborts_the_stalled_migration_and_shows_progress() {
    let c = Cluster::start("faults", 20.0, Some(Faults::default())).await;
    let (r, messages) =
        run(&c, "faults", RunRequest { timeout: Some(Duration::from_millis(1500)), ..req("slow") }).await;
    let report = r.expect("run ok");
    assert!(matches!(report.outcome, Some(Outcome::TimedOut { aborted: true, .. })), "{:?}", report.outcome);
    assert_eq!(report.exit_code(), 6);
    assert_eq!(report.result.aborted_by.as_deref(), Some("timeout"));
    assert_eq!(report.result.abort_status.as_deref(), Some("Succeeded"), "{:?}", report.result);
    assert!(messages.iter().any(|m| matches!(m, UiMessage::Progress(_))), "{messages:?}");
    assert!(report.result.last_progress.is_some());
    let doc = json_doc(&report);
    assert_eq!(doc["outcome"], "TimedOut");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_by_someone_else_exits_5() {
    let c = Cluster::start("faults", 10.0, Some(Faults::default())).await;
    let store = c.store.clone();
    // Another client deletes the migration once it is Running.
    let deleter = tokio::spawn(async move {
        loop {
            let running = store
                .list(&VMIMS, Some("faults"))
                .0
                .into_iter()
                .find(|m| m["spec"]["vmiName"] == "slow" && m["status"]["phase"] == "Running");
            if let Some(m) = running {
                store.delete(&VMIMS, Some("faults"), m["metadata"]["name"].as_str().unwrap(), false).unwrap();
                return;
            }
            store.clock().sleep(Duration::from_millis(200)).await;
        }
    });
    let (r, messages) = run(&c, "faults", req("slow")).await;
    deleter.await.unwrap();
    let report = r.expect("run ok");
    assert_eq!(report.exit_code(), 5, "{:?} {messages:?}", report.outcome);
    assert_eq!(report.result.aborted_by.as_deref(), Some("someone-else"));
    assert!(messages.iter().any(|m| matches!(m, UiMessage::Warning(w) if w.contains("someone else"))));
    assert_eq!(json_doc(&report)["outcome"], "Aborted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_behind_the_parallel_limit_is_explained() {
    let c = Cluster::start("faults", 20.0, Some(Faults::default())).await;
    c.store
        .modify(&KUBEVIRTS, Some("kubevirt"), "kubevirt", |kv| {
            kv["spec"]["configuration"]["migrations"]["parallelMigrationsPerCluster"] = json!(1);
            Ok(())
        })
        .unwrap();
    // `slow` occupies the only slot (it stalls in Running until aborted).
    let client = c.client();
    let blocker = tokio::spawn(async move {
        let mut ui = RecordingSink::default();
        let r = RunRequest { timeout: Some(Duration::from_secs(4)), ..req("slow") };
        migrate::run(&client, "faults", &r, &mut ui).await
    });
    loop {
        let running = c.vmims("faults").into_iter().any(|m| m["status"]["phase"] == "Running");
        if running {
            break;
        }
        c.store.clock().sleep(Duration::from_millis(200)).await;
    }
    let stuck_fast = StuckThresholds { pending: Duration::ZERO, ..StuckThresholds::default() };
    let r = RunRequest { timeout: Some(Duration::from_millis(1500)), stuck: stuck_fast, ..req("steady") };
    let (r, messages) = run(&c, "faults", r).await;
    let report = r.expect("run ok");
    assert_eq!(report.exit_code(), 6);
    let explained = stuck(&messages);
    assert!(explained.iter().any(|s| s.contains("parallelMigrationsPerCluster: 1")), "{explained:?}");
    let _ = blocker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_aborts_a_migration_started_elsewhere() {
    let c = Cluster::start("faults", 10.0, Some(Faults::default())).await;
    let client = c.client();
    let runner = tokio::spawn(async move {
        let mut ui = RecordingSink::default();
        migrate::run(&client, "faults", &req("slow"), &mut ui).await
    });
    loop {
        if c.vmims("faults").into_iter().any(|m| m["status"]["phase"] == "Running") {
            break;
        }
        c.store.clock().sleep(Duration::from_millis(200)).await;
    }
    let mut ui = RecordingSink::default();
    let cancelled = migrate::cancel(&c.client(), "faults", "slow", None, &mut ui).await.expect("cancel ok");
    assert_eq!(cancelled.exit_code(), 0, "{:?}", cancelled.outcome);
    assert_eq!(cancelled.result.abort_status.as_deref(), Some("Succeeded"), "{:?}", cancelled.result);
    let run = runner.await.unwrap().expect("run ok");
    assert_eq!(run.exit_code(), 5, "the run sees an abort by someone else: {:?}", run.outcome);
    let err = migrate::cancel(&c.client(), "faults", "slow", None, &mut ui).await.expect_err("nothing left");
    assert_eq!(err.exit_code(), 1);
}

/// Waits (in simulated time) until a VMIM of `vm` is in `phase`.
async fn wait_for_phase(c: &Cluster, ns: &str, vm: &str, phase: &str) {
    while !c.vmims(ns).into_iter().any(|m| m["spec"]["vmiName"] == vm && m["status"]["phase"] == phase) {
        c.store.clock().sleep(Duration::from_millis(100)).await;
    }
}

async fn run_interrupted(c: &Cluster, vm: &str, presses: usize) -> migrate::RunReport {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let client = c.client();
    let vm_name = vm.to_string();
    let runner = tokio::spawn(async move {
        let mut ui = RecordingSink::default();
        let interrupts = migrate::Interrupts::from_channel(rx);
        migrate::run_with_interrupts(&client, "faults", &req(&vm_name), &mut ui, interrupts).await
    });
    wait_for_phase(c, "faults", vm, "Running").await;
    for _ in 0..presses {
        tx.send(()).unwrap();
    }
    runner.await.unwrap().expect("run ok")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_aborts_and_waits_for_the_abort_outcome() {
    let c = Cluster::start("faults", 10.0, Some(Faults::default())).await;
    let report = run_interrupted(&c, "slow", 1).await;
    assert_eq!(report.outcome, Some(Outcome::Interrupted { detached: false, abort_status: Some("Succeeded".into()) }));
    assert_eq!(report.exit_code(), 130);
    assert_eq!(report.result.aborted_by.as_deref(), Some("interrupt"));
    assert_eq!(report.follow_hint, None);
    assert_eq!(json_doc(&report)["abortStatus"], "Succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_ctrl_c_leaves_at_once_with_a_hint() {
    let c = Cluster::start("faults", 10.0, Some(Faults::default())).await;
    let report = run_interrupted(&c, "slow", 2).await;
    assert!(matches!(report.outcome, Some(Outcome::Interrupted { detached: true, .. })), "{:?}", report.outcome);
    assert_eq!(report.exit_code(), 130);
    let hint = report.follow_hint.clone().unwrap_or_default();
    assert!(hint.starts_with("kubectl get vmim vmmigrate-slow-") && hint.ends_with(" -n faults -w"), "{hint}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_follows_the_migration_in_flight_and_without_it_exits_3() {
    let c = Cluster::start("faults", 10.0, Some(Faults::default())).await;
    let client = c.client();
    // `slow` stalls in Running: it stays in flight until someone aborts it.
    let first = tokio::spawn(async move {
        let mut ui = RecordingSink::default();
        migrate::run(&client, "faults", &req("slow"), &mut ui).await
    });
    wait_for_phase(&c, "faults", "slow", "Running").await;
    let (refused, _) = run(&c, "faults", req("slow")).await;
    let err = refused.expect_err("in flight");
    assert_eq!(err.exit_code(), 3, "{err}");
    let attach = RunRequest { attach: true, timeout: Some(Duration::from_millis(500)), ..req("slow") };
    let (attached, messages) = run(&c, "faults", attach).await;
    let attached = attached.expect("attach ok");
    assert!(matches!(&messages[0], UiMessage::Following { attached: true, .. }), "{messages:?}");
    assert_eq!(attached.exit_code(), 6, "the attached run's --timeout aborted it: {:?}", attached.outcome);
    let first = first.await.unwrap().expect("first run ok");
    assert_eq!(first.exit_code(), 5, "the first run sees an abort by someone else: {:?}", first.outcome);
    assert_eq!(c.posts(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_node_is_refused_on_kubevirt_1_5_before_creating_anything() {
    let c = Cluster::start("haos", 20.0, None).await;
    let (r, _) =
        run(&c, "tenant-root", RunRequest { target_node: Some("the-dome".into()), ..req("vm-instance-haos") }).await;
    let err = r.expect_err("v1.5 has no addedNodeSelector");
    assert_eq!(err.exit_code(), 1);
    assert!(err.to_string().contains("KubeVirt v1.5.2"), "{err}");
    assert_eq!(c.posts(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_dry_run_creates_nothing() {
    let c = Cluster::start("haos", 20.0, None).await;
    let (r, _) = run(&c, "tenant-root", RunRequest { dry_run_server: true, ..req("vm-instance-haos") }).await;
    let report = r.expect("dry run ok");
    assert_eq!(report.exit_code(), 0);
    let obj = report.dry_run.as_ref().expect("the server's answer");
    assert_eq!(obj.spec.vmi_name, "vm-instance-haos");
    assert!(c.vmims("tenant-root").is_empty());
    assert!(c.sim.audit().iter().any(|r| r.method == "POST" && r.query.contains("dryRun=All")));
    let doc: Value = serde_json::from_str(&report.render(migrate::ResultFormat::Json).unwrap()).unwrap();
    assert_eq!(doc["kind"], "VirtualMachineInstanceMigration");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_long_migration_costs_the_same_few_requests_and_prints_plain_lines() {
    let c = Cluster::start_with("haos", 20.0, None, Some(slow_link())).await;
    let before = c.requests();
    let mut out = Vec::new();
    let report = {
        let mut ui = LineSink::new(&mut out);
        migrate::run(&c.client(), "tenant-root", &req("vm-instance-haos"), &mut ui).await.expect("run ok")
    };
    let requests = c.requests() - before;
    assert_eq!(report.outcome, Some(Outcome::Succeeded));
    let running = report.result.phases.iter().find(|p| p.phase == "Running").and_then(|p| p.duration_seconds);
    assert!(running.is_some_and(|s| s >= 45), "Running lasted {running:?} simulated s");
    assert!(requests < 12, "{requests} API requests for a minute-long migration");

    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains('\x1b'), "no control codes: {text}");
    let lines: Vec<&str> = text.lines().collect();
    for l in &lines {
        let (ts, _) = l.split_once(' ').unwrap();
        assert!(ts.parse::<jiff::Timestamp>().is_ok(), "timestamped: {l}");
    }
    let phase_lines = lines.iter().filter(|l| l.contains(" phase ")).count();
    assert_eq!(phase_lines, 7, "one line per phase change: {text}");
    let progress = lines.iter().filter(|l| l.contains(" progress iteration ")).count();
    assert!(progress >= 5, "one line per progress sample (every 4 simulated s): {text}");
    assert!(lines.iter().any(|l| l.contains("(Running took ")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_logs_give_phases_only_and_say_why() {
    use vmmigrate_sim::api::faults::Denial;
    let deny = Denial { verb: "get".into(), resource: "pods/log".into(), group: None, namespace: None };
    let c = Cluster::start("haos", 20.0, Some(Faults { deny: vec![deny], ..Faults::default() })).await;
    let (r, messages) = run(&c, "tenant-root", req("vm-instance-haos")).await;
    let report = r.expect("run ok");
    assert_eq!(report.outcome, Some(Outcome::Succeeded));
    let why = report.result.progress_unavailable.clone().unwrap_or_default();
    assert!(why.contains("403") || why.to_lowercase().contains("forbidden"), "{why}");
    assert!(messages.iter().any(|m| matches!(m, UiMessage::Note(n) if n.contains("memory progress unavailable"))));
    assert!(!messages.iter().any(|m| matches!(m, UiMessage::Progress(_))));
    assert_eq!(phases(&messages).len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_node_uses_added_node_selector_on_1_6_and_verifies_the_landing() {
    let c = Cluster::start("haos", 20.0, None).await;
    // The CR claims v1.6; the sim's v1.5 schema prunes addedNodeSelector, so the VM lands on the only eligible
    // node (the-dome) whatever was asked: the landing check must catch it.
    c.store
        .modify(&KUBEVIRTS, Some("cozy-kubevirt"), "kubevirt", |kv| {
            kv["status"]["observedKubeVirtVersion"] = json!("v1.6.0");
            Ok(())
        })
        .unwrap();
    let (r, _) =
        run(&c, "tenant-root", RunRequest { target_node: Some("illusion".into()), ..req("vm-instance-haos") }).await;
    let report = r.expect("run ok");
    assert_eq!(report.outcome, Some(Outcome::Succeeded));
    assert_eq!(report.result.target_node.as_deref(), Some("the-dome"));
    assert_eq!(report.exit_code(), 4, "landed elsewhere than requested");
    assert!(
        report.result.warnings.iter().any(|w| w.contains("not on the requested node illusion")),
        "{:?}",
        report.result.warnings
    );
    let post = c.sim.audit().into_iter().find(|r| r.method == "POST").expect("the create");
    let body = post.request_body.expect("a JSON body");
    assert_eq!(body["spec"]["addedNodeSelector"], json!({"kubernetes.io/hostname": "illusion"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_list_is_an_error_in_words_and_creates_nothing() {
    use vmmigrate_sim::api::faults::Denial;
    let deny = Denial {
        verb: "list".into(),
        resource: "virtualmachineinstancemigrations".into(),
        group: None,
        namespace: None,
    };
    let c = Cluster::start("haos", 20.0, Some(Faults { deny: vec![deny], ..Faults::default() })).await;
    let (r, _) = run(&c, "tenant-root", req("vm-instance-haos")).await;
    let err = r.expect_err("forbidden");
    assert_eq!(err.exit_code(), 1);
    assert!(err.to_string().contains("403"), "{err}");
    assert_eq!(c.posts(), 0);
    let doc = serde_json::to_value(migrate::ErrorDocument::from(&err)).unwrap();
    assert_eq!(doc["exitCode"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_timeout_abort_is_a_failure_with_kubevirts_reason_and_was_announced() {
    let c = Cluster::start_with("haos", 20.0, None, Some(slow_link())).await;
    // 4 s per GiB × 5 GB (4Gi guest) = 20 s, while the copy needs about a minute.
    c.store
        .modify(&KUBEVIRTS, Some("cozy-kubevirt"), "kubevirt", |kv| {
            kv["spec"]["configuration"]["migrations"]["completionTimeoutPerGiB"] = json!(4);
            Ok(())
        })
        .unwrap();
    let (r, messages) = run(&c, "tenant-root", req("vm-instance-haos")).await;
    let report = r.expect("run ok");
    assert_eq!(report.exit_code(), 4, "{:?}", report.outcome);
    assert_eq!(
        report.result.failure_reason.as_deref(),
        Some("Live migration is not completed after 20 seconds and has been aborted")
    );
    assert_eq!(report.result.abort_status.as_deref(), Some("Succeeded"));
    assert!(!report.result.abort_requested, "KubeVirt's own abort is not a user abort");
    let explained = stuck(&messages);
    assert!(explained.iter().any(|s| s.contains("of the 20 s completion timeout")), "{explained:?}");
    assert_eq!(json_doc(&report)["outcome"], "Failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_while_running_exits_4_with_the_reason_verbatim() {
    use vmmigrate_sim::kubevirt::behaviour::Outcome as SimOutcome;
    let reason = "Live migration failed error encountered during MigrateToURI3 libvirt api call: virError(Code=1)";
    let failing = MigrationBehaviour {
        outcome: SimOutcome::FailAt { phase: "Running".into(), reason: reason.into() },
        ..Default::default()
    };
    let c = Cluster::start_with("haos", 20.0, None, Some(failing)).await;
    let (r, _) = run(&c, "tenant-root", req("vm-instance-haos")).await;
    let report = r.expect("run ok");
    assert_eq!(report.exit_code(), 4, "{:?}", report.outcome);
    assert_eq!(report.result.failure_reason.as_deref(), Some(reason));
    assert_eq!(report.result.vmi.as_ref().and_then(|v| v.node.as_deref()), Some("the-toy-factory"));
    assert_eq!(c.vmims("tenant-root").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_with_retry_after_is_retried_and_one_migration_is_created() {
    use vmmigrate_sim::api::faults::CreateFault;
    let fault = CreateFault {
        resource: "virtualmachineinstancemigrations".into(),
        count: 1,
        code: 503,
        retry_after_seconds: 1,
    };
    let c = Cluster::start("haos", 20.0, Some(Faults { create_errors: vec![fault], ..Faults::default() })).await;
    let (r, messages) = run(&c, "tenant-root", req("vm-instance-haos")).await;
    assert_eq!(r.expect("run ok").outcome, Some(Outcome::Succeeded));
    assert_eq!(c.posts(), 2);
    assert_eq!(c.vmims("tenant-root").len(), 1);
    assert!(
        messages
            .iter()
            .any(|m| matches!(m, UiMessage::Note(n) if n.contains("503") && n.contains("retrying in 1000 ms")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_watch_names_any_migration_left_running() {
    use vmmigrate_sim::api::faults::Denial;
    let deny = Denial {
        verb: "watch".into(),
        resource: "virtualmachineinstancemigrations".into(),
        group: None,
        namespace: None,
    };
    let c = Cluster::start("haos", 20.0, Some(Faults { deny: vec![deny], ..Faults::default() })).await;
    let (r, _) = run(&c, "tenant-root", req("vm-instance-haos")).await;
    let err = r.expect_err("forbidden watch");
    assert_eq!(err.exit_code(), 1);
    let text = err.to_string();
    assert!(text.contains("cannot watch") && text.contains("403"), "{text}");
    // The watch may fail before the create (nothing created) or after it: then the migration is named.
    for m in c.vmims("tenant-root") {
        let hint =
            format!("goes on without this command: kubectl get vmim {} -n tenant-root -w", m["metadata"]["name"]);
        assert!(text.contains(&hint.replace('"', "")), "{text}");
    }
}
