//! The shell of `run`, `cancel` and `status`: one event loop over the merged watches, the launcher log, facts
//! readers, Ctrl-C and the `--timeout` deadline, feeding the [`Follower`]. No polling: every wake-up is a watch
//! event, a log line, a signal, the deadline, or the 1 s tick that only advances stuck detection.

use crate::exit::ExitCode;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use kube::api::Api;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::kubevirt::{VirtualMachineInstance, VirtualMachineInstanceMigration};

use super::cluster::{self, Side, Update};
use super::error::{MigrateError, describe};
use super::state::{AbortCause, Event, Follower, MigrationResult, Outcome, Step, StopReason, UiMessage};
use super::stuck::StuckThresholds;
use super::ui::{ProgressSink, RenderError, ResultFormat, render_document, render_result};

type Vmim = VirtualMachineInstanceMigration;
type Vmi = VirtualMachineInstance;

/// `kubectl vmmigrate run VM` options (check is run by the caller unless `skip_check`).
#[derive(Clone, Debug, Default)]
pub struct RunRequest {
    pub vm: String,
    /// `--target-node`: needs KubeVirt v1.6+ (`spec.addedNodeSelector`); refused with exit 1 on older KubeVirt.
    pub target_node: Option<String>,
    /// `--timeout` (wall-clock time from the start of following).
    pub timeout: Option<Duration>,
    /// `--attach`: follow a migration already in flight instead of refusing.
    pub attach: bool,
    /// `--dry-run=server`: create with `dryRun=All`, print the object, follow nothing.
    pub dry_run_server: bool,
    /// false with `--no-abort-on-timeout`.
    pub abort_on_timeout: bool,
    /// `--skip-check` (informational here: the caller runs `check` before `run` unless set).
    pub skip_check: bool,
    /// How long a phase may last before stuck detection looks for a reason (wall-clock time).
    pub stuck: StuckThresholds,
    /// How long to wait for KubeVirt's abort outcome after a `--timeout` abort; `None`: [`ABORT_GRACE`].
    pub abort_grace: Option<Duration>,
}

/// How long `run --timeout` waits for KubeVirt to report the abort's outcome before giving up (exit 6 with how to
/// keep following). Ctrl-C waits until a second Ctrl-C; `cancel` as long as `cancel --timeout` says.
pub const ABORT_GRACE: Duration = Duration::from_secs(60);

/// Which command produced a report (exit codes differ for `cancel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Run,
    Cancel,
    Status,
}

/// What `run`, `cancel` and `status` hand back: the outcome, the documented result, and hints.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub command: Command,
    /// `None` for `--dry-run=server`, for `status` of a migration in flight, and when nothing was created.
    pub outcome: Option<Outcome>,
    pub result: MigrationResult,
    /// The object the server answered a `--dry-run=server` create with.
    pub dry_run: Option<Box<Vmim>>,
    /// How to keep following after leaving early (second Ctrl-C, timeout without abort, abort not confirmed).
    pub follow_hint: Option<String>,
    /// We aborted but KubeVirt did not report the outcome within the grace period.
    pub abort_unconfirmed: bool,
}

impl RunReport {
    /// `run`: 0 succeeded, 4 failed (or landed elsewhere than `--target-node`), 5 aborted by `cancel` or someone
    /// else, 6 timed out, 130 interrupted. `cancel`: 0 when the migration was aborted, 4 when it completed before
    /// the abort took effect, 130 when left early. `status`: 0.
    pub fn exit_code(&self) -> ExitCode {
        let Some(outcome) = &self.outcome else { return ExitCode::Success };
        match self.command {
            Command::Status => ExitCode::Success,
            Command::Cancel => match outcome {
                Outcome::Interrupted { .. } => ExitCode::Interrupted,
                _ if self.abort_unconfirmed => ExitCode::Error,
                _ if self.result.phase.as_deref() == Some("Succeeded") => ExitCode::MigrationFailed,
                _ => ExitCode::Success,
            },
            Command::Run => {
                let elsewhere = matches!(
                    (&self.result.requested_target_node, &self.result.target_node),
                    (Some(want), Some(got)) if want != got
                );
                if *outcome == Outcome::Succeeded && elsewhere {
                    ExitCode::MigrationFailed
                } else {
                    outcome.exit_code()
                }
            }
        }
    }

