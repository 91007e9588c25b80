//! The probe's shell: places the prober (a short-lived pod, or an ephemeral container in an existing pod), checks
//! its tools, takes a baseline, runs one long-running probe per target over exec and stops them, and cleans up.
//!
//! Every line a probe prints is stamped with the instant the plugin received it and fed to the streaming parsers
//! ([`super::ping::PingParser`], [`super::http::HttpParser`]); iputils' own `-D` stamps take precedence. Each probe is
//! bounded inside the container (ping `-w`, the HTTP script's deadline) by [`ProbeRequest::bound`], because closing an
//! exec stream does not stop the process in a real cluster; the prober pod's `sleep` and `activeDeadlineSeconds` bound
//! the pod itself.
//!
//! Cleanup cannot be forgotten: the prober pod is held by a [`PodGuard`] from the moment it is created. The normal
//! path awaits [`Prober::cleanup`] (which deletes the pod and waits until it is gone); if a `Prober` (or a `place`
//! in progress, e.g. cut short by Ctrl-C) is dropped without it, the guard deletes the pod before the drop returns,
//! blocking the current worker thread of the multi-threaded runtime for that one request.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::api::{Api, AttachParams, AttachedProcess, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot, watch};

use super::analysis::{AnalysisOptions, ProbeEnd, ProbeSeries, UnixMicros, analyse};
use super::command::{
    CommandError, HttpProbeOptions, PingFlavour, PingOptions, ToolReport, http_probe_argv, ping_argv, tool_check_argv,
};
use super::discover::{self, Method, Target};
use super::http::HttpParser;
use super::ping::PingParser;
use super::placement::{self, PROBER_CONTAINER, Readiness};
use super::target::Host;
use crate::cli::{ProbeArgs, ProbeFrom};
use crate::exit::ExitCode;
use crate::kubevirt::VirtualMachineInstance;
use crate::record::{PlannedTarget, ProbeSetup, TargetResult};

/// The probe image used without `--probe-image`: netshoot, pinned (iputils ping, curl, runs as root).
pub const DEFAULT_IMAGE: &str = "nicolaka/netshoot:v0.14";
/// Shortest baseline.
const MIN_BASELINE: Duration = Duration::from_secs(3);
/// The baseline sends at least this many requests per target.
const BASELINE_SAMPLES: u32 = 10;
/// How long the probe container may take to start (image pull included).
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// Margin added to the container's lifetime for the tool check, the baseline and the waits around them.
const LIFETIME_SLACK: Duration = Duration::from_secs(120);
/// The longest a prober lives, whatever the hops ask for: a week.
const MAX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long cleanup waits for the deleted prober pod to be gone.
const DELETE_WAIT: Duration = Duration::from_secs(60);
/// The slack beyond a probe's own bound after which the plugin gives up reading it.
const READ_SLACK: Duration = Duration::from_secs(30);

/// What the probe is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRequest {
    /// The VirtualMachine (and VMI) name.
    pub vm: String,
    /// `--probe-from`: an existing pod (ephemeral container) or a node for the prober pod.
    pub from: Option<ProbeFrom>,
    /// The probe image.
    pub image: String,
    /// `--probe-target` values (hosts, pinged).
    pub targets: Vec<String>,
    /// `--probe-http` values (URLs).
    pub http: Vec<String>,
    /// Probe interval.
    pub interval: Duration,
    /// Go on although the baseline found a target unreachable.
    pub force: bool,
    /// How long the baseline probes each target.
    pub baseline: Duration,
    /// How long each long-running probe may live inside the container at most.
    pub bound: Duration,
    /// How many times [`Prober::start`] will be called (one per hop): the prober must outlive all of them.
    pub hops: u32,
}

impl ProbeRequest {
    /// The request for `vm` from the probe flags; `bound` is how long the long-running probes may run at most.
    pub fn from_args(vm: &str, args: &ProbeArgs, bound: Duration) -> Self {
        ProbeRequest {
            vm: vm.to_string(),
            from: args.probe_from.clone(),
            image: args.probe_image.clone().unwrap_or_else(|| DEFAULT_IMAGE.to_string()),
            targets: args.probe_target.clone(),
            http: args.probe_http.clone(),
            interval: args.probe_interval,
            force: args.force,
            baseline: baseline_for(args.probe_interval),
            bound,
            hops: 1,
        }
    }

    /// How long the prober (its pod, or its ephemeral container's keep-alive) must live: the baseline, then each
    /// hop's probe (its bound covers the migration and the tail; the settle wait between hops is short against
    /// it), and slack; capped by [`MAX_LIFETIME`] (the pod is deleted at the end anyway).
    pub fn lifetime(&self) -> Duration {
        let hops = self.bound.saturating_mul(self.hops.max(1));
        self.baseline.saturating_add(hops).saturating_add(LIFETIME_SLACK).min(MAX_LIFETIME)
    }
}

