//! The `run`/`cancel`/`status` shell against a scripted in-process API server (a `tower::service_fn` behind
//! `kube::Client::new`): real kube `watcher`s, real create/delete/log calls, scripted answers. It proves the
//! event loop's plumbing (relist after 410, rewatch after a dropped connection, create retry, abort by delete,
//! one VMIM only) until the whole-binary tests against vmmigrate-sim take over.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody, combinators::UnsyncBoxBody};
use kubectl_vmmigrate::migrate::{self, Outcome, RecordingSink, RunRequest, state::UiMessage};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const NS: &str = "tenant-root";
const VM: &str = "vm-instance-haos";
const UID: &str = "9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b5a";

type Body = UnsyncBoxBody<Bytes, Infallible>;
type Sender = mpsc::UnboundedSender<Value>;

fn fixture(name: &str) -> Value {
    let path = format!("{}/testdata/kubevirt/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A VMIM fixture renamed as ours (name/uid of vmim-*.json are those of the successful migration).
fn vmim(name: &str) -> Value {
    fixture(name)
}

fn event(kind: &str, object: Value) -> Value {
    json!({"type": kind, "object": object})
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": code,
           "reason": reason, "message": message})
}

/// One scripted watch connection: events already queued, and whether it stays open afterwards.
struct Watch {
    rx: mpsc::UnboundedReceiver<Value>,
}

#[derive(Default)]
struct Script {
    vmim_lists: VecDeque<Value>,
    vmim_watches: VecDeque<Watch>,
    vmi_lists: VecDeque<Value>,
    vmi_watches: VecDeque<Watch>,
    /// Answers to POST, in order; the last one repeats.
    creates: VecDeque<(u16, Value)>,
    /// The launcher log body.
    log: Vec<String>,
    /// Where DELETE pushes `after_delete` (the open VMIM watch).
    delete_to: Option<Sender>,
    after_delete: Vec<Value>,
    vmi_get: Option<Value>,
    /// The next POST fails with a connection reset (after "creating" the object).
    reset_next_post: bool,
    /// Cluster-wide lists (stuck detection).
    all_vmims: Vec<Value>,
    all_vmis: Vec<Value>,
    pods: Vec<Value>,
    requests: Vec<String>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Script>>);

fn list(kind: &str, rv: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "kubevirt.io/v1", "kind": format!("{kind}List"), "metadata": {"resourceVersion": rv}, "items": items})
}

impl Fake {
    fn with(&self, f: impl FnOnce(&mut Script)) {
        f(&mut self.0.lock().unwrap());
    }

    /// Queues a watch connection; returns its sender (drop it to close the connection).
    fn watch(&self, vmi: bool, events: Vec<Value>) -> Sender {
        let (tx, rx) = mpsc::unbounded_channel();
        for e in events {
            tx.send(e).unwrap();
        }
        self.with(|s| if vmi { s.vmi_watches.push_back(Watch { rx }) } else { s.vmim_watches.push_back(Watch { rx }) });
        tx
    }

    fn requests(&self) -> Vec<String> {
        self.0.lock().unwrap().requests.clone()
    }

    fn count(&self, prefix: &str) -> usize {
        self.requests().iter().filter(|r| r.starts_with(prefix)).count()
    }

    fn client(&self) -> kube::Client {
        let fake = self.clone();
        let svc = tower::service_fn(move |req: Request<kube::client::Body>| {
            let fake = fake.clone();
            async move {
                // A connection reset after the server acted: the client cannot know whether the POST happened.
                let reset = req.method() == Method::POST && {
                    let mut s = fake.0.lock().unwrap();
                    let reset = std::mem::take(&mut s.reset_next_post);
                    if reset {
                        s.requests.push("POST (connection reset)".into());
                    }
                    reset
                };
                if reset {
                    return Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset by peer"));
                }
                Ok(fake.answer(req))
            }
        });
        kube::Client::new(svc, NS)
    }