    /// The text for stdout: the dry-run object, or the result (human, JSON or YAML).
    pub fn render(&self, format: ResultFormat) -> Result<String, RenderError> {
        match (&self.dry_run, format) {
            (Some(obj), ResultFormat::Table) => Ok(format!(
                "virtualmachineinstancemigration.kubevirt.io/{} created (server dry run)\n",
                obj.metadata.name.as_deref().or(obj.metadata.generate_name.as_deref()).unwrap_or("")
            )),
            (Some(obj), _) => render_document(obj, format),
            (None, _) => render_result(&self.result, format),
        }
    }
}

/// `kubectl vmmigrate run`: creates a VMIM for `req.vm` (or attaches to the one in flight with `--attach`) and
/// follows it to its end. Progress goes to `ui`; the result is in the report.
///
/// `--target-node` is honoured through `spec.addedNodeSelector {kubernetes.io/hostname: NODE}`, which exists from
/// KubeVirt v1.6. Whether the server has it is read from the KubeVirt CR's `status.observedKubeVirtVersion` (the
/// version virt-operator deployed, hence the VMIM schema the API server serves and prunes against). On v1.5 the
/// request is refused before anything is created (exit 1), with the ways a v1.5 cluster can be steered: silently
/// letting the scheduler pick another node is not what an operator who named a node wants. After success the
/// landing node is verified against the request.
pub async fn run(
    client: &kube::Client,
    namespace: &str,
    req: &RunRequest,
    ui: &mut dyn ProgressSink,
) -> Result<RunReport, MigrateError> {
    run_with_interrupts(client, namespace, req, ui, Interrupts::ctrl_c()).await
}

/// [`run`] with interrupts delivered by the caller: the first aborts the migration (deletes the VMIM and waits
/// for KubeVirt's abort outcome), the second leaves at once.
pub async fn run_with_interrupts(
    client: &kube::Client,
    namespace: &str,
    req: &RunRequest,
    ui: &mut dyn ProgressSink,
    mut interrupts: Interrupts,
) -> Result<RunReport, MigrateError> {
    let vmims: Api<Vmim> = Api::namespaced(client.clone(), namespace);
    let added_node_selector = match &req.target_node {
        None => None,
        Some(node) => {
            let version = cluster::kubevirt_version(client).await?;
            match cluster::supports_added_node_selector(&version) {
                Some(true) => Some([("kubernetes.io/hostname".to_string(), node.clone())].into_iter().collect()),
                Some(false) => return Err(MigrateError::TargetNodeUnsupported { version }),
                None => {
                    return Err(MigrateError::KubeVirtVersionUnknown(format!(
                        "unrecognised KubeVirt version {version}"
                    )));
                }
            }
        }
    };
    let body = cluster::new_vmim(namespace, &req.vm, added_node_selector);
    if req.dry_run_server {
        let created = cluster::create_vmim(&vmims, &body, true, &mut |n| ui.show(&UiMessage::Note(n)))
            .await
            .map_err(|e| refused(namespace, &req.vm, e))?;
        let follower = Follower::new(namespace, &req.vm, None, req.target_node.clone());
        return Ok(RunReport {
            command: Command::Run,
            outcome: None,
            result: follower.result(),
            dry_run: Some(Box::new(created)),
            follow_hint: None,
            abort_unconfirmed: false,
        });
    }

    let mut watches = cluster::watch(client, namespace, &req.vm);
    let Some((listed, vmi)) = initial_state(&mut watches, &mut interrupts).await? else {
        return Ok(nothing_created(Command::Run, namespace, &req.vm, req.target_node.clone()));
    };
    let Some(vmi) = vmi else {
        return Err(MigrateError::VmiNotFound { namespace: namespace.into(), vm: req.vm.clone() });
    };
    let mut follower =
        Follower::new(namespace, &req.vm, Some(*vmi), req.target_node.clone()).with_thresholds(req.stuck.clone());
    let start = Instant::now();
    let (vmim, attached, interrupted_during_create) = match cluster::in_flight(&listed).first() {
        Some(m) if req.attach => ((*m).clone(), true, false),
        Some(m) => {
            return Err(MigrateError::InFlight {
                namespace: namespace.into(),
                vm: req.vm.clone(),
                name: m.metadata.name.clone().unwrap_or_default(),
                phase: m
                    .status
                    .as_ref()
                    .and_then(|s| s.phase.clone())
                    .filter(|p| !p.is_empty())
                    .unwrap_or("(unset)".into()),
            });
        }
        None => {
            let mut notice = |n: String| ui.show(&UiMessage::Note(n));
            let created = tokio::select! {
                r = cluster::create_vmim(&vmims, &body, false, &mut notice) => Some(r),
                Some(()) = interrupts.rx.recv() => None,
            };
            match created {
                Some(r) => (r.map_err(|e| refused(namespace, &req.vm, e))?, false, false),
                // Ctrl-C during the create (its retries can take a while): a POST may have gone through, so look
                // for it and abort it; otherwise nothing was created.
                None => match cluster::find_ours(&vmims, &req.vm).await {
                    Ok(Some(m)) => (m, false, true),
                    Ok(None) => {
                        return Ok(nothing_created(Command::Run, namespace, &req.vm, req.target_node.clone()));
                    }
                    Err(e) => {
                        return Err(MigrateError::api("checking whether the interrupted create went through", e));
                    }
                },
            }
        }
    };
    let since = vmim.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let step = follower.adopt(start.elapsed(), vmim, attached);
    let mut ctx = Loop::new(client, namespace, &req.vm, ui, since);
    ctx.apply(&follower, step);
    if interrupted_during_create {
        ctx.abort(&mut follower, start, AbortCause::Interrupt).await?;
    }
    let opts = LoopOptions {
        deadline: req.timeout.and_then(|t| start.checked_add(t)),
        abort_grace: Some(req.abort_grace.unwrap_or(ABORT_GRACE)),
        abort_on_timeout: req.abort_on_timeout,
        interrupt_aborts: true,
    };
    ctx.follow(&mut follower, &mut watches, &mut interrupts, start, opts).await?;
    Ok(ctx.report(Command::Run, &follower))
}