/// The baseline's length at `interval`: at least 3 s and [`BASELINE_SAMPLES`] requests, in whole seconds (ping's
/// `-w` takes whole seconds).
pub fn baseline_for(interval: Duration) -> Duration {
    let wanted = (interval * BASELINE_SAMPLES).max(MIN_BASELINE);
    Duration::from_secs(wanted.as_secs() + u64::from(wanted.subsec_nanos() > 0))
}

/// Why the probe could not be placed or run. Each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A flag value out of range or not a valid target.
    #[error("{0}")]
    Invalid(String),
    /// The VM has no running VMI.
    #[error("VM {namespace}/{vm} is not running (no VirtualMachineInstance): there is nothing to probe")]
    NotRunning { namespace: String, vm: String },
    /// Nothing to probe.
    #[error(
        "VM {0} has no address to probe (no IP in status.interfaces, no Service with an external IP); pass \
         --probe-target ADDR or --probe-http URL"
    )]
    NoTargets(String),
    /// The placement asked for is refused (the VM's own virt-launcher pod...).
    #[error("{0}")]
    Refused(String),
    /// The prober could not be placed or did not start (no node, image pull error, Pod Security, ...).
    #[error("{0}")]
    Placement(String),
    /// The image lacks a tool the probe needs (the seed's failure).
    #[error("the probe image {image} has no {tool}: {hint}")]
    MissingTool { image: String, tool: String, hint: String },
    /// The probe cannot measure some targets at all (a ping without per-reply output, curl printing nothing...).
    #[error("the probe cannot measure {}", .0.join(", "))]
    CannotMeasure(Vec<String>),
    /// The baseline found targets that do not answer (and `--force` was not given).
    #[error("the baseline found {} unreachable: {}; use --force to go on anyway", plural_targets(.0.len()), .0.join(", "))]
    Unreachable(Vec<String>),
    /// An API request failed.
    #[error("{action}")]
    Api {
        action: String,
        #[source]
        source: kube::Error,
    },
    /// The probe command could not be run in the container.
    #[error("exec in pod {pod}: {message}")]
    Exec { pod: String, message: String },
    /// Ctrl-C.
    #[error("interrupted")]
    Interrupted,
}

fn plural_targets(n: usize) -> String {
    if n == 1 { "1 target".into() } else { format!("{n} targets") }
}

impl ProbeError {
    /// The exit code this error ends the command with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            ProbeError::Invalid(_) => ExitCode::Usage,
            ProbeError::Unreachable(_) => ExitCode::NotMigratable,
            ProbeError::Interrupted => ExitCode::Interrupted,
            _ => ExitCode::Error,
        }
    }
}

fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> ProbeError {
    let action = action.into();
    move |source| ProbeError::Api { action, source }
}

fn code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// A Pod Security admission refusal (403) of `what`, in words.
fn pod_security(e: &kube::Error, what: &str) -> Option<String> {
    match e {
        kube::Error::Api(s) if s.code == 403 => placement::pod_security_refusal(&s.message, what),
        _ => None,
    }
}

/// Holds a created prober pod until it is deleted: [`PodGuard::delete`] on the normal path; on drop otherwise.
struct PodGuard {
    api: Api<Pod>,
    name: String,
    armed: bool,
}

impl PodGuard {
    fn delete_params() -> DeleteParams {
        DeleteParams { grace_period_seconds: Some(1), ..DeleteParams::background() }
    }

    /// Deletes the pod and waits until it is gone; returns what was done.
    async fn delete(&mut self) -> Result<String, ProbeError> {
        if !self.armed {
            return Ok(format!("prober pod {} deleted", self.name));
        }
        match self.api.delete(&self.name, &Self::delete_params()).await {
            Ok(either) => {
                self.armed = false;
                let uid = either.left().and_then(|p| p.metadata.uid);
                let gone = kube::runtime::wait::await_condition(
                    self.api.clone(),
                    &self.name,
                    kube::runtime::conditions::is_deleted(uid.as_deref().unwrap_or_default()),
                );
                match tokio::time::timeout(DELETE_WAIT, gone).await {
                    Ok(Ok(_)) => Ok(format!("prober pod {} deleted", self.name)),
                    _ => Ok(format!("prober pod {} deletion requested (still terminating)", self.name)),
                }
            }
            Err(e) if code(&e) == Some(404) => {
                self.armed = false;
                Ok(format!("prober pod {} deleted (it was already gone)", self.name))
            }
            Err(e) => Err(api(format!("delete prober pod {}", self.name))(e)),
        }
    }
}

