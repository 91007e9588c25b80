//! The follower: a state machine fed [`Event`]s about one migration (the VMIM, the VMI, progress samples, facts,
//! abort requests) producing [`UiMessage`]s and, at the end, an [`Outcome`] and a [`MigrationResult`].
//!
//! Rules it keeps (KubeVirt v1.5, reference `kubevirt.md` §2–3, §8):
//! - the VMI's `status.migrationState` belongs to this migration only when `migrationUid` equals the VMIM's uid
//!   (the VMI keeps the previous migration's state until the next handoff);
//! - watch events may repeat or arrive late: a VMIM observation that went backwards (fewer phase transitions, or
//!   no longer final) is ignored, and so is a VMI whose state for this migration went from completed to not;
//! - a VMIM that disappears (watch `DELETED`, which carries the last state, or a relist without it) before it is
//!   final was deleted: an abort by us when we asked for it, otherwise by someone else; the final word then comes
//!   from the VMI's migrationState for this uid, or, when the handoff never happened, there is nothing to wait for.
//!
//! No clock and no I/O: time is passed in (`now`, the follower's own monotonic time since it started).

use crate::exit::ExitCode;
use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::kubevirt::{
    MigrationPhase, MigrationState, VirtualMachineInstance, VirtualMachineInstanceMigration, condition,
};

use super::progress::{ProgressSample, ProgressTracker, ProgressView};
use super::stuck::{self, Facts, FactsQuery, RunningWarningKind, StuckThresholds};

type Vmim = VirtualMachineInstanceMigration;
type Vmi = VirtualMachineInstance;

/// VMIM condition KubeVirt adds when the VMIM is deleted before it is final.
pub const CONDITION_ABORT_REQUESTED: &str = "migrationAbortRequested";
/// VMIM condition KubeVirt adds when the target pod is rejected by a ResourceQuota.
pub const CONDITION_REJECTED_BY_QUOTA: &str = "migrationRejectedByResourceQuota";

/// Why we asked KubeVirt to abort (by deleting the VMIM).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AbortCause {
    /// Ctrl-C during `run`.
    Interrupt,
    /// `run --timeout` reached.
    Timeout,
    /// `cancel VM`.
    Cancel,
}

/// Who aborted a migration that ended as [`Outcome::Aborted`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AbortedBy {
    /// `kubectl vmmigrate cancel`.
    Cancel,
    /// Someone or something else deleted the VMIM.
    SomeoneElse,
}

/// Why following stopped before the migration ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `--timeout` reached and `--no-abort-on-timeout` given.
    TimeoutWithoutAbort,
    /// The second Ctrl-C: leave at once.
    Detached,
    /// We aborted (timeout, cancel) but KubeVirt did not report the outcome in time.
    AbortUnconfirmed,
}

/// How a migration ended, as far as this command is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// The migration failed; `reason` is KubeVirt's, verbatim.
    Failed {
        reason: String,
    },
    /// The VMIM was deleted (cancelled) by `cancel` or by someone else.
    Aborted {
        by: AbortedBy,
        abort_status: Option<String>,
    },
    /// `--timeout` reached; `aborted` tells whether we aborted the migration.
    TimedOut {
        aborted: bool,
        abort_status: Option<String>,
    },
    /// Ctrl-C; `detached` when the second Ctrl-C left before the abort outcome was known.
    Interrupted {
        detached: bool,
        abort_status: Option<String>,
    },
}

impl Outcome {
    /// The `outcome` string of the JSON contract.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "Succeeded",
            Outcome::Failed { .. } => "Failed",
            Outcome::Aborted { .. } => "Aborted",
            Outcome::TimedOut { .. } => "TimedOut",
            Outcome::Interrupted { .. } => "Interrupted",
        }
    }

    /// Exit code of `run`: succeeded, failed, aborted, timed out, interrupted.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Outcome::Succeeded => ExitCode::Success,
            Outcome::Failed { .. } => ExitCode::MigrationFailed,
            Outcome::Aborted { .. } => ExitCode::MigrationAborted,
            Outcome::TimedOut { .. } => ExitCode::TimedOut,
            Outcome::Interrupted { .. } => ExitCode::Interrupted,
        }
    }
}

/// Something that happened, fed to [`Follower::handle`].
#[derive(Clone, Debug)]
pub enum Event {
    /// The VMIM as observed (watch ADDED/MODIFIED or list).
    Vmim(Box<Vmim>),
    /// Watch DELETED: the VMIM's last state.
    VmimDeleted(Box<Vmim>),
    /// A relist no longer contains the VMIM (deleted while the watch was down; last state unknown).
    VmimGone,
    /// The VMI as observed.
    Vmi(Box<Vmi>),
    /// The VMI no longer exists.
    VmiGone,
    /// A `Migration info` sample from the source virt-launcher log (any uid; others are ignored).
    Progress(Box<ProgressSample>),
    /// The source virt-launcher log cannot be followed; the reason in words.
    LogUnavailable(String),
    /// We deleted the VMIM to abort the migration.
    AbortRequested(AbortCause),
    /// Facts the follower asked for.
    Facts(Facts),
    /// Time passes (for stuck detection).
    Tick,
}

/// One message for the user.
#[derive(Clone, Debug, PartialEq)]
pub enum UiMessage {
    /// Following this VMIM (created or attached).
    Following {
        name: String,
        attached: bool,
    },
    /// A phase was reached. `previous` is the phase it left and its duration by the cluster's timestamps.
    Phase {
        phase: String,
        at: Option<String>,
        previous: Option<(String, Option<i64>)>,
    },
    /// A progress sample.
    Progress(Box<ProgressView>),
    /// A phase lasts too long: why, in the cluster's words.
    Stuck(String),
    /// Information (abort requested, logs unavailable, …).
    Note(String),
    Warning(String),
}

/// One phase and how long it lasted by the cluster's timestamps (second precision).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseEntry {
    pub phase: String,
    /// When the phase was reached (RFC 3339), if the cluster recorded it.
    pub at: Option<String>,
    /// Seconds until the next phase; `null` for the last one.
    pub duration_seconds: Option<i64>,
}

/// The addresses of one VMI interface before and after the migration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceAddresses {
    pub name: String,
    pub before: Vec<String>,
    pub after: Vec<String>,
    pub changed: bool,
}

/// The VMI after the migration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VmiAfter {
    pub phase: Option<String>,
    pub node: Option<String>,
    pub ready: bool,
}