/// `kubectl vmmigrate cancel VM`: deletes the VM's migration in flight (started by anyone) and waits for the
/// abort's outcome, without limit or at most `wait` (`cancel --timeout`). Ctrl-C leaves at once (the abort is
/// already requested).
pub async fn cancel(
    client: &kube::Client,
    namespace: &str,
    vm: &str,
    wait: Option<Duration>,
    ui: &mut dyn ProgressSink,
) -> Result<RunReport, MigrateError> {
    let mut interrupts = Interrupts::ctrl_c();
    let mut watches = cluster::watch(client, namespace, vm);
    let Some((listed, vmi)) = initial_state(&mut watches, &mut interrupts).await? else {
        return Ok(nothing_created(Command::Cancel, namespace, vm, None));
    };
    let Some(target) = cluster::in_flight(&listed).first().map(|m| (*m).clone()) else {
        return Err(MigrateError::NoMigrationInFlight { namespace: namespace.into(), vm: vm.into() });
    };
    let start = Instant::now();
    let mut follower = Follower::new(namespace, vm, vmi.map(|v| *v), None);
    let since = target.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let step = follower.adopt(start.elapsed(), target, true);
    let mut ctx = Loop::new(client, namespace, vm, ui, since);
    ctx.apply(&follower, step);
    ctx.abort(&mut follower, start, AbortCause::Cancel).await?;
    let opts = LoopOptions { deadline: None, abort_grace: wait, abort_on_timeout: false, interrupt_aborts: false };
    ctx.follow(&mut follower, &mut watches, &mut interrupts, start, opts).await?;
    Ok(ctx.report(Command::Cancel, &follower))
}