    fn answer(&self, req: Request<kube::client::Body>) -> Response<Body> {
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        let watch = query.contains("watch=true");
        let mut s = self.0.lock().unwrap();
        let kind = if watch { "WATCH" } else { req.method().as_str() };
        s.requests.push(format!("{kind} {path}"));
        let cluster_wide = !path.contains("/namespaces/");
        if req.method() == Method::GET && cluster_wide && !watch {
            return match path.rsplit('/').next().unwrap_or("") {
                "virtualmachineinstancemigrations" => {
                    full(200, &list("VirtualMachineInstanceMigration", "1", s.all_vmims.clone()))
                }
                "virtualmachineinstances" => full(200, &list("VirtualMachineInstance", "1", s.all_vmis.clone())),
                "kubevirts" => full(200, &list("KubeVirt", "1", vec![fixture("kubevirt-cr.json")])),
                _ => full(404, &status(404, "NotFound", &format!("unscripted {path}"))),
            };
        }
        if req.method() == Method::GET && path.ends_with("/pods") {
            return full(
                200,
                &json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": s.pods.clone()}),
            );
        }
        let vmims = path.ends_with("/virtualmachineinstancemigrations");
        let vmis = path.ends_with("/virtualmachineinstances");
        match (req.method().clone(), vmims, vmis) {
            (Method::GET, true, _) | (Method::GET, _, true) if watch => {
                let queue = if vmims { &mut s.vmim_watches } else { &mut s.vmi_watches };
                match queue.pop_front() {
                    Some(w) => stream(w.rx),
                    // No more scripted connections: hang like an idle watch.
                    None => stream(mpsc::unbounded_channel().1),
                }
            }
            (Method::GET, true, _) => {
                let l =
                    s.vmim_lists.pop_front().unwrap_or_else(|| list("VirtualMachineInstanceMigration", "1", vec![]));
                full(200, &l)
            }
            (Method::GET, _, true) => {
                let l = s.vmi_lists.pop_front().unwrap_or_else(|| list("VirtualMachineInstance", "1", vec![]));
                full(200, &l)
            }
            (Method::POST, true, _) => {
                let (code, body) = if s.creates.len() > 1 { s.creates.pop_front() } else { s.creates.front().cloned() }
                    .unwrap_or((500, status(500, "InternalError", "no create scripted")));
                full(code, &body)
            }
            (Method::DELETE, _, _) if path.contains("/virtualmachineinstancemigrations/") => {
                let events = std::mem::take(&mut s.after_delete);
                if let Some(tx) = &s.delete_to {
                    for e in events {
                        let _ = tx.send(e);
                    }
                }
                full(200, &vmim("vmim-aborting.json"))
            }
            (Method::GET, _, _) if path.ends_with("/log") => {
                let body = s.log.join("\n") + "\n";
                Response::builder().status(200).body(Full::bytes(body)).unwrap()
            }
            (Method::GET, _, _) if path.ends_with(&format!("/virtualmachineinstances/{VM}")) => match &s.vmi_get {
                Some(v) => full(200, v),
                None => full(404, &status(404, "NotFound", "not found")),
            },
            _ => full(404, &status(404, "NotFound", &format!("unscripted {path}"))),
        }
    }
}

struct Full;
impl Full {
    fn bytes(s: String) -> Body {
        http_body_util::Full::new(Bytes::from(s)).boxed_unsync()
    }
}

fn full(code: u16, v: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::bytes(v.to_string()))
        .unwrap()
}

fn stream(rx: mpsc::UnboundedReceiver<Value>) -> Response<Body> {
    let s = futures::stream::unfold(rx, |mut rx| async move {
        let v = rx.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(Bytes::from(format!("{v}\n")))), rx))
    });
    Response::builder().status(200).body(StreamBody::new(s).boxed_unsync()).unwrap()
}

/// The cluster before the migration: the running VMI, no VMIM; POST answers vmim-created.json.
fn seeded() -> Fake {
    let fake = Fake::default();
    fake.with(|s| {
        s.vmim_lists.push_back(list("VirtualMachineInstanceMigration", "100", vec![]));
        s.vmi_lists.push_back(list("VirtualMachineInstance", "100", vec![fixture("vmi-running.json")]));
        s.creates.push_back((201, vmim("vmim-created.json")));
    });
    fake
}

const SUCCESS: [&str; 7] = [
    "vmim-pending.json",
    "vmim-scheduling.json",
    "vmim-scheduled.json",
    "vmim-preparingtarget.json",
    "vmim-targetready.json",
    "vmim-running.json",
    "vmim-succeeded.json",
];