/// The documented result object (`-o json|yaml`). Every timestamp is the cluster's own (RFC 3339).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationResult {
    pub namespace: String,
    /// The VM (= VMI) name.
    pub vm: String,
    /// The VMIM's name and uid (absent when none was created, e.g. not migratable).
    pub migration: Option<String>,
    pub migration_uid: Option<String>,
    /// `Succeeded`, `Failed`, `Aborted`, `TimedOut`, `Interrupted`, or `InProgress` (status of a running one).
    pub outcome: String,
    /// The VMIM's last phase.
    pub phase: Option<String>,
    pub source_node: Option<String>,
    pub target_node: Option<String>,
    /// `--target-node`, when given.
    pub requested_target_node: Option<String>,
    pub source_pod: Option<String>,
    pub target_pod: Option<String>,
    /// `PreCopy`, `PostCopy` or `Paused`.
    pub mode: Option<String>,
    /// The VMIM's creation (first phase) and final phase timestamps, and the seconds between them.
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub duration_seconds: Option<i64>,
    /// The libvirt job's start and end (`migrationState.startTimestamp/endTimestamp`).
    pub transfer_started_at: Option<String>,
    pub transfer_ended_at: Option<String>,
    /// The switchover: `migrationState.targetNodeDomainReadyTimestamp` (the target domain is running; KubeVirt
    /// documents it as the trigger for CNI fail-over), else `transferEndedAt`.
    pub switchover_at: Option<String>,
    pub phases: Vec<PhaseEntry>,
    pub ip_addresses: Vec<InterfaceAddresses>,
    /// True when any interface's addresses changed.
    pub ip_changed: bool,
    pub vmi: Option<VmiAfter>,
    /// KubeVirt's failure reason, verbatim.
    pub failure_reason: Option<String>,
    pub abort_requested: bool,
    /// `interrupt`, `timeout`, `cancel` (this tool) or `someone-else`.
    pub aborted_by: Option<String>,
    /// `migrationState.abortStatus`: `Aborting`, `Succeeded` or `Failed`.
    pub abort_status: Option<String>,
    /// The last memory-transfer sample from the source virt-launcher log.
    pub last_progress: Option<ProgressSample>,
    /// Why progress samples were not available, if they were not.
    pub progress_unavailable: Option<String>,
    pub warnings: Vec<String>,
}

/// The state machine. Create it with [`Follower::new`], bind it to a VMIM with [`Follower::adopt`], feed
/// [`Event`]s with [`Follower::handle`] until [`Follower::outcome`] is `Some`.
#[derive(Debug)]
pub struct Follower {
    namespace: String,
    vm: String,
    requested_target_node: Option<String>,
    thresholds: StuckThresholds,
    name: Option<String>,
    uid: Option<String>,
    vmim: Option<Vmim>,
    deleted: bool,
    vmi_before: Option<Vmi>,
    vmi: Option<Vmi>,
    vmi_gone: bool,
    /// The VMI's migrationState for this uid, the most advanced seen.
    state: Option<MigrationState>,
    reported_phases: Vec<PhaseEntry>,
    phase_seen_at: Duration,
    now: Duration,
    ours: Option<AbortCause>,
    stopped: Option<StopReason>,
    progress: ProgressTracker,
    progress_unavailable: Option<String>,
    asked: HashSet<(String, FactsQuery)>,
    /// The phase and the follower time of the last stuck-detection query.
    stuck_asked: Option<(MigrationPhase, Duration)>,
    /// The last stuck explanation said (phase and the reason without its "Phase for N s" prefix).
    stuck_said: Option<(MigrationPhase, String)>,
    failure_events: Option<Vec<String>>,
    said: HashSet<String>,
    running_said: HashSet<RunningWarningKind>,
    warnings: Vec<String>,
}

/// What [`Follower::handle`] produced.
#[derive(Debug, Default, PartialEq)]
pub struct Step {
    pub messages: Vec<UiMessage>,
    /// Facts the shell should read and feed back as [`Event::Facts`].
    pub queries: Vec<FactsQuery>,
}

impl Follower {
    /// A follower for `namespace/vm`. `vmi_before` is the VMI as seen before the migration (its IPs are the
    /// "before" addresses); `requested_target_node` is `--target-node`.
    pub fn new(namespace: &str, vm: &str, vmi_before: Option<Vmi>, requested_target_node: Option<String>) -> Self {
        Self {
            namespace: namespace.to_string(),
            vm: vm.to_string(),
            requested_target_node,
            thresholds: StuckThresholds::default(),
            name: None,
            uid: None,
            vmim: None,
            deleted: false,
            vmi: vmi_before.clone(),
            vmi_before,
            vmi_gone: false,
            state: None,
            reported_phases: Vec::new(),
            phase_seen_at: Duration::ZERO,
            now: Duration::ZERO,
            ours: None,
            stopped: None,
            progress: ProgressTracker::default(),
            progress_unavailable: None,
            asked: HashSet::new(),
            stuck_asked: None,
            stuck_said: None,
            failure_events: None,
            said: HashSet::new(),
            running_said: HashSet::new(),
            warnings: Vec::new(),
        }
    }

    /// Overrides the stuck-detection thresholds.
    pub fn with_thresholds(mut self, thresholds: StuckThresholds) -> Self {
        self.thresholds = thresholds;
        self
    }

    /// Binds the follower to a VMIM (the one just created, or the one in flight with `--attach`).
    pub fn adopt(&mut self, now: Duration, vmim: Vmim, attached: bool) -> Step {
        self.name = vmim.metadata.name.clone();
        self.uid = vmim.metadata.uid.clone();
        self.phase_seen_at = now;
        let mut step = Step::default();
        step.messages.push(UiMessage::Following { name: self.name.clone().unwrap_or_default(), attached });
        let more = self.handle(now, Event::Vmim(Box::new(vmim)));
        step.messages.extend(more.messages);
        step.queries.extend(more.queries);
        step
    }

    /// The VMIM's name, once adopted.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The VMIM's uid, once adopted.
    pub fn uid(&self) -> Option<&str> {
        self.uid.as_deref()
    }

    /// The source virt-launcher pod, once known (the VMIM records it while Pending).
    pub fn source_pod(&self) -> Option<&str> {
        self.vmim_state()
            .and_then(|s| s.source_pod.as_deref())
            .or_else(|| self.state.as_ref().and_then(|s| s.source_pod.as_deref()))
    }

    /// The VMIM's current phase.
    pub fn phase(&self) -> Option<MigrationPhase> {
        let p = self.vmim.as_ref()?.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
        MigrationPhase::parse(p)
    }

    /// Whether we asked for an abort.
    pub fn abort_cause(&self) -> Option<AbortCause> {
        self.ours
    }

    /// Stops following (timeout without abort, the second Ctrl-C, an abort not confirmed in time).
    pub fn stop(&mut self, reason: StopReason) {
        self.stopped = Some(reason);
    }

    /// Why following stopped early, if it did.
    pub fn stopped(&self) -> Option<StopReason> {
        self.stopped
    }