impl Drop for PodGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let result = match tokio::runtime::Handle::try_current() {
            // Blocks this worker thread until the pod is deleted, so it is gone before the process can exit.
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| h.block_on(self.delete()))
            }
            Ok(h) => {
                let mut guard = PodGuard { api: self.api.clone(), name: self.name.clone(), armed: true };
                self.armed = false;
                h.spawn(async move { guard.delete().await.map(|_| ()) });
                Ok(format!("prober pod {} deletion requested", self.name))
            }
            Err(_) => Err(ProbeError::Placement(format!("no runtime left to delete prober pod {}", self.name))),
        };
        match result {
            Ok(done) => tracing::info!("{done} on the way out"),
            Err(e) => tracing::warn!("could not delete prober pod {}: {}", self.name, crate::exit::chain_message(&e)),
        }
    }
}

/// Where the probe runs.
enum Placed {
    /// A prober pod created here.
    Pod(Box<PodGuard>),
    /// An ephemeral container added to an existing pod.
    Ephemeral { pod: String, container: String },
}

/// A placed prober, its tools and its targets.
pub struct Prober {
    api: Api<Pod>,
    req: ProbeRequest,
    placed: Placed,
    pod: String,
    container: String,
    flavour: Option<PingFlavour>,
    targets: Vec<Target>,
    setup: ProbeSetup,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober").field("setup", &self.setup).finish_non_exhaustive()
    }
}

impl Prober {
    /// Places the prober (pod or ephemeral container), waits until it runs, checks its tools, discovers targets.
    pub async fn place(client: &kube::Client, namespace: &str, req: &ProbeRequest) -> Result<Prober, ProbeError> {
        validate(req)?;
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let vmis: Api<VirtualMachineInstance> = Api::namespaced(client.clone(), namespace);
        let vmi = match vmis.get(&req.vm).await {
            Ok(v) => v,
            Err(e) if code(&e) == Some(404) => {
                return Err(ProbeError::NotRunning { namespace: namespace.into(), vm: req.vm.clone() });
            }
            Err(e) => return Err(api(format!("get VirtualMachineInstance {namespace}/{}", req.vm))(e)),
        };
        let uid = vmi.metadata.uid.clone().unwrap_or_default();
        let launchers = pods
            .list(&ListParams::default().labels(&format!("kubevirt.io/created-by={uid}")))
            .await
            .map_err(api(format!("list the virt-launcher pods of {namespace}/{}", req.vm)))?
            .items;
        let services: Vec<Service> = Api::namespaced(client.clone(), namespace)
            .list(&ListParams::default())
            .await
            .map_err(api(format!("list Services in {namespace}")))?
            .items;
        let targets = discover::discover(&vmi, &launchers, &services, &req.targets, &req.http)
            .map_err(|e| ProbeError::Invalid(format!("probe target: {e}")))?;
        if targets.is_empty() {
            return Err(ProbeError::NoTargets(format!("{namespace}/{}", req.vm)));
        }
        let lifetime = req.lifetime();
        let mut warnings = Vec::new();
        let (placed, pod, container, node) = match &req.from {
            Some(ProbeFrom::Pod { name, container }) => {
                let (c, node) = add_ephemeral(&pods, &vmi, req, name, container.as_deref(), lifetime).await?;
                let source = vmi.status.as_ref().and_then(|s| s.node_name.as_deref());
                if let Some(n) = node.as_deref().filter(|n| Some(*n) == source) {
                    warnings.push(format!(
                        "pod {name} runs on {n}, the VM's source node: the probe shares a host with one end of the move"
                    ));
                }
                warnings.push(format!(
                    "the ephemeral probe container {c} stays in pod {name}'s spec until the pod is deleted \
                     (Kubernetes cannot remove it); its process ends by itself within {} s",
                    lifetime.as_secs()
                ));
                (Placed::Ephemeral { pod: name.clone(), container: c.clone() }, name.clone(), c, node)
            }
            other => {
                let pinned = match other {
                    Some(ProbeFrom::Node { name }) => Some(name.as_str()),
                    _ => None,
                };
                let choice = choose_node(client, &vmi, &launchers, pinned).await?;
                warnings.extend(choice.note);
                let node = choice.node;
                let mut guard = create_pod(&pods, req, &node, lifetime).await?;
                let name = guard.name.clone();
                // From here on, an error deletes the pod (and so would a drop, through the guard).
                if let Err(e) = wait_running(&pods, &name, PROBER_CONTAINER, false).await {
                    let _ = guard.delete().await;
                    return Err(e);
                }
                (Placed::Pod(Box::new(guard)), name, PROBER_CONTAINER.to_string(), Some(node))
            }
        };
        let mut prober = Prober {
            api: pods,
            req: req.clone(),
            setup: ProbeSetup {
                placement: match placed {
                    Placed::Pod(_) => "pod".into(),
                    Placed::Ephemeral { .. } => "ephemeral".into(),
                },
                pod: Some(pod.clone()),
                container: Some(container.clone()),
                node,
                image: req.image.clone(),
                ping_flavour: None,
                targets: targets.iter().map(|t| t.planned.clone()).collect(),
                baseline: Vec::new(),
                cleanup: None,
            },
            placed,
            pod,
            container,
            flavour: None,
            targets,
            warnings,
        };
        if let Err(e) = prober.check_tools().await {
            let _ = prober.cleanup().await;
            return Err(e);
        }
        Ok(prober)
    }