fn progress_line(elapsed: u64, remaining: u64, iteration: u64) -> String {
    json!({"component": "virt-launcher", "level": "info", "pos": "live-migration-source.go:812",
           "timestamp": "2025-06-20T10:15:14.402317Z",
           "msg": format!("Migration info for {UID}: TimeElapsed:{elapsed}ms DataProcessed:1000MiB DataRemaining:{remaining}MiB DataTotal:4096MiB MemoryProcessed:1000MiB MemoryRemaining:{remaining}MiB MemoryTotal:4096MiB MemoryBandwidth:8000Mbps DirtyRate:320Mbps Iteration:{iteration} PostcopyRequests:0 ConstantPages:1 NormalPages:1 NormalData:1000MiB ExpectedDowntime:120ms DiskMbps:0")})
    .to_string()
}

fn request(timeout: Option<Duration>) -> RunRequest {
    RunRequest { vm: VM.into(), timeout, abort_on_timeout: true, ..Default::default() }
}

async fn run(fake: &Fake, req: RunRequest) -> (Result<migrate::RunReport, migrate::MigrateError>, Vec<UiMessage>) {
    let mut ui = RecordingSink::default();
    let r = migrate::run(&fake.client(), NS, &req, &mut ui).await;
    (r, ui.messages)
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

#[tokio::test]
async fn follows_a_successful_migration_with_progress_in_few_requests() {
    let fake = seeded();
    let mut events: Vec<Value> = SUCCESS[..6].iter().map(|f| event("MODIFIED", vmim(f))).collect();
    events.push(event("MODIFIED", vmim("vmim-succeeded.json")));
    let _vmim_watch = fake.watch(false, events);
    let _vmi_watch = fake.watch(
        true,
        vec![event("MODIFIED", fixture("vmi-migrating.json")), event("MODIFIED", fixture("vmi-migrated.json"))],
    );
    fake.with(|s| s.log = vec!["unrelated".into(), progress_line(4000, 3000, 1), progress_line(8000, 48, 2)]);
    let (r, messages) = run(&fake, request(None)).await;
    let report = r.expect("run ok");
    assert_eq!(report.outcome, Some(Outcome::Succeeded));
    assert_eq!(report.exit_code(), 0);
    assert_eq!(
        phases(&messages),
        ["Pending", "Scheduling", "Scheduled", "PreparingTarget", "TargetReady", "Running", "Succeeded"]
    );
    let r = &report.result;
    assert_eq!(r.target_node.as_deref(), Some("the-dome"));
    assert_eq!(r.duration_seconds, Some(22));
    assert_eq!(r.vmi.as_ref().map(|v| v.ready), Some(true));
    assert_eq!(fake.count("POST"), 1, "{:?}", fake.requests());
    let total = fake.requests().len();
    assert!(total < 12, "API requests: {total} {:?}", fake.requests());
    let json = report.render(migrate::ResultFormat::Json).unwrap();
    let parsed: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["outcome"], "Succeeded");
}

#[tokio::test]
async fn relists_after_410_and_rewatches_after_a_dropped_connection() {
    let fake = seeded();
    // First watch: Pending, then 410 Expired (the server closes it after the error).
    drop(fake.watch(
        false,
        vec![
            event("MODIFIED", vmim("vmim-pending.json")),
            event("ERROR", status(410, "Expired", "too old resource version: 100 (150)")),
        ],
    ));
    fake.with(|s| {
        s.vmim_lists.push_back(list("VirtualMachineInstanceMigration", "200", vec![vmim("vmim-running.json")]))
    });
    // Second watch: dropped after one event; third: the end.
    drop(fake.watch(false, vec![event("MODIFIED", vmim("vmim-running.json"))]));
    let _last = fake.watch(false, vec![event("MODIFIED", vmim("vmim-succeeded.json"))]);
    let _vmi = fake.watch(true, vec![event("MODIFIED", fixture("vmi-migrated.json"))]);
    let (r, messages) = run(&fake, request(None)).await;
    let report = r.expect("run ok");
    assert_eq!(report.outcome, Some(Outcome::Succeeded), "{messages:?}");
    assert_eq!(phases(&messages).last().map(String::as_str), Some("Succeeded"));
    assert_eq!(fake.count("POST"), 1);
    assert_eq!(
        fake.count("GET /apis/kubevirt.io/v1/namespaces/tenant-root/virtualmachineinstancemigrations"),
        2,
        "{:?}",
        fake.requests()
    );
}

