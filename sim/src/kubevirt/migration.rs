//! One migration, driven from its VMIM's creation to its end: what virt-controller's migration controller, the
//! source and target virt-handlers and the source virt-launcher do, walking the VMIM through
//! `"" → Pending → Scheduling → Scheduled → PreparingTarget → TargetReady → Running → Succeeded | Failed`
//! (kubevirt.md §2–§3, §6.3, §8, §9) and writing the VMIM, the VMI, the target pod, Events and the launcher log as
//! KubeVirt v1.5 does.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::admission::{MIGRATION_FINALIZER, VMI_NAME_LABEL, is_final_phase};
use super::behaviour::{MigrationBehaviour, Outcome};
use super::controller::{Controller, SwitchoverEvent, lock};
use super::handler;
use super::launcher::{self, CREATED_BY_LABEL, NODE_NAME_LABEL, TARGET_READY_ANNOTATION};
use super::memory::PreCopy;
use super::objects::{self, meta, record_event, set_annotation, set_label};
use super::{config, metrics, quantity, scheduling};
use crate::api::resources::{MIGRATION_POLICIES, NAMESPACES, NODES, PODS, VMIMS, VMIS};
use crate::api::{ApiError, Store};
use crate::clock::format_time;

const COMPONENT: &str = "virtualmachine-controller";
const HANDLER: &str = "virt-handler";
const TARGET_NODE_LABEL: &str = "kubevirt.io/migrationTargetNodeName";
const UNSCHEDULABLE_TIMEOUT_ANNOTATION: &str = "kubevirt.io/migrationUnschedulablePodTimeoutSeconds";
const DEFAULT_UNSCHEDULABLE_TIMEOUT_S: u64 = 300;
const FINALIZED_TO_KEEP: usize = 5;
const MONITOR_TICK_S: f64 = 0.4;
const LOG_PERIOD_S: f64 = 4.0;
/// The failure reason libvirt gives for a job cancelled on request (fixture `vmim-aborted.json`).
const CANCELED_BY_CLIENT: &str = "Live migration failed error encountered during MigrateToURI3 libvirt api call: virError(Code=78, Domain=10, Message='operation aborted: migration out: canceled by client')";
const MONITOR_POS: &str = "live-migration-source.go:573";
const RESULT_POS: &str = "live-migration-source.go:727";

pub(super) fn phase(obj: &Value) -> &str {
    obj.pointer("/status/phase").and_then(Value::as_str).unwrap_or_default()
}

pub(super) fn deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some_and(|d| !d.is_null())
}

/// Sets `status.phase` and appends its transition timestamp; false when already in that phase.
fn push_phase(m: &mut Value, p: &str, now: &str) -> bool {
    if phase(m) == p {
        return false;
    }
    if !m.get("status").is_some_and(Value::is_object) {
        m["status"] = json!({});
    }
    m["status"]["phase"] = json!(p);
    let entry = json!({"phase": p, "phaseTransitionTimestamp": now});
    match m["status"].get_mut("phaseTransitionTimestamps").and_then(Value::as_array_mut) {
        Some(ts) => ts.push(entry),
        None => m["status"]["phaseTransitionTimestamps"] = json!([entry]),
    }
    true
}

fn in_flight(p: &str) -> bool {
    matches!(p, "Scheduling" | "Scheduled" | "PreparingTarget" | "TargetReady" | "Running")
}

/// Guest memory of a VMI in bytes: `memory.guest`, else the memory request.
pub fn guest_memory_bytes(vmi: &Value) -> f64 {
    ["/spec/domain/memory/guest", "/spec/domain/resources/requests/memory"]
        .iter()
        .find_map(|p| vmi.pointer(p).and_then(quantity::parse_value))
        .unwrap_or(1024.0 * 1024.0 * 1024.0)
}

/// `completionTimeoutPerGiB × ceil(memory in decimal GB)` (kubevirt.md §6.3).
pub fn completion_timeout_s(vmi: &Value, per_gib: f64) -> f64 {
    per_gib * (guest_memory_bytes(vmi) / 1e9).ceil()
}

/// Why a driver stops early.
enum End {
    /// The migration reached its end (final phase written, finalizer removed).
    Done,
    /// The VMIM is gone.
    Gone,
    /// The VMI is gone.
    VmiGone,
    /// The target pod is gone.
    TargetGone,
    Api(ApiError),
}