/// `kubectl vmmigrate status VM`: the VM's migration in flight, else its newest one, read-only (one list, one get).
/// Addresses "before" are not recorded by the cluster, so `ipAddresses` shows the current ones only.
pub async fn status(client: &kube::Client, namespace: &str, vm: &str) -> Result<RunReport, MigrateError> {
    let vmims: Api<Vmim> = Api::namespaced(client.clone(), namespace);
    let vmis: Api<Vmi> = Api::namespaced(client.clone(), namespace);
    let lp = kube::api::ListParams::default().labels(&format!("{}={vm}", crate::kubevirt::LABEL_VMI_NAME));
    let list = vmims.list(&lp).await.map_err(|e| MigrateError::api("listing migrations", e))?;
    let chosen = cluster::in_flight(&list.items)
        .first()
        .map(|m| (*m).clone())
        .or_else(|| list.items.iter().max_by_key(|m| m.metadata.creation_timestamp.as_ref().map(|t| t.0)).cloned());
    let Some(vmim) = chosen else {
        return Err(MigrateError::NoMigration { namespace: namespace.into(), vm: vm.into() });
    };
    let vmi = vmis.get_opt(vm).await.map_err(|e| MigrateError::api("reading the VMI", e))?;
    let mut follower = Follower::new(namespace, vm, None, None);
    follower.adopt(Duration::ZERO, vmim, true);
    if let Some(v) = vmi {
        follower.handle(Duration::ZERO, Event::Vmi(Box::new(v)));
    }
    let mut result = follower.result();
    for i in &mut result.ip_addresses {
        i.before.clear();
        i.changed = false;
    }
    result.ip_changed = false;
    Ok(RunReport {
        command: Command::Status,
        outcome: follower.outcome(),
        result,
        dry_run: None,
        follow_hint: None,
        abort_unconfirmed: false,
    })
}

/// Maps a refused create to the right error: KubeVirt's admission messages mean "not migratable" (exit 3).
fn refused(namespace: &str, vm: &str, e: kube::Error) -> MigrateError {
    if let kube::Error::Api(s) = &e {
        let m = &s.message;
        if m.contains("does not exist") && m.contains("VMI") {
            return MigrateError::VmiNotFound { namespace: namespace.into(), vm: vm.into() };
        }
        if m.contains("Cannot migrate VMI") || m.contains("in-flight migration detected") {
            return MigrateError::NotMigratable { namespace: namespace.into(), vm: vm.into(), message: m.clone() };
        }
    }
    MigrateError::api("creating the migration", e)
}

/// Interrupted before anything was created.
fn nothing_created(command: Command, namespace: &str, vm: &str, target: Option<String>) -> RunReport {
    let result = Follower::new(namespace, vm, None, target).result();
    RunReport {
        command,
        outcome: Some(Outcome::Interrupted { detached: true, abort_status: None }),
        result,
        dry_run: None,
        follow_hint: None,
        abort_unconfirmed: false,
    }
}

/// Interrupt requests (Ctrl-C) as a channel. [`Interrupts::ctrl_c`] listens to SIGINT (a task keeps one listener
/// registered, so no signal is lost between loop turns); [`Interrupts::from_channel`] lets a caller that handles
/// signals itself, or a test, deliver them.
pub struct Interrupts {
    rx: mpsc::UnboundedReceiver<()>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Interrupts {
    /// Listens to Ctrl-C.
    pub fn ctrl_c() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if tx.send(()).is_err() {
                    return;
                }
            }
        });
        Self { rx, task: Some(task) }
    }

    /// Each `()` sent is one Ctrl-C.
    pub fn from_channel(rx: mpsc::UnboundedReceiver<()>) -> Self {
        Self { rx, task: None }
    }

    /// The next interrupt; `None` once no more can come.
    pub async fn recv(&mut self) -> Option<()> {
        self.rx.recv().await
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// Waits for the first complete list of the VMIMs and of the VMI; `None` when interrupted meanwhile.
async fn initial_state(
    watches: &mut BoxStream<'static, Update>,
    interrupts: &mut Interrupts,
) -> Result<Option<(Vec<Vmim>, Option<Box<Vmi>>)>, MigrateError> {
    let (mut vmims, mut vmi) = (None, None);
    while vmims.is_none() || vmi.is_none() {
        tokio::select! {
            u = watches.next() => match u {
                Some(Update::VmimListed(l)) => vmims = Some(l),
                Some(Update::VmiListed(v)) => vmi = Some(v),
                Some(Update::Fatal(e)) => return Err(MigrateError::Watch(e)),
                Some(_) => {}
                None => return Err(MigrateError::Watch("the watch ended".into())),
            },
            Some(()) = interrupts.rx.recv() => return Ok(None),
        }
    }
    Ok(vmims.zip(vmi))
}

struct LoopOptions {
    deadline: Option<Instant>,
    /// How long to wait for the outcome of an abort by timeout or cancel (`None`: no limit).
    abort_grace: Option<Duration>,
    abort_on_timeout: bool,
    /// `run`: the first Ctrl-C aborts, the second leaves. `cancel`: Ctrl-C leaves.
    interrupt_aborts: bool,
}

/// The event loop's I/O context.
struct Loop<'a> {
    client: &'a kube::Client,
    namespace: &'a str,
    vm: &'a str,
    ui: &'a mut dyn ProgressSink,
    since: Option<jiff::Timestamp>,
    tx: mpsc::UnboundedSender<Side>,
    rx: mpsc::UnboundedReceiver<Side>,
    log_task: Option<tokio::task::JoinHandle<()>>,
}