#[tokio::test]
async fn retries_a_503_create_and_creates_once() {
    let fake = seeded();
    fake.with(|s| {
        let mut st = status(503, "ServiceUnavailable", "the server is currently unable to handle the request");
        st["details"] = json!({"retryAfterSeconds": 1});
        s.creates.push_front((503, st));
    });
    let _w = fake.watch(false, vec![event("MODIFIED", vmim("vmim-succeeded.json"))]);
    let _v = fake.watch(true, vec![event("MODIFIED", fixture("vmi-migrated.json"))]);
    let (r, messages) = run(&fake, request(None)).await;
    assert_eq!(r.expect("run ok").outcome, Some(Outcome::Succeeded));
    assert_eq!(fake.count("POST"), 2);
    assert!(messages.iter().any(|m| matches!(m, UiMessage::Note(n) if n.contains("503") && n.contains("retrying"))));
}

#[tokio::test]
async fn deleted_by_someone_else_exits_5() {
    let fake = seeded();
    let uid = |mut v: Value| {
        v["metadata"]["uid"] = json!(UID);
        v["metadata"]["name"] = json!("kubevirt-migrate-vm-8k4tn");
        if v["status"]["migrationState"]["migrationUid"].is_string() {
            v["status"]["migrationState"]["migrationUid"] = json!(UID);
        }
        v
    };
    let _w = fake.watch(
        false,
        vec![
            event("MODIFIED", vmim("vmim-running.json")),
            event("MODIFIED", uid(vmim("vmim-aborting.json"))),
            event("DELETED", uid(vmim("vmim-aborted.json"))),
        ],
    );
    let _v = fake.watch(true, vec![]);
    let (r, messages) = run(&fake, request(None)).await;
    let report = r.expect("run ok");
    assert_eq!(report.exit_code(), 5, "{:?}", report.outcome);
    assert_eq!(report.result.aborted_by.as_deref(), Some("someone-else"));
    assert!(messages.iter().any(|m| matches!(m, UiMessage::Warning(w) if w.contains("someone else"))));
    let parsed: Value = serde_json::from_str(&report.render(migrate::ResultFormat::Json).unwrap()).unwrap();
    assert_eq!(parsed["abortStatus"], "Succeeded");
}

#[tokio::test]
async fn failed_migration_exits_4_with_the_reason_verbatim() {
    let fake = seeded();
    let mut failed = vmim("vmim-failed.json");
    failed["metadata"]["uid"] = json!(UID);
    failed["status"]["migrationState"]["migrationUid"] = json!(UID);
    let _w = fake.watch(false, vec![event("MODIFIED", vmim("vmim-running.json")), event("MODIFIED", failed)]);
    let _v = fake.watch(true, vec![]);
    let (r, _) = run(&fake, request(None)).await;
    let report = r.expect("run ok");
    assert_eq!(report.exit_code(), 4);
    assert_eq!(
        report.result.failure_reason.as_deref(),
        Some("Live migration is not completed after 750 seconds and has been aborted")
    );
}

#[tokio::test]
async fn timeout_aborts_first_then_exits_6() {
    let fake = seeded();
    let mut aborted = vmim("vmim-aborted.json");
    aborted["metadata"]["uid"] = json!(UID);
    aborted["status"]["migrationState"]["migrationUid"] = json!(UID);
    let tx = fake.watch(false, vec![event("MODIFIED", vmim("vmim-running.json"))]);
    fake.with(|s| {
        s.delete_to = Some(tx.clone());
        s.after_delete = vec![event("DELETED", aborted)];
    });
    let _v = fake.watch(true, vec![]);
    let (r, _) = run(&fake, request(Some(Duration::from_millis(300)))).await;
    let report = r.expect("run ok");
    assert_eq!(report.outcome, Some(Outcome::TimedOut { aborted: true, abort_status: Some("Succeeded".into()) }));
    assert_eq!(report.exit_code(), 6);
    assert_eq!(fake.count("DELETE"), 1);
}