    /// Feeds one event.
    pub fn handle(&mut self, now: Duration, event: Event) -> Step {
        self.now = self.now.max(now);
        let mut step = Step::default();
        match event {
            Event::Vmim(v) => self.on_vmim(*v, false, &mut step),
            Event::VmimDeleted(v) => self.on_vmim(*v, true, &mut step),
            Event::VmimGone => self.deleted = self.uid.is_some(),
            Event::Vmi(v) => self.on_vmi(*v),
            Event::VmiGone => {
                self.vmi_gone = true;
                if self.say_once("vmi-gone") {
                    let text = format!("the VMI {}/{} was deleted", self.namespace, self.vm);
                    step.messages.push(UiMessage::Warning(text));
                }
            }
            Event::Progress(sample) => self.on_progress(*sample, &mut step),
            Event::LogUnavailable(why) => {
                if self.progress_unavailable.is_none() {
                    step.messages
                        .push(UiMessage::Note(format!("memory progress unavailable: {why}; showing phases only")));
                    self.progress_unavailable = Some(why);
                }
            }
            Event::AbortRequested(cause) => {
                self.ours = Some(cause);
                let what = match cause {
                    AbortCause::Interrupt => "interrupted",
                    AbortCause::Timeout => "timeout reached",
                    AbortCause::Cancel => "cancel requested",
                };
                step.messages.push(UiMessage::Note(format!(
                    "{what}: deleted VMIM {} to abort the migration; waiting for KubeVirt to report the abort",
                    self.name.as_deref().unwrap_or("?")
                )));
            }
            Event::Facts(f) => self.on_facts(f, &mut step),
            Event::Tick => {}
        }
        self.note_foreign_abort(&mut step);
        self.check_stuck(&mut step);
        if self.needs_failure_events() && self.ask(FactsQuery::FailureEvents) {
            step.queries.push(FactsQuery::FailureEvents);
        }
        step
    }

    fn on_vmim(&mut self, v: Vmim, deleted: bool, step: &mut Step) {
        if self.uid.is_none() || v.metadata.uid != self.uid {
            return;
        }
        if let Some(cur) = &self.vmim
            && progress_key(&v) < progress_key(cur)
        {
            if deleted {
                self.deleted = true;
            }
            return;
        }
        self.vmim = Some(v);
        self.report_phases(step);
        let quota = self
            .vmim_condition(CONDITION_REJECTED_BY_QUOTA)
            .map(|c| c.message.clone().or_else(|| c.reason.clone()).unwrap_or_default());
        if let Some(why) = quota
            && self.say_once("quota")
        {
            step.messages.push(UiMessage::Stuck(format!("the target pod was rejected by a ResourceQuota: {why}")));
        }
        if deleted {
            self.deleted = true;
        }
    }

    /// Says once that someone else deleted the VMIM (an abort we did not ask for).
    fn note_foreign_abort(&mut self, step: &mut Step) {
        let foreign = self.ours.is_none()
            && self.uid.is_some()
            && (self.cluster_abort_requested() || (self.deleted && !self.vmim_final()));
        if foreign && self.say_once("someone-else") {
            step.messages.push(UiMessage::Warning(format!(
                "VMIM {} was deleted by someone else: KubeVirt is aborting the migration",
                self.name.as_deref().unwrap_or("?")
            )));
        }
    }

    fn on_vmi(&mut self, v: Vmi) {
        self.vmi_gone = false;
        let theirs = v.status.as_ref().and_then(|s| s.migration_state.clone());
        if let (Some(uid), Some(st)) = (&self.uid, theirs)
            && st.migration_uid.as_deref() == Some(uid.as_str())
        {
            let stale = self.state.as_ref().is_some_and(|cur| state_key(&st) < state_key(cur));
            if stale {
                return;
            }
            self.state = Some(st);
        }
        if self.vmi_before.is_none() {
            self.vmi_before = Some(v.clone());
        }
        self.vmi = Some(v);
    }

    fn on_progress(&mut self, sample: ProgressSample, step: &mut Step) {
        if self.uid.as_deref() != Some(sample.migration_uid.as_str()) {
            return;
        }
        let Some(view) = self.progress.observe(sample) else { return };
        let config = self.state.as_ref().and_then(|s| s.migration_configuration.as_ref());
        let memory = self.guest_memory_bytes();
        for w in stuck::running_warnings(&view, config, memory) {
            if self.running_said.insert(w.kind) {
                step.messages.push(UiMessage::Stuck(w.text));
            }
        }
        step.messages.push(UiMessage::Progress(Box::new(view)));
    }

    fn on_facts(&mut self, facts: Facts, step: &mut Step) {
        let phase = self.phase().unwrap_or(MigrationPhase::Unset);
        let in_phase = self.now.saturating_sub(self.phase_seen_at);
        match facts {
            Facts::MigrationSlots(s) if !self.vmim_final() => {
                self.say_stuck(phase, stuck::explain_pending(in_phase, &s), step);
            }
            Facts::TargetPod(p) if !self.vmim_final() => {
                self.say_stuck(phase, stuck::explain_target_pod(phase, in_phase, p.as_ref()), step);
            }
            Facts::FailureEvents(events) => self.failure_events = Some(events),
            Facts::Unreadable(FactsQuery::FailureEvents, why) => {
                self.failure_events = Some(Vec::new());
                self.warnings.push(format!("could not read the VMIM's events: {why}"));
            }
            Facts::Unreadable(q, why) if !self.vmim_final() => {
                let text = format!("{phase} for {} s: could not read why ({q:?}): {why}", in_phase.as_secs());
                self.say_stuck(phase, text, step);
            }
            _ => {}
        }
    }

    /// Says a stuck explanation unless the same reason was already said in this phase.
    fn say_stuck(&mut self, phase: MigrationPhase, text: String, step: &mut Step) {
        let reason = text.split_once(": ").map_or(text.as_str(), |(_, r)| r).to_string();
        if self.stuck_said.as_ref() != Some(&(phase, reason.clone())) {
            self.stuck_said = Some((phase, reason));
            step.messages.push(UiMessage::Stuck(text));
        }
    }

    fn check_stuck(&mut self, step: &mut Step) {
        if self.uid.is_none() || self.vmim_final() || self.deleted || self.ours.is_some() {
            return;
        }
        let phase = self.phase().unwrap_or(MigrationPhase::Unset);
        let in_phase = self.now.saturating_sub(self.phase_seen_at);
        if let Some((q, every)) = stuck::overdue(phase, in_phase, &self.thresholds) {
            let due = match self.stuck_asked {
                Some((p, at)) if p == phase => self.now.saturating_sub(at) >= every,
                _ => true,
            };
            if due {
                self.stuck_asked = Some((phase, self.now));
                step.queries.push(q);
            }
        }
        // Without progress samples, the time seen in Running still tells when the completion timeout nears.
        if phase == MigrationPhase::Running
            && self.progress.samples() == 0
            && let Some(memory) = self.guest_memory_bytes()
        {
            let config = self.state.as_ref().and_then(|s| s.migration_configuration.as_ref());
            if let Some(w) = stuck::completion_warning(in_phase.as_secs(), config, memory)
                && self.running_said.insert(w.kind)
            {
                step.messages.push(UiMessage::Stuck(w.text));
            }
        }
    }