    /// Placement, pod, node, image, flavour, targets, baseline, cleanup.
    pub fn setup(&self) -> ProbeSetup {
        self.setup.clone()
    }

    /// Warnings met while placing and probing.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    /// Runs the tool check in the container; fails with one line naming the image and the missing tool.
    async fn check_tools(&mut self) -> Result<(), ProbeError> {
        let out = match self.exec_collect(tool_check_argv()).await {
            Err(ProbeError::Exec { message, .. }) if message.contains("\"sh\": executable file not found") => {
                let hint = format!("the probe runs its checks with sh; use --probe-image (e.g. {DEFAULT_IMAGE})");
                return Err(ProbeError::MissingTool { image: self.req.image.clone(), tool: "sh".into(), hint });
            }
            other => other?,
        };
        let report = ToolReport::parse(&out);
        let needs_ping = self.targets.iter().any(|t| matches!(t.method, Method::Icmp(_)));
        let needs_http = self.targets.iter().any(|t| matches!(t.method, Method::Http(_)));
        let hint = format!("choose an image that has it with --probe-image (e.g. {DEFAULT_IMAGE})");
        let image = self.req.image.clone();
        if needs_ping {
            if report.ping.is_none() {
                return Err(ProbeError::MissingTool { image, tool: "ping".into(), hint });
            }
            if let Some(problem) = report.ping_problem() {
                return Err(ProbeError::MissingTool { image, tool: "usable ping".into(), hint: problem });
            }
        }
        if needs_http && report.http_problem().is_some() {
            let tool = if report.curl.is_none() { "curl" } else { "sleep" };
            return Err(ProbeError::MissingTool { image, tool: tool.into(), hint });
        }
        self.flavour = report.ping_flavour;
        self.setup.ping_flavour = report.ping_flavour.map(|f| match f {
            PingFlavour::Iputils => "iputils".to_string(),
            PingFlavour::BusyBox => "busybox".to_string(),
        });
        Ok(())
    }

    /// Runs `argv` in the probe container and returns its stdout (the command must succeed).
    async fn exec_collect(&self, argv: Vec<String>) -> Result<String, ProbeError> {
        let exec_err = |message: String| ProbeError::Exec { pod: self.pod.clone(), message };
        let mut proc = exec(&self.api, &self.pod, &self.container, argv).await.map_err(|e| exec_err(one_line(&e)))?;
        let status = proc.take_status();
        let mut stdout = String::new();
        let mut stderr = String::new();
        let (out, err) = (proc.stdout(), proc.stderr());
        let read_out = async {
            if let Some(mut o) = out {
                let _ = tokio::io::AsyncReadExt::read_to_string(&mut o, &mut stdout).await;
            }
        };
        let read_err = async {
            if let Some(mut e) = err {
                let _ = tokio::io::AsyncReadExt::read_to_string(&mut e, &mut stderr).await;
            }
        };
        tokio::join!(read_out, read_err);
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        if let Some(s) = status.filter(|s| s.status.as_deref() == Some("Failure")) {
            let msg = s.message.unwrap_or_default();
            let detail = if stderr.trim().is_empty() { msg } else { format!("{msg}: {}", stderr.trim()) };
            return Err(exec_err(one_line(&detail)));
        }
        Ok(stdout)
    }

    /// Probes every target for the baseline; results are kept in [`Prober::setup`]. Unreachable targets are an
    /// error unless `force` (then a warning).
    pub async fn baseline(&mut self) -> Result<Vec<TargetResult>, ProbeError> {
        let (_stop_tx, stop_rx) = watch::channel(false);
        let this = &*self;
        let interval = this.req.interval;
        let runs = this.targets.iter().map(|t| {
            let spec = this.spec(t, this.req.baseline);
            let stop = stop_rx.clone();
            async move {
                match spec {
                    Ok(spec) => run_probe(spec, stop, None).await,
                    Err(reason) => cannot_measure(t, interval, reason),
                }
            }
        });
        let series = futures::future::join_all(runs).await;
        let results: Vec<TargetResult> =
            self.targets.iter().zip(series).map(|(t, s)| target_result(t.planned.clone(), &s)).collect();
        self.setup.baseline = results.clone();
        let cannot: Vec<String> = results
            .iter()
            .filter_map(|r| r.not_measured.as_ref().filter(|why| !network_reason(why)).map(|why| (r, why)))
            .map(|(r, why)| format!("{}: {why}", r.target.target))
            .collect();
        if !cannot.is_empty() {
            return Err(ProbeError::CannotMeasure(cannot));
        }
        let unreachable: Vec<String> = results
            .iter()
            .filter(|r| r.analysis.as_ref().is_none_or(|a| a.received == 0))
            .map(|r| match &r.not_measured {
                Some(why) => format!("{} ({why})", r.target.target),
                None => r.target.target.clone(),
            })
            .collect();
        if !unreachable.is_empty() {
            if !self.req.force {
                return Err(ProbeError::Unreachable(unreachable));
            }
            self.warnings.push(format!(
                "the baseline found {} unreachable: {} (going on: --force)",
                plural_targets(unreachable.len()),
                unreachable.join(", ")
            ));
        }
        Ok(results)
    }