#[tokio::test]
async fn in_flight_without_attach_exits_3_and_creates_nothing() {
    let fake = Fake::default();
    fake.with(|s| {
        s.vmim_lists.push_back(list("VirtualMachineInstanceMigration", "100", vec![vmim("vmim-running.json")]));
        s.vmi_lists.push_back(list("VirtualMachineInstance", "100", vec![fixture("vmi-migrating.json")]));
    });
    let (r, _) = run(&fake, request(None)).await;
    let err = r.expect_err("in flight");
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("kubevirt-migrate-vm-8k4tn"), "{err}");
    assert_eq!(fake.count("POST"), 0);
}

#[tokio::test]
async fn not_migratable_admission_denial_exits_3() {
    let fake = seeded();
    fake.with(|s| {
        s.creates.clear();
        s.creates.push_back((400, fixture("errors/vmim-create-not-migratable.json")));
    });
    let (r, _) = run(&fake, request(None)).await;
    let err = r.expect_err("refused");
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("Cannot migrate VMI"), "{err}");
}

#[tokio::test]
async fn cancel_deletes_the_migration_in_flight_and_waits() {
    let fake = Fake::default();
    let mut aborted = vmim("vmim-aborted.json");
    aborted["metadata"]["uid"] = json!(UID);
    fake.with(|s| {
        s.vmim_lists.push_back(list("VirtualMachineInstanceMigration", "100", vec![vmim("vmim-running.json")]));
        s.vmi_lists.push_back(list("VirtualMachineInstance", "100", vec![fixture("vmi-migrating.json")]));
    });
    let tx = fake.watch(false, vec![]);
    fake.with(|s| {
        s.delete_to = Some(tx.clone());
        s.after_delete = vec![event("DELETED", aborted)];
    });
    let _v = fake.watch(true, vec![]);
    let mut ui = RecordingSink::default();
    let report = migrate::cancel(&fake.client(), NS, VM, None, &mut ui).await.expect("cancel ok");
    assert_eq!(report.exit_code(), 0, "{:?}", report.outcome);
    assert_eq!(report.result.aborted_by.as_deref(), Some("cancel"));
    assert_eq!(fake.count("DELETE"), 1);

    let empty = seeded();
    let err = migrate::cancel(&empty.client(), NS, VM, None, &mut ui).await.expect_err("nothing in flight");
    assert_eq!(err.to_string(), "found no migration in flight for VM tenant-root/vm-instance-haos");
    assert_eq!(err.exit_code(), 1);
}

#[tokio::test]
async fn status_shows_the_latest_migration() {
    let fake = Fake::default();
    fake.with(|s| {
        s.vmim_lists.push_back(list(
            "VirtualMachineInstanceMigration",
            "100",
            vec![vmim("vmim-failed.json"), vmim("vmim-succeeded.json")],
        ));
        s.vmi_get = Some(fixture("vmi-migrated.json"));
    });
    let report = migrate::status(&fake.client(), NS, VM).await.expect("status ok");
    assert_eq!(report.result.migration.as_deref(), Some("kubevirt-migrate-vm-8k4tn"));
    assert_eq!(report.result.outcome, "Succeeded");
    assert_eq!(report.exit_code(), 0);
    assert_eq!(fake.requests().len(), 2);
}

/// Stuck detection at once for `phase_file`'s phase, never for the others.
fn quick(phase_file: &str) -> RunRequest {
    let (now, never) = (Duration::ZERO, Duration::from_secs(24 * 3600));
    let pending = phase_file == "vmim-pending.json";
    RunRequest {
        vm: VM.into(),
        stuck: migrate::stuck::StuckThresholds {
            pending: if pending { now } else { never },
            scheduling: if pending { never } else { now },
            handoff: never,
        },
        ..Default::default()
    }
}