    /// Records a query for the current phase; false if it was already asked in this phase.
    fn ask(&mut self, q: FactsQuery) -> bool {
        let phase = self.phase().map(|p| p.as_str().to_string()).unwrap_or_default();
        self.asked.insert((phase, q))
    }

    fn say_once(&mut self, key: &str) -> bool {
        self.said.insert(key.to_string())
    }

    fn report_phases(&mut self, step: &mut Step) {
        let entries = self.phase_entries();
        for (i, e) in entries.iter().enumerate() {
            if i < self.reported_phases.len() {
                continue;
            }
            let previous = i.checked_sub(1).and_then(|p| entries.get(p)).map(|p| (p.phase.clone(), p.duration_seconds));
            step.messages.push(UiMessage::Phase { phase: e.phase.clone(), at: e.at.clone(), previous });
            self.phase_seen_at = self.now;
        }
        if entries.len() > self.reported_phases.len() {
            self.reported_phases = entries;
        }
    }

    /// The phases reached, from `phaseTransitionTimestamps` (plus the current phase if it is not listed yet).
    fn phase_entries(&self) -> Vec<PhaseEntry> {
        let Some(status) = self.vmim.as_ref().and_then(|v| v.status.as_ref()) else { return Vec::new() };
        let mut list: Vec<(String, Option<String>)> = status
            .phase_transition_timestamps
            .iter()
            .map(|t| (t.phase.clone(), Some(t.phase_transition_timestamp.clone()).filter(|s| !s.is_empty())))
            .collect();
        if let Some(p) = status.phase.as_deref().filter(|p| !p.is_empty())
            && list.last().map(|(last, _)| last.as_str()) != Some(p)
        {
            list.push((p.to_string(), None));
        }
        let times: Vec<Option<Timestamp>> = list.iter().map(|(_, at)| at.as_deref().and_then(parse_ts)).collect();
        list.iter()
            .enumerate()
            .map(|(i, (phase, at))| PhaseEntry {
                phase: phase.clone(),
                at: at.clone(),
                duration_seconds: match (times[i], times.get(i + 1).copied().flatten()) {
                    (Some(a), Some(b)) => Some(b.as_second() - a.as_second()),
                    _ => None,
                },
            })
            .collect()
    }

    fn vmim_state(&self) -> Option<&MigrationState> {
        self.vmim.as_ref()?.status.as_ref()?.migration_state.as_ref()
    }

    /// The full migrationState of this migration: the VMIM's once KubeVirt copied it, else the VMI's.
    fn full_state(&self) -> Option<&MigrationState> {
        let uid = self.uid.as_deref()?;
        self.vmim_state().filter(|s| s.migration_uid.as_deref() == Some(uid)).or(self.state.as_ref())
    }

    fn vmim_condition(&self, type_: &str) -> Option<&crate::kubevirt::Condition> {
        let c = condition(&self.vmim.as_ref()?.status.as_ref()?.conditions, type_)?;
        (c.status == "True").then_some(c)
    }

    fn vmim_final(&self) -> bool {
        self.phase().is_some_and(MigrationPhase::is_final)
    }

    /// Whether the cluster shows an abort request (deletionTimestamp, the condition, or abortRequested).
    fn cluster_abort_requested(&self) -> bool {
        self.vmim.as_ref().is_some_and(|v| v.metadata.deletion_timestamp.is_some())
            || self.vmim_condition(CONDITION_ABORT_REQUESTED).is_some()
            || self.full_state().is_some_and(|s| s.abort_requested)
    }

    fn failure_reason(&self) -> Option<String> {
        self.full_state()
            .and_then(|s| s.failure_reason.clone())
            .filter(|r| !r.is_empty())
            .or_else(|| self.failure_events.as_ref().and_then(|e| e.last().cloned()))
    }

    fn needs_failure_events(&self) -> bool {
        self.phase() == Some(MigrationPhase::Failed)
            && self.ours.is_none()
            && !self.cluster_abort_requested()
            && self.failure_events.is_none()
            && self.full_state().and_then(|s| s.failure_reason.as_deref()).is_none_or(str::is_empty)
    }

    fn abort_status(&self) -> Option<String> {
        self.full_state().and_then(|s| s.abort_status.clone())
    }

    fn guest_memory_bytes(&self) -> Option<u64> {
        let domain = &self.vmi.as_ref()?.spec.domain;
        let q = domain
            .memory
            .as_ref()
            .and_then(|m| m.guest.as_ref())
            .or_else(|| domain.resources.requests.as_ref().and_then(|r| r.get("memory")))?;
        crate::quantity::bytes(q)
    }

    /// The outcome once known; `None` while the migration is still going (or the last word is awaited).
    pub fn outcome(&self) -> Option<Outcome> {
        let ours = |abort_status: Option<String>| {
            self.ours.map(|cause| match cause {
                AbortCause::Interrupt => Outcome::Interrupted { detached: false, abort_status: abort_status.clone() },
                AbortCause::Timeout => Outcome::TimedOut { aborted: true, abort_status: abort_status.clone() },
                AbortCause::Cancel => Outcome::Aborted { by: AbortedBy::Cancel, abort_status: abort_status.clone() },
            })
        };
        if let Some(reason) = self.stopped {
            return Some(match reason {
                StopReason::TimeoutWithoutAbort => Outcome::TimedOut { aborted: false, abort_status: None },
                StopReason::Detached => Outcome::Interrupted { detached: true, abort_status: self.abort_status() },
                StopReason::AbortUnconfirmed => match self.ours {
                    Some(AbortCause::Cancel) => {
                        Outcome::Aborted { by: AbortedBy::Cancel, abort_status: self.abort_status() }
                    }
                    Some(AbortCause::Interrupt) => {
                        Outcome::Interrupted { detached: true, abort_status: self.abort_status() }
                    }
                    _ => Outcome::TimedOut { aborted: true, abort_status: self.abort_status() },
                },
            });
        }
        self.uid.as_ref()?;
        let abort_status = self.abort_status();
        match self.phase() {
            Some(MigrationPhase::Succeeded) => return Some(ours(abort_status).unwrap_or(Outcome::Succeeded)),
            Some(MigrationPhase::Failed) => {
                if let Some(o) = ours(abort_status.clone()) {
                    return Some(o);
                }
                if self.cluster_abort_requested() {
                    return Some(Outcome::Aborted { by: AbortedBy::SomeoneElse, abort_status });
                }
                if self.needs_failure_events() {
                    return None;
                }
                let reason = self
                    .failure_reason()
                    .unwrap_or_else(|| "the migration failed and KubeVirt recorded no reason".to_string());
                return Some(Outcome::Failed { reason });
            }
            _ => {}
        }
        if self.vmi_gone {
            // KubeVirt fails or deletes the VMIM of a VMI that is gone: wait for that, then say what happened.
            if !self.deleted {
                return None;
            }
            let reason = "the VMI was deleted during the migration".to_string();
            return Some(ours(abort_status).unwrap_or(Outcome::Failed { reason }));
        }
        if self.deleted {
            // Deleted before it was final: the VMI's state for this uid tells the end, if the handoff happened.
            match &self.state {
                Some(s) if !s.completed => return None,
                Some(s) if !s.failed => return Some(ours(abort_status).unwrap_or(Outcome::Succeeded)),
                _ => {}
            }
            return Some(
                ours(abort_status.clone()).unwrap_or(Outcome::Aborted { by: AbortedBy::SomeoneElse, abort_status }),
            );
        }
        None
    }