    /// Starts one long-running probe per target (bounded by `bound` inside the container); returns once every
    /// probe's exec stream is open (or failed to open).
    pub async fn start(&mut self) -> Result<RunningProbe, ProbeError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = mpsc::channel(self.targets.len().max(1));
        let mut probes = Vec::new();
        let mut opened = Vec::new();
        for t in &self.targets {
            let (open_tx, open_rx) = oneshot::channel();
            let task = match self.spec(t, self.req.bound) {
                Ok(spec) => {
                    let stop = stop_rx.clone();
                    let done = done_tx.clone();
                    tokio::spawn(async move {
                        let series = run_probe(spec, stop, Some(open_tx)).await;
                        let _ = done.send(()).await;
                        series
                    })
                }
                Err(reason) => {
                    let series = cannot_measure(t, self.req.interval, reason);
                    let done = done_tx.clone();
                    let _ = open_tx.send(());
                    tokio::spawn(async move {
                        let _ = done.send(()).await;
                        series
                    })
                }
            };
            opened.push(open_rx);
            probes.push((t.planned.clone(), task));
        }
        futures::future::join_all(opened).await;
        Ok(RunningProbe { stop: stop_tx, probes, done: done_rx, ended: 0 })
    }

    /// Deletes what [`Prober::place`] created (idempotent). Returns what was done, for the report.
    pub async fn cleanup(&mut self) -> Result<String, ProbeError> {
        if let Some(done) = &self.setup.cleanup {
            return Ok(done.clone());
        }
        let done = match &mut self.placed {
            Placed::Pod(guard) => guard.delete().await?,
            Placed::Ephemeral { pod, container } => format!(
                "ephemeral container {container} remains in pod {pod}'s spec (Kubernetes cannot remove it); the \
                 plugin stopped reading its probes, which end by themselves within their in-container bound ({}), \
                 and the container's keep-alive ends after its lifetime ({})",
                crate::duration::format(self.req.bound),
                crate::duration::format(self.req.lifetime())
            ),
        };
        self.setup.cleanup = Some(done.clone());
        Ok(done)
    }

    /// The command line and parser for one target, running for `deadline`.
    fn spec(&self, target: &Target, deadline: Duration) -> Result<ProbeSpec, String> {
        let (argv, kind) = match &target.method {
            Method::Icmp(host) => {
                let flavour = self.flavour.ok_or("the probe container has no usable ping")?;
                let opts = PingOptions { interval: self.req.interval, deadline };
                (ping_argv(flavour, host, &opts).map_err(|e| e.to_string())?, Kind::Ping(PingParser::new()))
            }
            Method::Http(url) => {
                let opts = http_options(self.req.interval, deadline);
                (http_probe_argv(url, &opts).map_err(|e| e.to_string())?, Kind::Http(HttpParser::new()))
            }
        };
        Ok(ProbeSpec {
            api: self.api.clone(),
            pod: self.pod.clone(),
            container: self.container.clone(),
            argv,
            kind,
            target: target.planned.target.clone(),
            interval: self.req.interval,
            deadline,
        })
    }
}

/// Whether a reason a target could not be measured is the network's (ping's own `ping: connect: Network is
/// unreachable`, `ping: unknown host`, `From X: Destination Host Unreachable`) rather than the probe's (a ping without
/// per-reply output, no permission for a raw socket, an exec failure): the former is an unreachable target.
fn network_reason(reason: &str) -> bool {
    let tool = ["permission denied", "Operation not permitted", "are you root"];
    (reason.starts_with("ping: ") || reason.starts_with("From ")) && !tool.iter().any(|t| reason.contains(t))
}

/// HTTP probe options at `interval`: each request may take 5 intervals, at least 0.5 s, at most 60 s.
fn http_options(interval: Duration, deadline: Duration) -> HttpProbeOptions {
    let max_time = (interval * 5).clamp(Duration::from_millis(500), Duration::from_secs(60));
    HttpProbeOptions { interval, deadline, max_time }
}

/// Checks the interval and bounds before anything is created.
fn validate(req: &ProbeRequest) -> Result<(), ProbeError> {
    let host = Host::Ipv4(std::net::Ipv4Addr::LOCALHOST);
    let invalid = |e: CommandError| ProbeError::Invalid(e.to_string());
    for deadline in [req.baseline, req.bound] {
        ping_argv(PingFlavour::Iputils, &host, &PingOptions { interval: req.interval, deadline }).map_err(invalid)?;
    }
    Ok(())
}