impl From<ApiError> for End {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

type Step<T = ()> = Result<T, End>;

/// Resolves once the abort flag is set; never when the sender went away.
async fn abort_requested(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// One migration being driven.
pub(crate) struct Migration {
    ctl: Arc<Controller>,
    ns: String,
    name: String,
    uid: String,
    vmi_name: String,
    behaviour: MigrationBehaviour,
    abort: watch::Receiver<bool>,
    target_pod: Option<String>,
    target_created: Option<Timestamp>,
    handed_off: bool,
    abort_noted: bool,
}

impl Migration {
    pub(super) fn new(
        ctl: Arc<Controller>,
        ns: String,
        name: String,
        uid: String,
        vmi_name: String,
        behaviour: MigrationBehaviour,
        abort: watch::Receiver<bool>,
    ) -> Self {
        Self {
            ctl,
            ns,
            name,
            uid,
            vmi_name,
            behaviour,
            abort,
            target_pod: None,
            target_created: None,
            handed_off: false,
            abort_noted: false,
        }
    }

    pub(super) async fn run(mut self) {
        let result = self.drive().await;
        match result {
            Ok(()) | Err(End::Done) | Err(End::Gone) => {}
            Err(End::VmiGone) => {
                let msg = if self.handed_off {
                    "Migration failed vmi shutdown during migration."
                } else {
                    "Migration failed because vmi does not exist."
                };
                if let Err(End::Api(e)) = self.fail_pre_handoff(msg) {
                    tracing::warn!(%e, vmim = self.name, "could not fail the migration");
                }
                // The controller deletes the migrations of a deleted VMI.
                if let Err(e) = self.store().delete(&VMIMS, Some(&self.ns), &self.name, false)
                    && e.code != 404
                {
                    tracing::warn!(%e, vmim = self.name, "could not delete the migration of a deleted VMI");
                }
            }
            Err(End::TargetGone) => {
                let failed = if self.handed_off {
                    self.fail_post_handoff("Target pod is down", None).await
                } else {
                    self.fail_pre_handoff("Migration target pod was removed during active migration.")
                };
                if let Err(End::Api(e)) = failed {
                    tracing::warn!(%e, vmim = self.name, "could not fail the migration");
                }
            }
            Err(End::Api(e)) => tracing::warn!(%e, vmim = self.name, "migration driver stopped"),
        }
        lock(&self.ctl.drivers).remove(&self.uid);
        self.ctl.wake.notify_waiters();
    }

    fn store(&self) -> &Store {
        &self.ctl.store
    }

    fn now(&self) -> String {
        self.store().clock().now_rfc3339()
    }

    fn vmim(&self) -> Step<Value> {
        match self.store().get(&VMIMS, Some(&self.ns), &self.name) {
            Err(e) if e.code == 404 => Err(End::Gone),
            r => Ok(r?),
        }
    }

    fn vmi(&self) -> Step<Value> {
        match self.store().get(&VMIS, Some(&self.ns), &self.vmi_name) {
            Err(e) if e.code == 404 => Err(End::VmiGone),
            r => Ok(r?),
        }
    }

    fn write_vmim(&self, change: impl FnMut(&mut Value) -> bool) -> Step<Value> {
        match objects::update(self.store(), &VMIMS, Some(&self.ns), &self.name, change) {
            Err(e) if e.code == 404 => Err(End::Gone),
            r => Ok(r?),
        }
    }

    fn write_vmi(&self, change: impl FnMut(&mut Value) -> bool) -> Step<Value> {
        match objects::update(self.store(), &VMIS, Some(&self.ns), &self.vmi_name, change) {
            Err(e) if e.code == 404 => Err(End::VmiGone),
            r => Ok(r?),
        }
    }

    /// Changes fields of the VMI's `status.migrationState`.
    fn write_migration_state(&self, mut change: impl FnMut(&mut Value)) -> Step<Value> {
        self.write_vmi(|vmi| {
            if !vmi.pointer("/status/migrationState").is_some_and(Value::is_object) {
                return false;
            }
            change(&mut vmi["status"]["migrationState"]);
            true
        })
    }

    /// An Event on the VMI from virt-handler.
    fn vmi_event(&self, vmi: &Value, kind: &str, reason: &str, message: &str) {
        record_event(self.store(), vmi, kind, reason, message, HANDLER);
    }

    fn event(&self, kind: &str, reason: &str, message: &str) {
        if let Ok(vmim) = self.store().get(&VMIMS, Some(&self.ns), &self.name) {
            record_event(self.store(), &vmim, kind, reason, message, COMPONENT);
        }
    }

    /// Writes a new phase and appends its transition timestamp.
    fn set_phase(&self, p: &str) -> Step<Value> {
        let now = self.now();
        self.write_vmim(|m| push_phase(m, p, &now))
    }

    fn aborted(&self) -> bool {
        *self.abort.borrow() || self.store().get(&VMIMS, Some(&self.ns), &self.name).is_ok_and(|m| deleting(&m))
    }

    /// Sleeps a simulated duration; returns early, with `true`, when the VMIM is deleted.
    async fn sleep(&mut self, ms: u64) -> bool {
        if self.aborted() {
            return true;
        }
        let clock = self.store().clock().clone();
        tokio::select! {
            _ = clock.sleep(Duration::from_millis(ms)) => self.aborted(),
            _ = abort_requested(&mut self.abort) => true,
        }
    }

    /// Sleeps a simulated duration without interruption (after the handoff an abort waits for Running).
    async fn sleep_through(&mut self, ms: u64) -> Step {
        self.store().clock().sleep(Duration::from_millis(ms)).await;
        if self.aborted() {
            self.note_abort()?;
        }
        Ok(())
    }

    /// The `migrationAbortRequested` condition, once.
    fn note_abort(&mut self) -> Step {
        if self.abort_noted {
            return Ok(());
        }
        let now = self.now();
        self.write_vmim(|m| {
            let cond = json!({"lastProbeTime": now, "lastTransitionTime": null, "status": "True", "type": "migrationAbortRequested"});
            if !m.get("status").is_some_and(Value::is_object) {
                m["status"] = json!({});
            }
            let mut conds: Vec<Value> = m["status"].get("conditions").and_then(Value::as_array).cloned().unwrap_or_default();
            if conds.iter().any(|c| c["type"] == "migrationAbortRequested") {
                return false;
            }
            conds.push(cond.clone());
            m["status"]["conditions"] = Value::Array(conds);
            true
        })?;
        self.abort_noted = true;
        Ok(())
    }

    fn fails_at(&self, p: &str) -> Option<String> {
        match &self.behaviour.outcome {
            Outcome::FailAt { phase, reason } if phase == p => Some(reason.clone()),
            _ => None,
        }
    }

    fn stalls_at(&self, p: &str) -> bool {
        matches!(&self.behaviour.outcome, Outcome::StallAt { phase } if phase == p)
    }

    /// Stays put until the VMIM is deleted (or the VMI goes away).
    async fn stall(&mut self) -> Step {
        while !self.sleep(5_000).await {
            self.vmi()?;
        }
        Ok(())
    }

    /// Scenario outcomes on entering a phase before the handoff.
    async fn outcome_pre_handoff(&mut self, p: &str) -> Step {
        if let Some(reason) = self.fails_at(p) {
            return self.fail_pre_handoff(&reason);
        }
        if self.stalls_at(p) {
            self.stall().await?;
            return self.cancel_pre_handoff();
        }
        Ok(())
    }

    /// Scenario outcomes on entering a phase after the handoff.
    async fn outcome_post_handoff(&mut self, p: &str) -> Step {
        if let Some(reason) = self.fails_at(p) {
            return self.fail_post_handoff(&reason, None).await;
        }
        if self.stalls_at(p) && p != "Running" {
            self.stall().await?;
            return self.abort_running().await;
        }
        Ok(())
    }

    async fn drive(&mut self) -> Step {
        let vmim = self.vmim()?;
        match phase(&vmim) {
            "" => self.start()?,
            "Pending" => {}
            p if is_final_phase(Some(p)) => return self.finalize(),
            p => {
                tracing::warn!(vmim = self.name, phase = p, "cannot resume a migration in this phase; leaving it");
                return Ok(());
            }
        }
        self.outcome_pre_handoff("Pending").await?;
        self.pending().await?;
        self.outcome_pre_handoff("Scheduling").await?;
        self.scheduling().await?;
        self.outcome_pre_handoff("Scheduled").await?;
        if self.sleep(self.behaviour.phase_durations_ms.scheduled).await {
            return self.cancel_pre_handoff();
        }
        self.handoff()?;
        self.outcome_post_handoff("PreparingTarget").await?;
        self.sleep_through(self.behaviour.phase_durations_ms.preparing_target).await?;
        self.target_listening()?;
        self.outcome_post_handoff("TargetReady").await?;
        self.sleep_through(self.behaviour.phase_durations_ms.target_ready).await?;
        let now = self.now();
        let vmi = self.write_migration_state(|ms| {
            ms["startTimestamp"] = json!(now);
            ms["mode"] = json!("PreCopy");
        })?;
        self.vmi_event(&vmi, "Normal", "Migrating", "VirtualMachineInstance is migrating.");
        self.set_phase("Running")?;
        self.outcome_post_handoff("Running").await?;
        self.running().await
    }

    /// `""` → Pending, or Failed when another migration owns the VMI.
    fn start(&mut self) -> Step {
        let vmi = self.vmi()?;
        if let Some(owner) = vmi.pointer("/status/migrationState/migrationUid").and_then(Value::as_str)
            && owner != self.uid
        {
            let busy = self
                .store()
                .list(&VMIMS, Some(&self.ns))
                .0
                .iter()
                .any(|m| meta(m, "uid") == owner && !is_final_phase(Some(phase(m))));
            if busy {
                return self.fail_pre_handoff(
                    "VMI is not eligible for migration because another migration job is in progress.",
                );
            }
        }
        let source_pod = self.current_pod(&vmi).map(|p| meta(&p, "name").to_string());
        let now = self.now();
        self.write_vmim(|m| {
            set_annotation(m, "kubevirt.io/latest-observed-api-version", "v1");
            set_annotation(m, "kubevirt.io/storage-observed-api-version", "v1");
            m["status"] = match &source_pod {
                Some(pod) => json!({"migrationState": {"sourcePod": pod}}),
                None => json!({}),
            };
            push_phase(m, "Pending", &now)
        })?;
        Ok(())
    }

    /// The VMI's current virt-launcher pod: the newest live pod of the VMI on its node.
    fn current_pod(&self, vmi: &Value) -> Option<Value> {
        let uid = meta(vmi, "uid");
        let node = vmi.pointer("/status/nodeName").and_then(Value::as_str);
        self.store()
            .list(&PODS, Some(&self.ns))
            .0
            .into_iter()
            .filter(|p| {
                p.pointer("/metadata/labels").and_then(|l| l.get(CREATED_BY_LABEL)).and_then(Value::as_str) == Some(uid)
            })
            .filter(|p| p.pointer("/spec/nodeName").and_then(Value::as_str) == node && !deleting(p))
            .filter(|p| !matches!(phase(p), "Succeeded" | "Failed"))
            .max_by(|a, b| meta(a, "creationTimestamp").cmp(meta(b, "creationTimestamp")))
    }

    /// Pending until the VMI can go and the parallel limits allow, then the target pod is created → Scheduling.
    async fn pending(&mut self) -> Step {
        if self.sleep(self.behaviour.phase_durations_ms.pending).await {
            return self.cancel_pre_handoff();
        }
        loop {
            if self.aborted() {
                return self.cancel_pre_handoff();
            }
            let vmi = self.vmi()?;
            let active = vmi.pointer("/status/activePods").and_then(Value::as_object).map_or(0, Map::len);
            if phase(&vmi) != "Running" || active > 1 {
                if self.sleep(1000).await {
                    return self.cancel_pre_handoff();
                }
                continue;
            }
            let ctl = Arc::clone(&self.ctl);
            let gate = ctl.gate.lock().await;
            if self.within_limits(&vmi) {
                self.create_target_pod(&vmi)?;
                self.set_phase("Scheduling")?;
                drop(gate);
                return Ok(());
            }
            drop(gate);
            let clock = self.store().clock().clone();
            tokio::select! {
                _ = clock.sleep(Duration::from_secs(5)) => {}
                _ = ctl.wake.notified() => {}
                _ = abort_requested(&mut self.abort) => {}
            }
        }
    }

    /// `parallelMigrationsPerCluster` and `parallelOutboundMigrationsPerNode`.
    fn within_limits(&self, vmi: &Value) -> bool {
        let conf = config::cluster(handler::kubevirt_cr(self.store()).as_ref());
        let per_cluster = config::number(&conf, "parallelMigrationsPerCluster").unwrap_or(5.0) as usize;
        let per_node = config::number(&conf, "parallelOutboundMigrationsPerNode").unwrap_or(2.0) as usize;
        let my_node = vmi.pointer("/status/nodeName").and_then(Value::as_str);
        let running: Vec<Value> = self
            .store()
            .list(&VMIMS, None)
            .0
            .into_iter()
            .filter(|m| in_flight(phase(m)) && meta(m, "uid") != self.uid)
            .collect();
        let outbound = running
            .iter()
            .filter(|m| {
                let vmi_name = m.pointer("/spec/vmiName").and_then(Value::as_str).unwrap_or_default();
                let source = m.pointer("/status/migrationState/sourceNode").and_then(Value::as_str).map(str::to_string);
                let node = source.or_else(|| {
                    let v = self.store().get(&VMIS, Some(meta(m, "namespace")), vmi_name).ok()?;
                    v.pointer("/status/nodeName").and_then(Value::as_str).map(str::to_string)
                });
                node.as_deref() == my_node
            })
            .count();
        let ok = running.len() < per_cluster && outbound < per_node;
        if !ok {
            tracing::info!(vmim = self.name, running = running.len(), outbound, "migration waits for a free slot");
        }
        ok
    }

    fn create_target_pod(&mut self, vmi: &Value) -> Step {
        let vmim = self.vmim()?;
        let source_name = vmim.pointer("/status/migrationState/sourcePod").and_then(Value::as_str).unwrap_or_default();
        let source = match self.store().get(&PODS, Some(&self.ns), source_name) {
            Ok(p) => p,
            Err(_) => self.current_pod(vmi).ok_or_else(|| ApiError::not_found(&PODS, source_name))?,
        };
        let node_name = vmi.pointer("/status/nodeName").and_then(Value::as_str).unwrap_or_default();
        let source_node = self.store().get(&NODES, None, node_name).ok();
        let pod = launcher::render_target_pod(&source, vmi, source_node.as_ref(), &vmim);
        let created = self.store().create(&PODS, Some(&self.ns), pod, false)?;
        let pod_name = meta(&created, "name").to_string();
        self.target_pod = Some(pod_name.clone());
        self.target_created = Some(self.store().clock().now());
        self.event("Normal", "SuccessfulCreate", &format!("Created migration target pod {pod_name}"));
        Ok(())
    }

    fn target(&self) -> Step<Value> {
        let name = self.target_pod.as_deref().unwrap_or_default();
        match self.store().get(&PODS, Some(&self.ns), name) {
            Err(e) if e.code == 404 => Err(End::TargetGone),
            r => Ok(r?),
        }
    }

    fn write_target(&self, change: impl FnMut(&mut Value) -> bool) -> Step<Value> {
        let name = self.target_pod.clone().unwrap_or_default();
        Ok(objects::update(self.store(), &PODS, Some(&self.ns), &name, change)?)
    }

    /// The scheduler places the target pod (or cannot), then the kubelet starts it → Scheduled.
    async fn scheduling(&mut self) -> Step {
        let node = loop {
            if self.aborted() {
                return self.cancel_pre_handoff();
            }
            let pod = self.target()?;
            let nodes = self.store().list(&NODES, None).0;
            let pods = self.store().list(&PODS, None).0;
            let placed = if self.behaviour.outcome == Outcome::TargetUnschedulable {
                Err(scheduling::no_room_message(&pod, &nodes, &pods))
            } else {
                scheduling::schedule(&pod, &nodes, &pods)
            };
            match placed {
                Ok(name) => match nodes.into_iter().find(|n| meta(n, "name") == name) {
                    Some(n) => break n,
                    None => continue,
                },
                Err(msg) => {
                    if self.unschedulable(&pod, &msg).await? {
                        return self.cancel_pre_handoff();
                    }
                }
            }
        };
        let now = self.now();
        self.write_target(|p| {
            launcher::bind(p, &node, &now);
            true
        })?;
        if self.sleep(self.behaviour.phase_durations_ms.scheduling).await {
            return self.cancel_pre_handoff();
        }
        let source_ip = self.source_pod_ip();
        let ip = if self.behaviour.ip_change {
            launcher::pod_ip_on(&node, &source_ip).unwrap_or(source_ip)
        } else {
            source_ip
        };
        let now = self.now();
        self.write_target(|p| {
            launcher::start(p, &ip, &now);
            true
        })?;
        self.set_phase("Scheduled")?;
        Ok(())
    }

    fn source_pod_ip(&self) -> String {
        let vmim = self.store().get(&VMIMS, Some(&self.ns), &self.name).unwrap_or(Value::Null);
        let source = vmim.pointer("/status/migrationState/sourcePod").and_then(Value::as_str).unwrap_or_default();
        self.store()
            .get(&PODS, Some(&self.ns), source)
            .ok()
            .and_then(|p| p.pointer("/status/podIP").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default()
    }

    /// One pass over an unschedulable target pod: condition, Warning event, and the timeout. Returns whether the
    /// VMIM was deleted meanwhile.
    async fn unschedulable(&mut self, pod: &Value, msg: &str) -> Step<bool> {
        self.event(
            "Warning",
            "migrationTargetPodUnschedulable",
            &format!("Migration target pod for VMI [{}/{}] is currently unschedulable.", self.ns, self.vmi_name),
        );
        let now = self.now();
        let msg_owned = msg.to_string();
        self.write_target(|p| {
            let current = p.pointer("/status/conditions/0/message").and_then(Value::as_str);
            if current == Some(msg_owned.as_str()) {
                return false;
            }
            launcher::mark_unschedulable(p, &msg_owned, &now);
            true
        })?;
        let vmim = self.vmim()?;
        let timeout = vmim
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(UNSCHEDULABLE_TIMEOUT_ANNOTATION))
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(DEFAULT_UNSCHEDULABLE_TIMEOUT_S);
        let created = self.target_created.unwrap_or_else(|| self.store().clock().now());
        let waited = self.store().clock().now().duration_since(created).as_secs_f64().max(0.0);
        if waited >= timeout as f64 {
            let name = meta(pod, "name").to_string();
            self.delete_target();
            self.event(
                "Normal",
                "SuccessfulDelete",
                &format!(
                    "Deleted migration target pod {name} because timeout of {timeout} seconds was reached due to pod being unschedulable"
                ),
            );
            self.fail_pre_handoff("Migration target pod was removed during active migration.")?;
        }
        let left_ms = ((timeout as f64 - waited) * 1000.0).clamp(1.0, 5000.0) as u64;
        Ok(self.sleep(left_ms).await)
    }

    fn delete_target(&mut self) {
        if let Some(name) = self.target_pod.as_deref() {
            match self.store().delete(&PODS, Some(&self.ns), name, false) {
                Ok(_) => {}
                Err(e) if e.code == 404 => {}
                Err(e) => tracing::warn!(%e, pod = name, "could not delete the target pod"),
            }
        }
    }

    /// Scheduled → PreparingTarget: the VMI gets this migration's state.
    fn handoff(&mut self) -> Step {
        let vmi = self.vmi()?;
        let target = self.target()?;
        let target_node = target.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default().to_string();
        let target_name = meta(&target, "name").to_string();
        let target_uid = meta(&target, "uid").to_string();
        let vmim = self.vmim()?;
        let source_pod = vmim.pointer("/status/migrationState/sourcePod").cloned().unwrap_or(json!(""));
        let source_node = vmi.pointer("/status/nodeName").cloned().unwrap_or(json!(""));
        let kv = handler::kubevirt_cr(self.store());
        let policies = self.store().list(&MIGRATION_POLICIES, None).0;
        let ns_obj = self.store().get(&NAMESPACES, None, &self.ns).ok();
        let (conf, policy) = config::effective(kv.as_ref(), &policies, &vmi, ns_obj.as_ref());
        let mut state = json!({
            "migrationConfiguration": Value::Object(conf),
            "migrationUid": self.uid,
            "sourceNode": source_node,
            "sourcePod": source_pod,
            "targetNode": target_node,
            "targetPod": target_name,
        });
        if let Some(p) = policy {
            state["migrationPolicyName"] = json!(p);
        }
        self.write_vmi(|v| {
            v["status"]["migrationState"] = state.clone();
            set_label(v, TARGET_NODE_LABEL, &target_node);
            if !v["status"].get("activePods").is_some_and(Value::is_object) {
                v["status"]["activePods"] = json!({});
            }
            v["status"]["activePods"][&target_uid] = json!(target_node);
            true
        })?;
        self.handed_off = true;
        self.event("Normal", "SuccessfulHandOver", "Migration target pod is ready for preparation by virt-handler.");
        self.set_phase("PreparingTarget")?;
        Ok(())
    }

    /// The target virt-handler listens → TargetReady.
    fn target_listening(&mut self) -> Step {
        let target = self.target()?;
        let node_name = target.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default();
        let handler_ip = self
            .store()
            .list(&PODS, None)
            .0
            .into_iter()
            .find(|p| {
                p.pointer("/metadata/labels/kubevirt.io").and_then(Value::as_str) == Some("virt-handler")
                    && p.pointer("/spec/nodeName").and_then(Value::as_str) == Some(node_name)
            })
            .and_then(|p| p.pointer("/status/podIP").and_then(Value::as_str).map(str::to_string));
        let address = handler_ip
            .or_else(|| self.store().get(&NODES, None, node_name).ok().and_then(|n| launcher::node_internal_ip(&n)))
            .unwrap_or_default();
        let bytes = uuid::Uuid::new_v4();
        let port = |i: usize| 32768 + (u16::from_be_bytes([bytes.as_bytes()[i], bytes.as_bytes()[i + 1]]) % 28000);
        let (control, direct) = (port(0), port(2));
        let direct = if direct == control { direct + 1 } else { direct };
        let vmi = self.write_migration_state(|ms| {
            ms["targetNodeAddress"] = json!(address);
            ms["targetDirectMigrationNodePorts"] = json!({control.to_string(): 0, direct.to_string(): 49152});
        })?;
        let listening = format!("Migration Target is listening at {address}, on ports: {control},{direct}");
        self.vmi_event(&vmi, "Normal", "PreparingTarget", &listening);
        self.vmi_event(&vmi, "Normal", "PreparingTarget", "VirtualMachineInstance Migration Target Prepared.");
        self.set_phase("TargetReady")?;
        Ok(())
    }

    fn log(&self, source_pod: &str, vmi: &Value, level: &str, msg: &str, pos: &str, at: Timestamp) {
        self.store().append_log(&self.ns, source_pod, "compute", launcher::log_record(level, msg, pos, at, vmi));
    }

    /// Running: the source virt-launcher's migration monitor over the memory model.
    async fn running(&mut self) -> Step {
        let vmi = self.vmi()?;
        let ms = vmi.pointer("/status/migrationState").cloned().unwrap_or(Value::Null);
        let conf: Map<String, Value> = ms
            .get("migrationConfiguration")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(|| config::cluster(None));
        let num = |k: &str, d: f64| config::number(&conf, k).unwrap_or(d);
        let flag = |k: &str| conf.get(k).and_then(Value::as_bool) == Some(true);
        let mut acceptable = completion_timeout_s(&vmi, num("completionTimeoutPerGiB", 150.0));
        let progress_timeout = num("progressTimeout", 150.0);
        let bandwidth_limit = num("bandwidthPerMigration", 0.0) / (1024.0 * 1024.0);
        let source_pod = ms.get("sourcePod").and_then(Value::as_str).unwrap_or_default().to_string();
        let memory = self.behaviour.memory.clone();
        let mut model = PreCopy::new(guest_memory_bytes(&vmi), &memory, bandwidth_limit);
        model.set_stalled(self.stalls_at("Running"), &memory);
        let clock = self.store().clock().clone();
        let started = clock.now();
        let at = |t: f64| started.checked_add(jiff::SignedDuration::from_secs_f64(t)).unwrap_or(started);
        let (mut watermark, mut last_progress, mut next_log) = (f64::MAX, 0.0, LOG_PERIOD_S);
        let mut next_sample = metrics::SAMPLE_PERIOD_S;
        let source_node = ms.get("sourceNode").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut post_copy = false;
        loop {
            if self.sleep((MONITOR_TICK_S * 1000.0) as u64).await {
                return self.abort_running().await;
            }
            self.target()?;
            let target_t = clock.now().duration_since(started).as_secs_f64();
            while model.elapsed_s() + MONITOR_TICK_S <= target_t + 1e-9 {
                model.step(MONITOR_TICK_S);
                let t = model.elapsed_s();
                if let Some(pause) = model.switchover_downtime_ms() {
                    return self.succeed(&vmi, &source_pod, at(t), pause).await;
                }
                if t + 1e-9 >= next_sample {
                    // The poller runs on its own 5 s period; the model's state is that of the nearest tick.
                    let at_ms = at(next_sample).as_millisecond();
                    lock(&self.ctl.metrics).buffer(&self.ns, &self.vmi_name, &source_node).push(at_ms, model.info());
                    next_sample += metrics::SAMPLE_PERIOD_S;
                }
                if t + 1e-9 >= next_log {
                    self.log(&source_pod, &vmi, "info", &model.info().log_message(&self.uid), MONITOR_POS, at(t));
                    next_log += LOG_PERIOD_S;
                }
                if model.remaining_mib() < watermark {
                    watermark = model.remaining_mib();
                    last_progress = t;
                }
                if post_copy {
                    continue;
                }
                if t > acceptable && flag("allowWorkloadDisruption") {
                    if flag("allowPostCopy") {
                        post_copy = true;
                        model.start_post_copy();
                        self.write_migration_state(|ms| ms["mode"] = json!("PostCopy"))?;
                    } else {
                        model.pause_guest();
                        acceptable *= 2.0;
                        self.write_migration_state(|ms| ms["mode"] = json!("Paused"))?;
                    }
                    continue;
                }
                let stuck_s = (t - last_progress).floor();
                if progress_timeout > 0.0 && stuck_s > progress_timeout {
                    let msg = format!("Live migration stuck for {stuck_s} seconds and has been aborted");
                    self.log(
                        &source_pod,
                        &vmi,
                        "warning",
                        &format!("Live migration stuck for {stuck_s} seconds"),
                        MONITOR_POS,
                        at(t),
                    );
                    return self.fail_post_handoff(&msg, Some("Succeeded")).await;
                }
                if acceptable > 0.0 && t > acceptable {
                    let msg =
                        format!("Live migration is not completed after {acceptable} seconds and has been aborted");
                    self.log(
                        &source_pod,
                        &vmi,
                        "warning",
                        &format!("Live migration is not completed after {acceptable} seconds"),
                        MONITOR_POS,
                        at(t),
                    );
                    return self.fail_post_handoff(&msg, Some("Succeeded")).await;
                }
            }
        }
    }

    /// The switchover and the end of a successful migration.
    async fn succeed(&mut self, vmi: &Value, source_pod: &str, paused_at: Timestamp, pause_ms: u64) -> Step {
        let target = self.target()?;
        let target_node = target.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default().to_string();
        let target_name = meta(&target, "name").to_string();
        let pod_net = vmi
            .pointer("/spec/networks")
            .and_then(Value::as_array)
            .and_then(|n| n.iter().find(|n| n.get("pod").is_some()))
            .and_then(|n| n["name"].as_str())
            .map(str::to_string);
        let iface_index = pod_net.as_ref().and_then(|name| {
            vmi.pointer("/status/interfaces").and_then(Value::as_array)?.iter().position(|i| i["name"] == name.as_str())
        });
        let old_ip = iface_index
            .and_then(|i| vmi.pointer(&format!("/status/interfaces/{i}/ipAddress")).and_then(Value::as_str))
            .map(str::to_string);
        let target_ip = target.pointer("/status/podIP").and_then(Value::as_str).map(str::to_string);
        let new_ip = if self.behaviour.ip_change { target_ip.clone().or(old_ip.clone()) } else { old_ip.clone() };
        self.ctl.record_switchover(SwitchoverEvent {
            namespace: self.ns.clone(),
            vmi: self.vmi_name.clone(),
            vmim: self.name.clone(),
            migration_uid: self.uid.clone(),
            source_node: vmi.pointer("/status/nodeName").and_then(Value::as_str).unwrap_or_default().to_string(),
            target_node: target_node.clone(),
            source_pod: source_pod.to_string(),
            target_pod: target_name.clone(),
            old_ip: old_ip.clone(),
            new_ip: new_ip.clone(),
            at: paused_at,
            guest_pause_ms: pause_ms,
            outage_ms: self.behaviour.outage_ms.clone(),
        });
        lock(&self.ctl.metrics).complete(&self.ns, &self.vmi_name);
        self.store().clock().sleep(Duration::from_millis(pause_ms)).await;
        let now_ts = self.store().clock().now();
        let now = format_time(now_ts);
        self.log(source_pod, vmi, "info", "Live migration succeeded.", RESULT_POS, now_ts);
        self.write_migration_state(|ms| {
            ms["endTimestamp"] = json!(now);
            ms["targetNodeDomainDetected"] = json!(true);
            ms["targetNodeDomainReadyTimestamp"] = json!(now);
        })?;
        let vmi_after = self.write_vmi(|v| {
            v["status"]["migrationState"]["completed"] = json!(true);
            v["status"]["nodeName"] = json!(target_node);
            set_label(v, NODE_NAME_LABEL, &target_node);
            v["status"]["migrationTransport"] = json!("Unix");
            if let Some(s) = v["status"].as_object_mut() {
                s.remove("evacuationNodeName");
            }
            if let Some(conds) = v.pointer_mut("/status/conditions").and_then(Value::as_array_mut) {
                for c in conds.iter_mut().filter(|c| c["type"] == "Ready") {
                    c["lastTransitionTime"] = json!(now);
                }
            }
            if let (Some(i), Some(ip)) = (iface_index, new_ip.as_deref())
                && new_ip != old_ip
                && let Some(iface) = v.pointer_mut(&format!("/status/interfaces/{i}"))
            {
                iface["ipAddress"] = json!(ip);
                match iface.get_mut("ipAddresses").and_then(Value::as_array_mut) {
                    Some(a) if !a.is_empty() => a[0] = json!(ip),
                    _ => iface["ipAddresses"] = json!([ip]),
                }
            }
            true
        })?;
        self.vmi_event(
            &vmi_after,
            "Normal",
            "Migrated",
            &format!("The VirtualMachineInstance migrated to node {target_node}."),
        );
        let go_now = launcher::go_time_string(now_ts);
        self.write_target(|p| {
            set_annotation(p, TARGET_READY_ANNOTATION, &go_now);
            launcher::mark_ready(p, &now);
            true
        })?;
        self.event("Normal", "SuccessfulMigration", "Source node reported migration succeeded");
        self.set_phase("Succeeded")?;
        self.finalize_quietly();
        self.retire_source_pod(source_pod).await;
        Err(End::Done)
    }

    /// The source pod's compute container exits, then the pod object goes and leaves `activePods`.
    async fn retire_source_pod(&self, source_pod: &str) {
        let now = self.now();
        let pod = objects::update(self.store(), &PODS, Some(&self.ns), source_pod, |p| {
            launcher::terminate(p, &now);
            true
        });
        let Ok(pod) = pod else { return };
        self.store().clock().sleep(Duration::from_secs(2)).await;
        let uid = meta(&pod, "uid").to_string();
        if let Err(e) = self.store().delete(&PODS, Some(&self.ns), source_pod, false)
            && e.code != 404
        {
            tracing::warn!(%e, pod = source_pod, "could not delete the source pod");
        }
        let _ = self.write_vmi(|v| {
            v.pointer_mut("/status/activePods").and_then(Value::as_object_mut).and_then(|m| m.remove(&uid)).is_some()
        });
    }

    /// A deletion while Running: KubeVirt asks the source to cancel the libvirt job.
    async fn abort_running(&mut self) -> Step {
        self.note_abort()?;
        self.write_migration_state(|ms| ms["abortRequested"] = json!(true))?;
        self.event("Normal", "SuccessfulAbortMigration", "Migration is ready to be canceled by virt-handler.");
        self.store().clock().sleep(Duration::from_millis(200)).await;
        self.write_migration_state(|ms| ms["abortStatus"] = json!("Aborting"))?;
        self.store().clock().sleep(Duration::from_millis(800)).await;
        self.fail_post_handoff(CANCELED_BY_CLIENT, Some("Succeeded")).await
    }

    /// The source reports the migration failed: VMI migrationState; a moment later the controller sees it: VMIM
    /// Failed, target pod gone.
    async fn fail_post_handoff(&mut self, reason: &str, abort_status: Option<&str>) -> Step {
        let now = self.now();
        let vmi = self.write_migration_state(|ms| {
            ms["completed"] = json!(true);
            ms["failed"] = json!(true);
            ms["failureReason"] = json!(reason);
            ms["endTimestamp"] = json!(now);
            if let Some(a) = abort_status {
                ms["abortStatus"] = json!(a);
            }
        })?;
        lock(&self.ctl.metrics).complete(&self.ns, &self.vmi_name);
        let failed = format!("VirtualMachineInstance migration uid {} failed. reason:{reason}", self.uid);
        self.vmi_event(&vmi, "Warning", "Migrated", &failed);
        let target_uid = self.target().ok().map(|p| meta(&p, "uid").to_string());
        self.store().clock().sleep(Duration::from_secs(1)).await;
        self.delete_target();
        self.event("Warning", "FailedMigration", "source node reported migration failed");
        self.set_phase("Failed")?;
        if let Some(uid) = target_uid {
            let _ = self.write_vmi(|v| {
                v.pointer_mut("/status/activePods")
                    .and_then(Value::as_object_mut)
                    .and_then(|m| m.remove(&uid))
                    .is_some()
            });
        }
        self.finalize_quietly();
        Err(End::Done)
    }

    /// Deleted before the handoff: target pod deleted, condition, Failed.
    fn cancel_pre_handoff(&mut self) -> Step {
        self.note_abort()?;
        self.fail_pre_handoff("Migration failed due to being canceled")
    }

    /// Failed before the handoff (the VMI never saw this migration).
    fn fail_pre_handoff(&mut self, msg: &str) -> Step {
        self.delete_target();
        self.event("Warning", "FailedMigration", msg);
        self.set_phase("Failed")?;
        self.finalize_quietly();
        Err(End::Done)
    }

    fn finalize_quietly(&self) {
        match self.finalize() {
            Ok(()) | Err(End::Done) | Err(End::Gone) | Err(End::VmiGone) | Err(End::TargetGone) => {}
            Err(End::Api(e)) => tracing::warn!(%e, vmim = self.name, "could not finalize the migration"),
        }
        self.ctl.wake.notify_waiters();
    }

    /// A final VMIM: the VMI's migrationState is copied in, the finalizer removed, old final VMIMs collected.
    fn finalize(&self) -> Step {
        let state = self
            .store()
            .get(&VMIS, Some(&self.ns), &self.vmi_name)
            .ok()
            .and_then(|v| v.pointer("/status/migrationState").cloned())
            .filter(|ms| ms.get("migrationUid").and_then(Value::as_str) == Some(self.uid.as_str()));
        self.write_vmim(|m| {
            let mut changed = false;
            if let Some(s) = &state
                && m.pointer("/status/migrationState") != Some(s)
            {
                m["status"]["migrationState"] = s.clone();
                changed = true;
            }
            if let Some(f) = m.pointer_mut("/metadata/finalizers").and_then(Value::as_array_mut) {
                let before = f.len();
                f.retain(|x| x != MIGRATION_FINALIZER);
                changed |= f.len() != before;
            }
            changed
        })?;
        self.collect_garbage();
        Ok(())
    }

    /// Keeps only the newest five final VMIMs of the VMI.
    fn collect_garbage(&self) {
        let mut done: Vec<Value> = self
            .store()
            .list(&VMIMS, Some(&self.ns))
            .0
            .into_iter()
            .filter(|m| {
                m.pointer("/metadata/labels").and_then(|l| l.get(VMI_NAME_LABEL)).and_then(Value::as_str)
                    == Some(self.vmi_name.as_str())
                    && is_final_phase(Some(phase(m)))
            })
            .collect();
        // Newest first: by creation, then (same second) by when they became final.
        let finished = |m: &Value| {
            m.pointer("/status/phaseTransitionTimestamps")
                .and_then(Value::as_array)
                .and_then(|t| t.last())
                .and_then(|t| t["phaseTransitionTimestamp"].as_str())
                .unwrap_or_default()
                .to_string()
        };
        done.sort_by(|a, b| {
            (meta(b, "creationTimestamp"), finished(b), meta(b, "name")).cmp(&(
                meta(a, "creationTimestamp"),
                finished(a),
                meta(a, "name"),
            ))
        });
        for old in done.iter().skip(FINALIZED_TO_KEEP) {
            if let Err(e) = self.store().delete(&VMIMS, Some(&self.ns), meta(old, "name"), false)
                && e.code != 404
            {
                tracing::warn!(%e, vmim = meta(old, "name"), "could not collect a final migration");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_timeout_uses_decimal_gigabytes_rounded_up() {
        let vmi: Value = serde_json::from_str(include_str!("../../../testdata/kubevirt/vmi-running.json")).unwrap();
        assert_eq!(completion_timeout_s(&vmi, 150.0), 750.0);
        let small = json!({"spec": {"domain": {"resources": {"requests": {"memory": "1G"}}}}});
        assert_eq!(completion_timeout_s(&small, 150.0), 150.0);
    }
}