    /// Once the outcome is known: whether the VMI has not yet shown this migration's end (its watch event can
    /// arrive after the VMIM's, and KubeVirt copies the VMI's state into the VMIM only later). The shell then
    /// reads the VMI once more for the final state (abortStatus, failureReason, node, addresses).
    pub fn awaiting_vmi(&self) -> bool {
        self.stopped.is_none()
            && !self.vmi_gone
            && self.outcome().is_some()
            && !self.state.as_ref().is_some_and(|s| s.completed)
    }

    /// The result so far (complete once [`Follower::outcome`] is `Some`).
    pub fn result(&self) -> MigrationResult {
        let outcome = self.outcome();
        let state = self.full_state();
        let phases = self.phase_entries();
        let started_at = phases.first().and_then(|p| p.at.clone()).or_else(|| {
            self.vmim.as_ref().and_then(|v| v.metadata.creation_timestamp.as_ref()).map(|t| t.0.to_string())
        });
        let ended_at = phases.last().filter(|p| MigrationPhase::parse(&p.phase).is_some_and(MigrationPhase::is_final));
        let ended_at = ended_at.and_then(|p| p.at.clone());
        let duration_seconds = match (started_at.as_deref().and_then(parse_ts), ended_at.as_deref().and_then(parse_ts))
        {
            (Some(a), Some(b)) => Some(b.as_second() - a.as_second()),
            _ => None,
        };
        let ip_addresses = ip_changes(self.vmi_before.as_ref(), self.vmi.as_ref().filter(|_| !self.vmi_gone));
        let vmi = self.vmi.as_ref().filter(|_| !self.vmi_gone).and_then(|v| v.status.as_ref()).map(|s| VmiAfter {
            phase: s.phase.clone(),
            node: s.node_name.clone(),
            ready: condition(&s.conditions, "Ready").is_some_and(|c| c.status == "True"),
        });
        let mut warnings = self.warnings.clone();
        if outcome == Some(Outcome::Succeeded) {
            warnings.extend(self.success_checks(state, vmi.as_ref()));
        }
        if self.stopped == Some(StopReason::AbortUnconfirmed) {
            warnings.push(
                "KubeVirt did not report the abort's outcome in time: the migration may still be running".to_string(),
            );
        }
        if self.ours.is_some() && self.phase() == Some(MigrationPhase::Succeeded) {
            warnings.push("the migration completed before the abort took effect: the VM moved".to_string());
        }
        let aborted_by = match (&outcome, self.ours) {
            (_, Some(AbortCause::Interrupt)) => Some("interrupt"),
            (_, Some(AbortCause::Timeout)) => Some("timeout"),
            (_, Some(AbortCause::Cancel)) => Some("cancel"),
            (Some(Outcome::Aborted { by: AbortedBy::SomeoneElse, .. }), None) => Some("someone-else"),
            _ => None,
        };
        MigrationResult {
            namespace: self.namespace.clone(),
            vm: self.vm.clone(),
            migration: self.name.clone(),
            migration_uid: self.uid.clone(),
            outcome: outcome.as_ref().map(Outcome::name).unwrap_or("InProgress").to_string(),
            phase: self.phase().map(|p| p.as_str().to_string()),
            source_node: state
                .and_then(|s| s.source_node.clone())
                .or_else(|| self.vmi_before.as_ref().and_then(|v| v.status.as_ref()).and_then(|s| s.node_name.clone())),
            target_node: state.and_then(|s| s.target_node.clone()),
            requested_target_node: self.requested_target_node.clone(),
            source_pod: self.source_pod().map(str::to_string),
            target_pod: state.and_then(|s| s.target_pod.clone()),
            mode: state.and_then(|s| s.mode.clone()),
            started_at,
            ended_at,
            duration_seconds,
            transfer_started_at: state.and_then(|s| s.start_timestamp.clone()),
            transfer_ended_at: state.and_then(|s| s.end_timestamp.clone()),
            switchover_at: state
                .and_then(|s| s.target_node_domain_ready_timestamp.clone().or_else(|| s.end_timestamp.clone())),
            phases,
            ip_changed: ip_addresses.iter().any(|i| i.changed),
            ip_addresses,
            vmi,
            failure_reason: match &outcome {
                Some(Outcome::Failed { reason }) => Some(reason.clone()),
                _ => self.failure_reason(),
            },
            abort_requested: self.ours.is_some() || self.cluster_abort_requested(),
            aborted_by: aborted_by.map(str::to_string),
            abort_status: self.abort_status(),
            last_progress: self.progress.last().cloned(),
            progress_unavailable: self.progress_unavailable.clone(),
            warnings,
        }
    }

    /// What a successful migration must show (KubeVirt's own `ConfirmVMIPostMigration`): the VMI Running and Ready
    /// on the target node, and on the requested node if one was requested.
    fn success_checks(&self, state: Option<&MigrationState>, vmi: Option<&VmiAfter>) -> Vec<String> {
        let mut w = Vec::new();
        let target = state.and_then(|s| s.target_node.as_deref());
        match vmi {
            None => w.push("the VMI could not be read after the migration".to_string()),
            Some(v) => {
                if target.is_some() && v.node.as_deref() != target {
                    w.push(format!(
                        "the VMI reports node {} but the migration's target was {}",
                        v.node.as_deref().unwrap_or("(none)"),
                        target.unwrap_or("?")
                    ));
                }
                if v.phase.as_deref() != Some("Running") {
                    w.push(format!(
                        "the VMI is in phase {} after the migration",
                        v.phase.as_deref().unwrap_or("(none)")
                    ));
                }
                if !v.ready {
                    w.push("the VMI is not Ready after the migration".to_string());
                }
            }
        }
        if let (Some(want), Some(got)) = (self.requested_target_node.as_deref(), target)
            && want != got
        {
            w.push(format!("the VM landed on {got}, not on the requested node {want}"));
        }
        w
    }

    /// Whether the VM landed somewhere else than `--target-node` asked for.
    pub fn landed_elsewhere(&self) -> bool {
        match (self.requested_target_node.as_deref(), self.full_state().and_then(|s| s.target_node.as_deref())) {
            (Some(want), Some(got)) => want != got,
            _ => false,
        }
    }
}