fn stuck_messages(messages: &[UiMessage]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m {
            UiMessage::Stuck(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// Records messages; the first `slow:` explanation makes the migration succeed (so the run ends
/// deterministically once the explanation was shown).
struct EndOnStuck {
    messages: Vec<UiMessage>,
    end: Option<Sender>,
}

impl migrate::ProgressSink for EndOnStuck {
    fn show(&mut self, msg: &UiMessage) {
        self.messages.push(msg.clone());
        if matches!(msg, UiMessage::Stuck(_))
            && let Some(tx) = self.end.take()
        {
            tx.send(event("MODIFIED", vmim("vmim-succeeded.json"))).unwrap();
        }
    }
}

/// Runs with the VMIM stuck in `phase_file` until the follower explains why.
async fn run_stuck(
    fake: &Fake,
    phase_file: &str,
) -> (Result<migrate::RunReport, migrate::MigrateError>, Vec<UiMessage>) {
    let tx = fake.watch(false, vec![event("MODIFIED", vmim(phase_file))]);
    let _v = fake.watch(true, vec![]);
    fake.with(|s| s.vmi_get = Some(fixture("vmi-migrated.json")));
    let mut ui = EndOnStuck { messages: Vec::new(), end: Some(tx) };
    let r = migrate::run(&fake.client(), NS, &quick(phase_file), &mut ui).await;
    (r, ui.messages)
}

#[tokio::test]
async fn stuck_in_pending_behind_the_cluster_limit_says_so() {
    let fake = seeded();
    fake.with(|s| {
        s.all_vmims = (0..5)
            .map(|i| {
                let mut m = vmim("vmim-running.json");
                m["metadata"]["name"] = json!(format!("other-{i}"));
                m["metadata"]["namespace"] = json!("tenant-other");
                m
            })
            .collect();
        s.all_vmis = vec![fixture("vmi-running.json")];
    });
    let (r, messages) = run_stuck(&fake, "vmim-pending.json").await;
    assert_eq!(r.expect("run ok").outcome, Some(Outcome::Succeeded));
    let stuck = stuck_messages(&messages);
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert!(stuck[0].contains("5 migrations are already in flight"), "{}", stuck[0]);
    assert!(stuck[0].contains("parallelMigrationsPerCluster: 5"), "{}", stuck[0]);
    assert!(stuck[0].contains("tenant-other/other-0"), "{}", stuck[0]);
}

#[tokio::test]
async fn unschedulable_target_pod_is_explained_with_the_schedulers_words() {
    let fake = seeded();
    let mut pod = fixture("virt-launcher-pod-target.json");
    pod["spec"]["nodeName"] = Value::Null;
    pod["status"] = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
        "reason": "Unschedulable",
        "message": "0/4 nodes are available: 1 node(s) were unschedulable, 3 node(s) didn't match Pod's node affinity/selector."}]});
    fake.with(|s| s.pods = vec![pod]);
    let (r, messages) = run_stuck(&fake, "vmim-scheduling.json").await;
    assert_eq!(r.expect("run ok").exit_code(), 0);
    let stuck = stuck_messages(&messages);
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert!(stuck[0].contains("cannot be scheduled: 0/4 nodes are available"), "{}", stuck[0]);
    assert!(stuck[0].contains("virt-launcher-vm-instance-haos-q9zvm"), "{}", stuck[0]);
}

#[tokio::test]
async fn timeout_without_abort_leaves_the_migration_running() {
    let fake = seeded();
    let _w = fake.watch(false, vec![event("MODIFIED", vmim("vmim-running.json"))]);
    let _v = fake.watch(true, vec![]);
    let req = RunRequest { timeout: Some(Duration::from_millis(200)), abort_on_timeout: false, ..request(None) };
    let (r, _) = run(&fake, req).await;
    let report = r.expect("run ok");
    assert_eq!(report.outcome, Some(Outcome::TimedOut { aborted: false, abort_status: None }));
    assert_eq!(report.exit_code(), 6);
    assert_eq!(fake.count("DELETE"), 0);
    assert_eq!(report.follow_hint.as_deref(), Some("kubectl get vmim kubevirt-migrate-vm-8k4tn -n tenant-root -w"));
}