impl<'a> Loop<'a> {
    fn new(
        client: &'a kube::Client,
        namespace: &'a str,
        vm: &'a str,
        ui: &'a mut dyn ProgressSink,
        since: Option<jiff::Timestamp>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self { client, namespace, vm, ui, since, tx, rx, log_task: None }
    }

    /// Shows a step's messages, starts the facts readers it asks for, and the log follower once the source pod
    /// is known.
    fn apply(&mut self, follower: &Follower, step: Step) {
        for m in &step.messages {
            self.ui.show(m);
        }
        if let (Some(name), Some(uid)) = (follower.name(), follower.uid()) {
            for q in step.queries {
                cluster::gather_facts(self.client, self.namespace, self.vm, name, uid, q, self.tx.clone());
            }
        }
        if self.log_task.is_none()
            && follower.outcome().is_none()
            && let Some(pod) = follower.source_pod()
        {
            self.log_task = Some(cluster::follow_log(self.client, self.namespace, pod, self.since, self.tx.clone()));
        }
    }

    fn feed(&mut self, follower: &mut Follower, start: Instant, event: Event) {
        let step = follower.handle(start.elapsed(), event);
        self.apply(follower, step);
    }

    /// Deletes the VMIM to abort the migration and tells the follower why.
    async fn abort(&mut self, follower: &mut Follower, start: Instant, cause: AbortCause) -> Result<(), MigrateError> {
        let api: Api<Vmim> = Api::namespaced(self.client.clone(), self.namespace);
        if let Some(name) = follower.name().map(str::to_string) {
            cluster::delete_vmim(&api, &name, follower.uid()).await?;
        }
        self.feed(follower, start, Event::AbortRequested(cause));
        Ok(())
    }

    async fn follow(
        &mut self,
        follower: &mut Follower,
        watches: &mut BoxStream<'static, Update>,
        interrupts: &mut Interrupts,
        start: Instant,
        opts: LoopOptions,
    ) -> Result<(), MigrateError> {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut deadline_passed = false;
        let far = start + Duration::from_secs(100 * 365 * 24 * 3600);
        // `cancel` has already asked for the abort when it gets here.
        let grace_from_now = || opts.abort_grace.map(|g| Instant::now() + g);
        let mut abort_deadline =
            if follower.abort_cause() == Some(AbortCause::Cancel) { grace_from_now() } else { None };
        while follower.outcome().is_none() {
            let deadline = opts.deadline.filter(|_| !deadline_passed).unwrap_or(far);
            let abort_wait = abort_deadline.unwrap_or(far);
            // Biased: the user's Ctrl-C and the deadline come before whatever else is ready.
            tokio::select! {
                biased;
                Some(()) = interrupts.rx.recv() => {
                    if opts.interrupt_aborts && follower.abort_cause().is_none() {
                        self.ui.show(&UiMessage::Note("press Ctrl-C again to leave without waiting for the abort".into()));
                        self.abort(follower, start, AbortCause::Interrupt).await?;
                    } else {
                        follower.stop(StopReason::Detached);
                    }
                }
                _ = tokio::time::sleep_until(deadline), if opts.deadline.is_some() && !deadline_passed => {
                    deadline_passed = true;
                    if opts.abort_on_timeout {
                        self.abort(follower, start, AbortCause::Timeout).await?;
                        abort_deadline = grace_from_now();
                    } else {
                        follower.stop(StopReason::TimeoutWithoutAbort);
                    }
                }
                _ = tokio::time::sleep_until(abort_wait), if abort_deadline.is_some() => {
                    abort_deadline = None;
                    follower.stop(StopReason::AbortUnconfirmed);
                }
                u = watches.next() => match u {
                    Some(u) => {
                        if let Some(event) = self.translate(follower, u)? {
                            self.feed(follower, start, event);
                        }
                    }
                    None => return Err(MigrateError::Watch(self.still_running(follower, "the watch ended"))),
                },
                Some(side) = self.rx.recv() => {
                    let event = match side {
                        Side::Sample(s) => Event::Progress(s),
                        Side::LogUnavailable(why) => Event::LogUnavailable(why),
                        Side::Facts(f) => Event::Facts(f),
                    };
                    self.feed(follower, start, event);
                }
                _ = tick.tick() => self.feed(follower, start, Event::Tick),
            }
        }
        if follower.awaiting_vmi() {
            // The VMIM said Succeeded before the VMI's watch event arrived: read the VMI once.
            let vmis: Api<Vmi> = Api::namespaced(self.client.clone(), self.namespace);
            match vmis.get_opt(self.vm).await {
                Ok(Some(v)) => self.feed(follower, start, Event::Vmi(Box::new(v))),
                Ok(None) => self.feed(follower, start, Event::VmiGone),
                Err(e) => self
                    .ui
                    .show(&UiMessage::Warning(format!("could not read the VMI after the migration: {}", describe(&e)))),
            }
        }
        Ok(())
    }