/// Ordering of VMIM observations: final beats non-final, then more phase transitions, then a later phase, then
/// a deletion mark, then more conditions.
fn progress_key(v: &Vmim) -> (bool, usize, MigrationPhase, bool, usize) {
    let st = v.status.as_ref();
    let phase = st.and_then(|s| s.phase.as_deref()).and_then(MigrationPhase::parse).unwrap_or(MigrationPhase::Unset);
    (
        phase.is_final(),
        st.map(|s| s.phase_transition_timestamps.len()).unwrap_or(0),
        phase,
        v.metadata.deletion_timestamp.is_some(),
        st.map(|s| s.conditions.len()).unwrap_or(0),
    )
}

/// Ordering of one migration's VMI migrationState observations.
fn state_key(s: &MigrationState) -> (bool, bool, bool, bool, bool) {
    (
        s.completed,
        s.end_timestamp.is_some(),
        s.target_node_domain_ready_timestamp.is_some(),
        s.abort_status.is_some(),
        s.start_timestamp.is_some(),
    )
}

fn parse_ts(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

fn addresses(i: &crate::kubevirt::VmiNetworkInterface) -> Vec<String> {
    if i.ip_addresses.is_empty() { i.ip_address.iter().cloned().collect() } else { i.ip_addresses.clone() }
}

/// Per-interface addresses before and after; `changed` when the sets differ.
pub fn ip_changes(before: Option<&Vmi>, after: Option<&Vmi>) -> Vec<InterfaceAddresses> {
    let ifaces = |v: Option<&Vmi>| v.and_then(|v| v.status.as_ref()).map(|s| s.interfaces.clone()).unwrap_or_default();
    let (b, a) = (ifaces(before), ifaces(after));
    let mut names: Vec<String> = b.iter().chain(a.iter()).map(|i| i.name.clone()).collect();
    let mut seen = HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
        .into_iter()
        .map(|name| {
            let find = |l: &[crate::kubevirt::VmiNetworkInterface]| {
                l.iter().find(|i| i.name == name).map(addresses).unwrap_or_default()
            };
            let (before, after) = (find(&b), find(&a));
            let mut sb = before.clone();
            let mut sa = after.clone();
            sb.sort();
            sa.sort();
            InterfaceAddresses { changed: sb != sa, name, before, after }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = format!("{}/testdata/kubevirt/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn vmim(name: &str) -> Box<Vmim> {
        Box::new(fixture(name))
    }

    fn vmi(name: &str) -> Box<Vmi> {
        Box::new(fixture(name))
    }

    const PHASE_FILES: [&str; 7] = [
        "vmim-pending.json",
        "vmim-scheduling.json",
        "vmim-scheduled.json",
        "vmim-preparingtarget.json",
        "vmim-targetready.json",
        "vmim-running.json",
        "vmim-succeeded.json",
    ];

    fn t(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn follower() -> Follower {
        Follower::new("tenant-root", "vm-instance-haos", Some(*vmi("vmi-running.json")), None)
    }

    fn phases_of(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .flat_map(|s| &s.messages)
            .filter_map(|m| match m {
                UiMessage::Phase { phase, .. } => Some(phase.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn successful_migration_gives_the_result_from_cluster_timestamps() {
        let mut f = follower();
        let mut steps = vec![f.adopt(t(0), *vmim("vmim-created.json"), false)];
        for (i, file) in PHASE_FILES.iter().enumerate() {
            steps.push(f.handle(t(i as u64), Event::Vmim(vmim(file))));
            if *file == "vmim-running.json" {
                steps.push(f.handle(t(i as u64), Event::Vmi(vmi("vmi-migrating.json"))));
                assert_eq!(f.outcome(), None);
            }
        }
        assert_eq!(
            phases_of(&steps),
            ["Pending", "Scheduling", "Scheduled", "PreparingTarget", "TargetReady", "Running", "Succeeded"]
        );
        assert!(f.awaiting_vmi(), "the VMI still shows the migration running");
        f.handle(t(8), Event::Vmi(vmi("vmi-migrated.json")));
        assert!(!f.awaiting_vmi());
        assert_eq!(f.outcome(), Some(Outcome::Succeeded));
        let r = f.result();
        let durations: Vec<Option<i64>> = r.phases.iter().map(|p| p.duration_seconds).collect();
        assert_eq!(durations, [Some(1), Some(7), Some(0), Some(1), Some(1), Some(12), None]);
        assert_eq!(r.outcome, "Succeeded");
        assert_eq!(r.migration.as_deref(), Some("kubevirt-migrate-vm-8k4tn"));
        assert_eq!(r.source_node.as_deref(), Some("the-toy-factory"));
        assert_eq!(r.target_node.as_deref(), Some("the-dome"));
        assert_eq!(r.mode.as_deref(), Some("PreCopy"));
        assert_eq!(r.started_at.as_deref(), Some("2025-06-20T10:15:00Z"));
        assert_eq!(r.ended_at.as_deref(), Some("2025-06-20T10:15:22Z"));
        assert_eq!(r.duration_seconds, Some(22));
        assert_eq!(r.transfer_started_at.as_deref(), Some("2025-06-20T10:15:10Z"));
        assert_eq!(r.vmi, Some(VmiAfter { phase: Some("Running".into()), node: Some("the-dome".into()), ready: true }));
        assert!(!r.ip_changed);
        assert_eq!(r.ip_addresses[1].after, ["192.168.1.150", "fe80::200:ff:fe8e:41b7"]);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["phases"][1]["durationSeconds"], 7);
        assert_eq!(json["ipAddresses"][0]["changed"], false);
    }

    #[test]
    fn phase_message_carries_the_previous_phase_duration() {
        let mut f = follower();
        f.adopt(t(0), *vmim("vmim-pending.json"), false);
        let step = f.handle(t(1), Event::Vmim(vmim("vmim-scheduling.json")));
        assert_eq!(
            step.messages,
            [UiMessage::Phase {
                phase: "Scheduling".into(),
                at: Some("2025-06-20T10:15:01Z".into()),
                previous: Some(("Pending".into(), Some(1)))
            }]
        );
    }

    #[test]
    fn duplicates_and_out_of_order_events_are_ignored() {
        let mut f = follower();
        f.adopt(t(0), *vmim("vmim-created.json"), false);
        let mut steps = Vec::new();
        for file in ["vmim-pending.json", "vmim-scheduled.json", "vmim-scheduling.json", "vmim-scheduled.json"] {
            steps.push(f.handle(t(1), Event::Vmim(vmim(file))));
        }
        steps.push(f.handle(t(2), Event::Vmim(vmim("vmim-succeeded.json"))));
        steps.push(f.handle(t(2), Event::Vmim(vmim("vmim-running.json"))));
        assert_eq!(
            phases_of(&steps),
            ["Pending", "Scheduling", "Scheduled", "PreparingTarget", "TargetReady", "Running", "Succeeded"]
        );
        assert_eq!(f.phase(), Some(MigrationPhase::Succeeded), "a late Running does not undo Succeeded");
        // A late VMI still migrating does not replace the completed state.
        f.handle(t(3), Event::Vmi(vmi("vmi-migrated.json")));
        f.handle(t(3), Event::Vmi(vmi("vmi-migrating.json")));
        assert!(!f.awaiting_vmi());
    }

    #[test]
    fn a_previous_migrations_state_on_the_vmi_is_ignored() {
        let mut f = follower();
        let mut created = *vmim("vmim-created.json");
        created.metadata.uid = Some("11111111-2222-4333-8444-555555555555".into());
        f.adopt(t(0), created, false);
        // vmi-migrated carries the state of migration 9d8c…, not ours.
        f.handle(t(1), Event::Vmi(vmi("vmi-migrated.json")));
        let r = f.result();
        assert_eq!(r.target_node, None);
        assert_eq!(r.mode, None);
        assert_eq!(f.outcome(), None);
    }

    #[test]
    fn aborted_fixture_deleted_by_someone_else() {
        let mut f = follower();
        f.adopt(t(0), *vmim("vmim-running.json").tap_uid("6e7f8a9b-0c1d-4e2f-a3b4-c5d6e7f8a9b0"), false);
        let s = f.handle(t(1), Event::Vmim(vmim("vmim-aborting.json")));
        assert!(s.messages.iter().any(|m| matches!(m, UiMessage::Warning(w) if w.contains("deleted by someone else"))));
        assert_eq!(f.outcome(), None);
        f.handle(t(2), Event::VmimDeleted(vmim("vmim-aborted.json")));
        assert_eq!(
            f.outcome(),
            Some(Outcome::Aborted { by: AbortedBy::SomeoneElse, abort_status: Some("Succeeded".into()) })
        );
        let r = f.result();
        assert_eq!(r.aborted_by.as_deref(), Some("someone-else"));
        assert!(r.abort_requested);
        assert!(r.failure_reason.unwrap().contains("canceled by client"));
        assert_eq!(f.outcome().unwrap().exit_code().code(), 5);
    }

    #[test]
    fn our_interrupt_gives_interrupted_with_the_abort_status() {
        let mut f = follower();
        f.adopt(t(0), *vmim("vmim-running.json").tap_uid("6e7f8a9b-0c1d-4e2f-a3b4-c5d6e7f8a9b0"), false);
        let s = f.handle(t(1), Event::AbortRequested(AbortCause::Interrupt));
        assert!(matches!(&s.messages[0], UiMessage::Note(n) if n.contains("interrupted")));
        let s = f.handle(t(1), Event::Vmim(vmim("vmim-aborting.json")));
        assert!(!s.messages.iter().any(|m| matches!(m, UiMessage::Warning(_))), "{:?}", s.messages);
        f.handle(t(2), Event::VmimDeleted(vmim("vmim-aborted.json")));
        assert_eq!(f.outcome(), Some(Outcome::Interrupted { detached: false, abort_status: Some("Succeeded".into()) }));
        assert_eq!(f.result().aborted_by.as_deref(), Some("interrupt"));
        assert_eq!(f.outcome().unwrap().exit_code().code(), 130);
    }

    #[test]
    fn completion_timeout_failure_keeps_the_reason_verbatim() {
        let mut f = follower();
        f.adopt(t(0), *vmim("vmim-running.json").tap_uid("4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d"), false);
        let s = f.handle(t(1), Event::Vmim(vmim("vmim-failed.json")));
        assert!(s.queries.is_empty(), "the reason is known; no events needed");
        let o = f.outcome().unwrap();
        assert_eq!(
            o,
            Outcome::Failed { reason: "Live migration is not completed after 750 seconds and has been aborted".into() }
        );
        assert_eq!(o.exit_code().code(), 4);
        let r = f.result();
        assert_eq!(r.abort_status.as_deref(), Some("Succeeded"));
        assert!(!r.abort_requested, "a timeout abort by KubeVirt is a failure, not a user abort");
    }

    #[test]
    fn failure_without_reason_asks_for_events() {
        let mut f = follower();
        f.adopt(t(0), *vmim("vmim-scheduling.json"), false);
        let mut failed = *vmim("vmim-scheduling.json");
        let st = failed.status.as_mut().unwrap();
        st.phase = Some("Failed".into());
        st.phase_transition_timestamps.push(crate::kubevirt::PhaseTransitionTimestamp {
            phase: "Failed".into(),
            phase_transition_timestamp: "2025-06-20T10:20:01Z".into(),
        });
        let s = f.handle(t(300), Event::Vmim(Box::new(failed)));
        assert_eq!(s.queries, [FactsQuery::FailureEvents]);
        assert_eq!(f.outcome(), None);
        f.handle(
            t(300),
            Event::Facts(Facts::FailureEvents(vec![
                "Migration target pod was removed during active migration.".into(),
            ])),
        );
        assert_eq!(
            f.outcome(),
            Some(Outcome::Failed { reason: "Migration target pod was removed during active migration.".into() })
        );
    }

    #[test]
    fn vmim_gone_before_handoff_is_an_abort_by_someone_else() {
        let mut f = follower();
        f.adopt(t(0), *vmim("vmim-pending.json"), false);
        let s = f.handle(t(1), Event::VmimGone);
        assert!(s.messages.iter().any(|m| matches!(m, UiMessage::Warning(w) if w.contains("deleted by someone else"))));
        assert_eq!(f.outcome(), Some(Outcome::Aborted { by: AbortedBy::SomeoneElse, abort_status: None }));
    }

    #[test]
    fn vmim_gone_after_handoff_waits_for_the_vmi() {
        let mut f = follower();
        f.adopt(t(0), *vmim("vmim-running.json"), false);
        f.handle(t(1), Event::Vmi(vmi("vmi-migrating.json")));
        f.handle(t(2), Event::AbortRequested(AbortCause::Cancel));
        f.handle(t(2), Event::VmimGone);
        assert_eq!(f.outcome(), None, "abort in progress: wait for the VMI's final state");
        let mut v = *vmi("vmi-migrating.json");
        let st = v.status.as_mut().unwrap().migration_state.as_mut().unwrap();
        st.completed = true;
        st.failed = true;
        st.abort_requested = true;
        st.abort_status = Some("Succeeded".into());
        st.end_timestamp = Some("2025-06-20T10:15:15Z".into());
        f.handle(t(3), Event::Vmi(Box::new(v)));
        assert_eq!(
            f.outcome(),
            Some(Outcome::Aborted { by: AbortedBy::Cancel, abort_status: Some("Succeeded".into()) })
        );
    }

    #[test]
    fn stuck_pending_asks_for_slots_and_explains_each_new_reason_once() {
        let mut f = follower();
        f.adopt(t(0), *vmim("vmim-pending.json"), false);
        assert!(f.handle(t(5), Event::Tick).queries.is_empty());
        assert_eq!(f.handle(t(11), Event::Tick).queries, [FactsQuery::MigrationSlots]);
        assert!(f.handle(t(12), Event::Tick).queries.is_empty(), "not again before the threshold has passed again");
        let slots = stuck::MigrationSlots {
            per_cluster_limit: 1,
            in_flight_in_cluster: vec!["other/vmim-x".into()],
            per_node_limit: 2,
            ..Default::default()
        };
        let s = f.handle(t(12), Event::Facts(Facts::MigrationSlots(slots.clone())));
        assert!(
            matches!(&s.messages[0], UiMessage::Stuck(m) if m.contains("other/vmim-x") && m.starts_with("Pending for 12 s"))
        );
        // Asked again a threshold later; the same reason is not repeated, a new one is said.
        assert_eq!(f.handle(t(21), Event::Tick).queries, [FactsQuery::MigrationSlots]);
        assert!(f.handle(t(21), Event::Facts(Facts::MigrationSlots(slots.clone()))).messages.is_empty());
        let freed = stuck::MigrationSlots { in_flight_in_cluster: vec![], ..slots };
        let s = f.handle(t(22), Event::Facts(Facts::MigrationSlots(freed)));
        assert!(matches!(&s.messages[..], [UiMessage::Stuck(m)] if m.contains("no migration limit is full")));
        // The next phase starts a new clock.
        f.handle(t(23), Event::Vmim(vmim("vmim-scheduling.json")));
        assert!(f.handle(t(40), Event::Tick).queries.is_empty());
        assert_eq!(f.handle(t(44), Event::Tick).queries, [FactsQuery::TargetPod]);
    }

    #[test]
    fn completion_timeout_nears_without_progress_samples() {
        let mut f = follower();
        f.adopt(t(0), *vmim("vmim-running.json"), false);
        f.handle(t(0), Event::Vmi(vmi("vmi-migrating.json")));
        assert!(f.handle(t(500), Event::Tick).messages.is_empty());
        let s = f.handle(t(563), Event::Tick);
        assert!(
            matches!(&s.messages[..], [UiMessage::Stuck(m)] if m.contains("563 s of the 750 s completion timeout")),
            "{:?}",
            s.messages
        );
        assert!(f.handle(t(600), Event::Tick).messages.is_empty(), "said once");
    }

    #[test]
    fn progress_samples_of_other_migrations_are_ignored() {
        let mut f = follower();
        f.adopt(t(0), *vmim("vmim-running.json"), false);
        let mut s = ProgressSample { migration_uid: "someone-else".into(), ..Default::default() };
        assert!(f.handle(t(1), Event::Progress(Box::new(s.clone()))).messages.is_empty());
        s.migration_uid = "9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b5a".into();
        s.iteration = Some(1);
        assert!(matches!(f.handle(t(1), Event::Progress(Box::new(s))).messages[0], UiMessage::Progress(_)));
        let s = f.handle(t(1), Event::LogUnavailable("pods/log is forbidden".into()));
        assert!(matches!(&s.messages[0], UiMessage::Note(n) if n.contains("pods/log is forbidden")));
        assert_eq!(f.result().progress_unavailable.as_deref(), Some("pods/log is forbidden"));
    }

    #[test]
    fn a_vmi_deleted_mid_migration_waits_for_kubevirt_then_fails() {
        let mut f = follower();
        f.adopt(t(0), *vmim("vmim-running.json"), false);
        f.handle(t(1), Event::Vmi(vmi("vmi-migrating.json")));
        let s = f.handle(t(2), Event::VmiGone);
        assert!(matches!(&s.messages[..], [UiMessage::Warning(w)] if w.contains("was deleted")), "{:?}", s.messages);
        assert_eq!(f.outcome(), None, "KubeVirt has not reacted yet");
        f.handle(t(3), Event::VmimGone);
        assert_eq!(f.outcome(), Some(Outcome::Failed { reason: "the VMI was deleted during the migration".into() }));
    }

    #[test]
    fn requested_target_is_verified() {
        let mut f =
            Follower::new("tenant-root", "vm-instance-haos", Some(*vmi("vmi-running.json")), Some("illusion".into()));
        f.adopt(t(0), *vmim("vmim-succeeded.json"), false);
        f.handle(t(1), Event::Vmi(vmi("vmi-migrated.json")));
        assert!(f.landed_elsewhere());
        assert!(f.result().warnings.iter().any(|w| w.contains("not on the requested node illusion")));
    }

    #[test]
    fn changed_ips_are_flagged() {
        let before = *vmi("vmi-running.json");
        let mut after = before.clone();
        after.status.as_mut().unwrap().interfaces[0].ip_addresses = vec!["10.244.1.9".into()];
        let c = ip_changes(Some(&before), Some(&after));
        assert!(c[0].changed);
        assert!(!c[1].changed);
    }

    #[test]
    fn stop_reasons() {
        let mut f = follower();
        f.adopt(t(0), *vmim("vmim-running.json"), false);
        f.stop(StopReason::TimeoutWithoutAbort);
        assert_eq!(f.outcome(), Some(Outcome::TimedOut { aborted: false, abort_status: None }));
        assert_eq!(f.outcome().unwrap().exit_code().code(), 6);
    }

    proptest::proptest! {
        /// Any order, duplicates and mixes of the fixtures' events: no panic, and Succeeded is never undone.
        #[test]
        fn any_event_sequence_is_handled(seq in proptest::collection::vec(0usize..14, 0..40)) {
            let pool: Vec<Event> = PHASE_FILES
                .iter()
                .map(|f| Event::Vmim(vmim(f)))
                .chain([
                    Event::VmimDeleted(vmim("vmim-aborted.json")),
                    Event::VmimGone,
                    Event::Vmi(vmi("vmi-migrating.json")),
                    Event::Vmi(vmi("vmi-migrated.json")),
                    Event::VmiGone,
                    Event::AbortRequested(AbortCause::Interrupt),
                    Event::Tick,
                ])
                .collect();
            let mut f = follower();
            f.adopt(t(0), *vmim("vmim-created.json"), false);
            let mut succeeded = false;
            for (i, idx) in seq.into_iter().enumerate() {
                f.handle(t(i as u64), pool[idx].clone());
                let _ = f.result();
                if f.phase() == Some(MigrationPhase::Succeeded) {
                    succeeded = true;
                }
                proptest::prop_assert!(!succeeded || f.phase() == Some(MigrationPhase::Succeeded));
            }
        }
    }

    trait TapUid {
        fn tap_uid(self, uid: &str) -> Box<Vmim>;
    }
    impl TapUid for Box<Vmim> {
        fn tap_uid(mut self, uid: &str) -> Box<Vmim> {
            self.metadata.uid = Some(uid.into());
            self
        }
    }
}