#[tokio::test]
async fn a_create_with_unknown_outcome_is_checked_not_repeated() {
    let fake = seeded();
    fake.with(|s| {
        s.reset_next_post = true;
        // The list made to check finds the migration the lost POST created.
        let mut created = vmim("vmim-created.json");
        created["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("kubectl-vmmigrate");
        s.vmim_lists.push_back(list("VirtualMachineInstanceMigration", "101", vec![created]));
    });
    let _w = fake.watch(false, vec![event("MODIFIED", vmim("vmim-succeeded.json"))]);
    let _v = fake.watch(true, vec![event("MODIFIED", fixture("vmi-migrated.json"))]);
    let (r, messages) = run(&fake, request(None)).await;
    assert_eq!(r.expect("run ok").outcome, Some(Outcome::Succeeded));
    assert_eq!(fake.count("POST"), 1, "no second create: {:?}", fake.requests());
    assert!(messages.iter().any(|m| matches!(m, UiMessage::Note(n) if n.contains("checking whether it was created"))));
}

/// Ctrl-C while the create is being retried (503 with a 10 s Retry-After, forever). The list made afterwards finds
/// `found` (what a lost POST may have created); a DELETE then brings `after_delete` on the VMIM watch.
async fn interrupted_during_create(found: Option<Value>, after_delete: Vec<Value>) -> (Fake, migrate::RunReport) {
    let fake = seeded();
    let watch = fake.watch(false, vec![]);
    let _v = fake.watch(true, vec![]);
    fake.with(|s| {
        let mut st = status(503, "ServiceUnavailable", "the server is currently unable to handle the request");
        st["details"] = json!({"retryAfterSeconds": 10});
        s.creates = VecDeque::from([(503, st)]);
        s.vmim_lists.push_back(list("VirtualMachineInstanceMigration", "101", found.into_iter().collect()));
        s.delete_to = Some(watch.clone());
        s.after_delete = after_delete;
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let client = fake.client();
    let runner = tokio::spawn(async move {
        let mut ui = RecordingSink::default();
        migrate::run_with_interrupts(&client, NS, &request(None), &mut ui, migrate::Interrupts::from_channel(rx)).await
    });
    while fake.count("POST") == 0 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tx.send(()).unwrap();
    let report = runner.await.unwrap().expect("run ok");
    (fake, report)
}

#[tokio::test]
async fn ctrl_c_during_create_retries_leaves_at_once_when_nothing_was_created() {
    let (fake, report) = interrupted_during_create(None, vec![]).await;
    assert_eq!(report.exit_code(), 130);
    assert_eq!(report.result.migration, None);
    assert_eq!(fake.count("DELETE"), 0);
}

#[tokio::test]
async fn ctrl_c_during_create_aborts_what_the_lost_post_created() {
    let mut created = vmim("vmim-created.json");
    created["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("kubectl-vmmigrate");
    let mut aborted = vmim("vmim-aborted.json");
    aborted["metadata"]["uid"] = json!(UID);
    aborted["status"]["migrationState"]["migrationUid"] = json!(UID);
    let (fake, report) = interrupted_during_create(Some(created), vec![event("DELETED", aborted)]).await;
    assert_eq!(report.exit_code(), 130, "{:?}", report.outcome);
    assert_eq!(fake.count("DELETE"), 1);
    assert_eq!(report.result.abort_status.as_deref(), Some("Succeeded"));
}

#[tokio::test]
async fn an_abort_kubevirt_never_confirms_is_given_up_after_the_grace_period() {
    let fake = seeded();
    let _w = fake.watch(false, vec![event("MODIFIED", vmim("vmim-running.json"))]);
    let _v = fake.watch(true, vec![]);
    let req = RunRequest {
        timeout: Some(Duration::from_millis(100)),
        abort_grace: Some(Duration::from_millis(200)),
        ..request(None)
    };
    let (r, _) = run(&fake, req).await;
    let report = r.expect("run ok");
    assert_eq!(report.outcome, Some(Outcome::TimedOut { aborted: true, abort_status: None }));
    assert_eq!(report.exit_code(), 6);
    assert!(report.abort_unconfirmed);
    assert_eq!(fake.count("DELETE"), 1);
    assert!(report.result.warnings.iter().any(|w| w.contains("may still be running")), "{:?}", report.result.warnings);
    assert_eq!(report.follow_hint.as_deref(), Some("kubectl get vmim kubevirt-migrate-vm-8k4tn -n tenant-root -w"));
}