    /// A watch failure after the VMIM exists: the migration goes on without us; say how to follow it.
    fn still_running(&self, follower: &Follower, why: &str) -> String {
        match follower.name() {
            Some(name) => format!(
                "{why}; migration {name} goes on without this command: kubectl get vmim {name} -n {} -w",
                self.namespace
            ),
            None => why.to_string(),
        }
    }

    /// Turns a watch update into a follower event.
    fn translate(&mut self, follower: &Follower, u: Update) -> Result<Option<Event>, MigrateError> {
        Ok(match u {
            Update::VmimListed(list) => {
                let uid = follower.uid();
                match list.into_iter().find(|m| m.metadata.uid.as_deref() == uid) {
                    Some(m) => Some(Event::Vmim(Box::new(m))),
                    None => Some(Event::VmimGone),
                }
            }
            Update::Vmim(m) => Some(Event::Vmim(m)),
            Update::VmimDeleted(m) => Some(Event::VmimDeleted(m)),
            Update::VmiListed(Some(v)) | Update::Vmi(v) => Some(Event::Vmi(v)),
            Update::VmiListed(None) | Update::VmiDeleted => Some(Event::VmiGone),
            Update::Recovering(e) => {
                tracing::debug!("watch recovering: {e}");
                None
            }
            Update::Fatal(e) => return Err(MigrateError::Watch(self.still_running(follower, &e))),
        })
    }

    fn report(mut self, command: Command, follower: &Follower) -> RunReport {
        if let Some(t) = self.log_task.take() {
            t.abort();
        }
        let outcome = follower.outcome();
        let follow_hint = match (&outcome, follower.name()) {
            (Some(Outcome::Interrupted { detached: true, .. }), Some(name))
            | (Some(Outcome::TimedOut { aborted: false, .. }), Some(name)) => {
                Some(format!("kubectl get vmim {name} -n {} -w", self.namespace))
            }
            (Some(_), Some(name)) if follower.stopped() == Some(StopReason::AbortUnconfirmed) => {
                Some(format!("kubectl get vmim {name} -n {} -w", self.namespace))
            }
            _ => None,
        };
        if let Some(hint) = &follow_hint {
            self.ui.show(&UiMessage::Note(format!("left without waiting; follow it with: {hint}")));
        }
        self.ui.finish();
        RunReport {
            command,
            outcome,
            result: follower.result(),
            dry_run: None,
            follow_hint,
            abort_unconfirmed: follower.stopped() == Some(StopReason::AbortUnconfirmed),
        }
    }
}

/// A serialisable summary of an error for `-o json|yaml` (so that the document always parses).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDocument {
    pub error: String,
    pub exit_code: i32,
}

impl From<&MigrateError> for ErrorDocument {
    fn from(e: &MigrateError) -> Self {
        Self { error: e.to_string(), exit_code: e.exit_code().code() }
    }
}