/// The node for the prober pod: `pinned` (checked), else neither the VM's node nor one `check` expects it to
/// migrate to.
async fn choose_node(
    client: &kube::Client,
    vmi: &VirtualMachineInstance,
    launchers: &[Pod],
    pinned: Option<&str>,
) -> Result<placement::NodeChoice, ProbeError> {
    let nodes: Vec<Node> =
        Api::all(client.clone()).list(&ListParams::default()).await.map_err(api("list nodes"))?.items;
    let source = vmi.status.as_ref().and_then(|s| s.node_name.as_deref());
    let targets = placement::expected_targets(vmi, &nodes, launchers);
    let choice = match pinned {
        Some(name) => placement::pinned_node(&nodes, name, source, &targets),
        None => placement::choose_node(&nodes, source, &targets),
    };
    choice.map_err(|e| ProbeError::Placement(e.to_string()))
}

/// Creates the prober pod on `node`; a Pod Security refusal is said in words.
async fn create_pod(
    pods: &Api<Pod>,
    req: &ProbeRequest,
    node: &str,
    lifetime: Duration,
) -> Result<PodGuard, ProbeError> {
    let name = placement::prober_pod_name(&req.vm, random_seed(&req.vm));
    let pod = placement::prober_pod(&name, &req.image, node, lifetime);
    // Armed before the request: if this future is dropped (Ctrl-C) while the create is in flight, the guard deletes
    // the pod by its name (a 404 then means the create never happened).
    let mut guard = PodGuard { api: pods.clone(), name, armed: true };
    match pods.create(&PostParams::default(), &pod).await {
        Ok(_) => Ok(guard),
        Err(e) => {
            // An answer from the server means nothing was created (and on 409 the name is someone else's pod); only
            // a lost answer leaves the guard armed.
            if code(&e).is_some() {
                guard.armed = false;
            }
            match pod_security(&e, "the prober pod") {
                Some(why) => Err(ProbeError::Placement(why)),
                None => Err(api(format!("create the prober pod on node {node}"))(e)),
            }
        }
    }
}

/// A seed for a generated name: `RandomState` is randomly keyed per process.
fn random_seed(salt: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(salt.as_bytes());
    h.finish()
}

/// Adds the ephemeral probe container to pod `name` (refusing the VM's own virt-launcher pod) and waits until it
/// runs; returns its name and the pod's node.
async fn add_ephemeral(
    pods: &Api<Pod>,
    vmi: &VirtualMachineInstance,
    req: &ProbeRequest,
    name: &str,
    target: Option<&str>,
    lifetime: Duration,
) -> Result<(String, Option<String>), ProbeError> {
    let pod = match pods.get(name).await {
        Ok(p) => p,
        Err(e) if code(&e) == Some(404) => {
            return Err(ProbeError::Placement(format!("--probe-from: pod {name} not found")));
        }
        Err(e) => return Err(api(format!("get pod {name}"))(e)),
    };
    if let Some(why) = placement::launcher_refusal(&pod, &req.vm, vmi.metadata.uid.as_deref()) {
        return Err(ProbeError::Refused(format!("--probe-from refused: {why}")));
    }
    let container = placement::ephemeral_name(random_seed(name));
    let spec = placement::ephemeral_container(&container, &req.image, target, lifetime);
    let patch = Patch::Strategic(placement::ephemeral_patch(&spec));
    match pods.patch_ephemeral_containers(name, &PatchParams::default(), &patch).await {
        Ok(_) => {}
        Err(e) => {
            return Err(match pod_security(&e, &format!("the ephemeral probe container in pod {name}")) {
                Some(why) => ProbeError::Placement(why),
                None => api(format!("add an ephemeral probe container to pod {name}"))(e),
            });
        }
    }
    wait_running(pods, name, &container, true).await?;
    Ok((container, pod.spec.and_then(|s| s.node_name)))
}

/// Watches pod `name` until `container` runs; a failure to start (image pull, ...) is an error in words.
async fn wait_running(pods: &Api<Pod>, name: &str, container: &str, ephemeral: bool) -> Result<(), ProbeError> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = watcher(pods.clone(), config).default_backoff().applied_objects().boxed();
    let mut last: Option<String> = None;
    let wait = async {
        while let Some(pod) =
            stream.try_next().await.map_err(|e| ProbeError::Placement(format!("watch pod {name}: {e}")))?
        {
            match placement::readiness(&pod, container, ephemeral) {
                Readiness::Running => return Ok(()),
                Readiness::Failed(why) => return Err(ProbeError::Placement(why)),
                Readiness::Starting(reason) => last = reason.or(last.take()),
            }
        }
        Err(ProbeError::Placement(format!("the watch of pod {name} ended before the probe container ran")))
    };
    match tokio::time::timeout(START_TIMEOUT, wait).await {
        Ok(r) => r,
        Err(_) => Err(ProbeError::Placement(format!(
            "probe container {container} in pod {name} did not start within {} s{}",
            START_TIMEOUT.as_secs(),
            last.map(|r| format!(" (last state: {r})")).unwrap_or_default()
        ))),
    }
}

async fn exec(api: &Api<Pod>, pod: &str, container: &str, argv: Vec<String>) -> Result<AttachedProcess, kube::Error> {
    let params = AttachParams::default().container(container).stdin(false).stdout(true).stderr(true);
    api.exec(pod, argv, &params).await
}

fn one_line(text: &dyn std::fmt::Display) -> String {
    text.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The parser of one probe's output.
enum Kind {
    Ping(PingParser),
    Http(HttpParser),
}

impl Kind {
    fn feed(&mut self, line: &str, at: UnixMicros) {
        match self {
            Kind::Ping(p) => {
                p.feed(line, Some(at));
            }
            Kind::Http(p) => {
                p.feed(line, Some(at));
            }
        }
    }

    fn finish(self, target: &str, interval: Duration, deadline: Duration) -> ProbeSeries {
        match self {
            Kind::Ping(p) => p.finish(target, interval, deadline).0,
            Kind::Http(p) => p.finish(target, interval).0,
        }
    }
}

/// Everything one probe run needs.
struct ProbeSpec {
    api: Api<Pod>,
    pod: String,
    container: String,
    argv: Vec<String>,
    kind: Kind,
    target: String,
    interval: Duration,
    deadline: Duration,
}

fn now_us() -> UnixMicros {
    jiff::Timestamp::now().as_microsecond()
}

fn series_cannot(target: &str, method: &str, interval: Duration, reason: String) -> ProbeSeries {
    ProbeSeries {
        target: target.to_string(),
        method: method.to_string(),
        requested_interval_us: i64::try_from(interval.as_micros()).unwrap_or(i64::MAX),
        samples: Vec::new(),
        end: ProbeEnd::CannotMeasure { reason },
    }
}

fn cannot_measure(t: &Target, interval: Duration, reason: String) -> ProbeSeries {
    series_cannot(&t.planned.target, &t.planned.method, interval, reason)
}

/// Runs one probe: streams its stdout and stderr line by line, stamped on receipt, until it exits or `stop` turns
/// true (then the stream is closed and the run counts as complete up to there). `opened` is told once the exec
/// stream is open (or failed).
async fn run_probe(
    spec: ProbeSpec,
    mut stop: watch::Receiver<bool>,
    opened: Option<oneshot::Sender<()>>,
) -> ProbeSeries {
    let ProbeSpec { api, pod, container, argv, mut kind, target, interval, deadline } = spec;
    let method = match kind {
        Kind::Ping(_) => "icmp",
        Kind::Http(_) => "http",
    };
    let proc = exec(&api, &pod, &container, argv).await;
    if let Some(o) = opened {
        let _ = o.send(());
    }
    let mut proc = match proc {
        Ok(p) => p,
        Err(e) => return series_cannot(&target, method, interval, format!("exec in pod {pod}: {}", one_line(&e))),
    };
    let status = proc.take_status();
    let mut out = proc.stdout().map(|o| BufReader::new(o).lines());
    let mut err = proc.stderr().map(|e| BufReader::new(e).lines());
    let mut stopped = *stop.borrow();
    let limit = tokio::time::sleep(deadline.saturating_add(READ_SLACK * 2));
    tokio::pin!(limit);
    let mut last_line = tokio::time::Instant::now();
    while !stopped && (out.is_some() || err.is_some()) {
        tokio::select! {
            line = async { out.as_mut()?.next_line().await.ok().flatten() }, if out.is_some() => match line {
                Some(l) => {
                    last_line = tokio::time::Instant::now();
                    kind.feed(&l, now_us())
                }
                None => out = None,
            },
            line = async { err.as_mut()?.next_line().await.ok().flatten() }, if err.is_some() => match line {
                Some(l) => {
                    last_line = tokio::time::Instant::now();
                    kind.feed(&l, now_us())
                }
                None => err = None,
            },
            changed = stop.changed() => stopped = changed.is_err() || *stop.borrow(),
            _ = &mut limit => stopped = true,
        }
    }
    let start_failure = if stopped {
        None
    } else {
        match status {
            Some(s) => s
                .await
                .filter(|s| s.status.as_deref() == Some("Failure") && s.reason.as_deref() != Some("NonZeroExitCode")),
            None => None,
        }
    };
    drop(out);
    drop(err);
    drop(proc);
    if let Some(s) = start_failure {
        let why = one_line(&s.message.unwrap_or_else(|| "the probe could not start".into()));
        return series_cannot(&target, method, interval, why);
    }
    let silent = last_line.elapsed();
    let mut series = kind.finish(&target, interval, deadline);
    if stopped && matches!(series.end, ProbeEnd::EndedEarly { .. }) {
        // Stopped on purpose: the run is complete up to the stop, if the probe was still talking then. iputils
        // (`-O`) and the HTTP loop print a line per request, answered or not; a silence longer than a few requests
        // means a target that stopped answering (BusyBox prints nothing for a lost request) or a stalled stream:
        // then the end is unknown, not "no loss".
        series.end = if silent > silence_limit(interval) {
            ProbeEnd::EndedEarly {
                reason: format!(
                    "no output for {:.1} s before the probe was stopped: the target stopped answering or the stream stalled",
                    silent.as_secs_f64()
                ),
            }
        } else {
            ProbeEnd::Completed
        };
    }
    series
}

/// How long a running probe may print nothing before its silence means something: six requests (an HTTP request
/// may take five intervals, see [`http_options`]) and two seconds (ping's one-second reply wait, and slack).
fn silence_limit(interval: Duration) -> Duration {
    interval.saturating_mul(6).saturating_add(Duration::from_secs(2))
}

/// The record's view of one probed series.
fn target_result(target: PlannedTarget, series: &ProbeSeries) -> TargetResult {
    let not_measured = match &series.end {
        ProbeEnd::CannotMeasure { reason } => Some(reason.clone()),
        _ => None,
    };
    let analysis = not_measured.is_none().then(|| analyse(series, None, AnalysisOptions::default()));
    TargetResult { target, analysis, not_measured }
}

/// The long-running probes, one per target.
pub struct RunningProbe {
    stop: watch::Sender<bool>,
    probes: Vec<(PlannedTarget, tokio::task::JoinHandle<ProbeSeries>)>,
    done: mpsc::Receiver<()>,
    ended: usize,
}

impl RunningProbe {
    /// Waits until every probe has ended by itself (its bound reached, or it failed).
    pub async fn finished(&mut self) {
        while self.ended < self.probes.len() {
            if self.done.recv().await.is_none() {
                return;
            }
            self.ended += 1;
        }
    }

    /// Waits `tail`, stops every probe, returns per target its series (ProbeSeries) — the caller analyses them
    /// against the migration timeline.
    pub async fn stop(mut self, tail: Duration) -> Vec<(PlannedTarget, ProbeSeries)> {
        if !tail.is_zero() {
            let ended = self.finished();
            let _ = tokio::time::timeout(tail, ended).await;
        }
        let _ = self.stop.send(true);
        let mut out = Vec::new();
        for (target, task) in std::mem::take(&mut self.probes) {
            let series = match task.await {
                Ok(s) => s,
                Err(e) => series_cannot(&target.target, &target.method, Duration::ZERO, format!("probe task: {e}")),
            };
            out.push((target, series));
        }
        out
    }
}

impl Drop for RunningProbe {
    fn drop(&mut self) {
        // Probes not collected by `stop` end now: their exec streams close with their tasks.
        let _ = self.stop.send(true);
    }
}

/// Per-target analyses of stopped probes without a migration timeline (`probe VM`).
pub fn results(series: &[(PlannedTarget, ProbeSeries)]) -> Vec<TargetResult> {
    series.iter().map(|(t, s)| target_result(t.clone(), s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prober_outlives_every_hop() {
        let mut req = ProbeRequest::from_args("vm", &ProbeArgs::default(), Duration::from_secs(245));
        assert_eq!(req.lifetime(), Duration::from_secs(3 + 245 + 120));
        req.hops = 10;
        assert_eq!(req.lifetime(), Duration::from_secs(3 + 2450 + 120));
        req.bound = Duration::MAX;
        assert_eq!(req.lifetime(), MAX_LIFETIME);
    }

    #[test]
    fn silence_counts_after_six_requests_and_two_seconds() {
        assert_eq!(silence_limit(Duration::from_millis(20)), Duration::from_millis(2120));
        assert_eq!(silence_limit(Duration::from_secs(10)), Duration::from_secs(62));
    }

    #[test]
    fn network_reasons_make_a_target_unreachable_tool_reasons_do_not() {
        assert!(network_reason("ping: connect: Network is unreachable"));
        assert!(network_reason("ping: vm.example: Name or service not known"));
        assert!(network_reason("From 10.0.0.1: Destination Host Unreachable"));
        assert!(!network_reason("ping: socket: Operation not permitted"));
        assert!(!network_reason("ping: permission denied (are you root?)"));
        assert!(!network_reason(
            "this ping (BusyBox without FEATURE_FANCY_PING) only reports whether the host is alive"
        ));
        assert!(!network_reason("exec in pod p: container not found"));
    }

    #[test]
    fn baseline_length_scales_with_the_interval() {
        assert_eq!(baseline_for(Duration::from_millis(20)), Duration::from_secs(3));
        assert_eq!(baseline_for(Duration::from_millis(450)), Duration::from_secs(5));
        assert_eq!(baseline_for(Duration::from_secs(2)), Duration::from_secs(20));
    }
}
