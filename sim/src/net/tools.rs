//! [`NetExec`]: the sim's [`ExecHandler`]. It emulates the probe tools the plugin runs (iputils and BusyBox
//! `ping`, the HTTP probe and tool-check scripts, see [`super::ping`] and [`super::scripts`]) against the
//! [`NetModel`], answers as the container's image would (the scenario's `images`: missing tools, ping flavour),
//! hands every other command to [`BasicExec`], and runs commands for real on the host when asked
//! ([`super::realexec`]: for the whole sim, or per container with an image named [`HOST_EXEC_IMAGE`]).
//!
//! Timing: an emulated process runs on the sim clock (`ping -i 0.02` sends every 20 simulated ms; its `-D`
//! timestamps and the HTTP probe's `date +%s.%N` are the simulated clock's Unix time, the same clock as every
//! timestamp in the cluster's objects). Each line is written [`lag`] after the instant it describes (0.5 simulated
//! seconds plus 100 real ms), because KubeVirt's migration driver learns of a switchover up to one 0.4 s monitor
//! tick after the instant it stamps on it: the emulation decides a request's fate only once it can know. The
//! printed times are unaffected; BusyBox users who stamp lines on receipt see the lines shifted by that constant.
//!
//! A missing tool: exec'ing it directly fails as containerd fails it (an `InternalError` status
//! `error executing command in container: failed to exec in container: failed to start exec "<id>": OCI runtime
//! exec failed: exec failed: unable to start container process: exec: "ping": executable file not found in $PATH:
//! unknown`, no exit code); inside the plugin's scripts the shell's own rules apply (see [`super::scripts`]).
//!
//! Every emulated or host process is counted from its start until it is gone ([`NetExec::running`]); a process
//! stops as soon as its client is gone (the receiver dropped).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::model::{Micros, NetModel, Owner, reachable};
use super::ping::{self, Flavour, Invocation, PingRun, PlainRun};
use super::program::{Emit, Fixed, Program};
use super::realexec::{ProcessCount, RealExec, Running, exec_id, runtime_start_error};
use super::scripts::{self, HttpRun, Image, Script};
use crate::api::Store;
use crate::api::exec::BasicExec;
use crate::api::hooks::{ExecHandler, ExecOutput, ExecRequest};
use crate::api::resources::PODS;
use crate::scenario::ImageTools;

/// Containers whose image is this (any tag) run their commands for real on the host.
pub const HOST_EXEC_IMAGE: &str = "vmmigrate-sim/host-exec";

/// How often a running probe looks its target's owner up again (simulated).
const OWNER_REFRESH_US: Micros = 1_000_000;

/// The delay between the instant a line describes and its writing, in simulated time, at clock speed `speed`.
pub fn lag(speed: f64) -> Duration {
    Duration::from_millis(500) + Duration::from_millis(100).mul_f64(speed.max(0.001))
}

fn micros(t: jiff::Timestamp) -> Micros {
    t.as_microsecond()
}

/// The repository of an image reference, without registry defaults, tag or digest (`nicolaka/netshoot`).
pub fn repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    let image = match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => image,
    };
    image.strip_prefix("docker.io/library/").or_else(|| image.strip_prefix("docker.io/")).unwrap_or(image)
}

/// What an image has: the scenario's entry for it (exactly, else by repository), else a netshoot-like toolset.
pub fn image_tools(images: &BTreeMap<String, ImageTools>, image: &str) -> Image {
    let entry =
        images.get(image).or_else(|| images.iter().find(|(k, _)| repository(k) == repository(image)).map(|e| e.1));
    match entry {
        Some(t) => {
            Image { missing: t.missing_tools.clone(), ping: Flavour::from_variant(t.ping_variant.as_deref()), uid: 0 }
        }
        None => Image::default(),
    }
}

/// The container's spec (regular or ephemeral) in a pod.
fn container_spec<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .filter_map(|l| pod["spec"][*l].as_array())
        .flatten()
        .find(|c| c["name"] == name)
}

/// The image of the exec'd container and the user it runs as (its `runAsUser`, else the pod's, else root).
pub fn container_image(pod: &Value, container: &str) -> (String, u32) {
    let spec = container_spec(pod, container);
    let image = spec.and_then(|c| c["image"].as_str()).unwrap_or_default().to_string();
    let uid = spec
        .and_then(|c| c.pointer("/securityContext/runAsUser"))
        .or_else(|| pod.pointer("/spec/securityContext/runAsUser"))
        .and_then(Value::as_u64)
        .and_then(|u| u32::try_from(u).ok())
        .unwrap_or(0);
    (image, uid)
}

/// What an exec'd command turns into.
enum Plan {
    /// An emulated process; `target` is the address it probes, if any.
    Emulate { program: Box<dyn Program>, target: Option<String> },
    /// The runtime cannot start it.
    StartFailed(String),
    /// Not a probe tool: [`BasicExec`] runs it.
    Basic(Vec<String>),
}

/// The probe tools' [`ExecHandler`].
pub struct NetExec {
    model: NetModel,
    images: BTreeMap<String, ImageTools>,
    host: RealExec,
    all_real: bool,
    running: ProcessCount,
}

impl NetExec {
    /// Emulates the tools against `model`, for containers whose images are described by `images` (the scenario's).
    pub fn new(model: NetModel, images: BTreeMap<String, ImageTools>) -> Self {
        Self { model, images, host: RealExec::default(), all_real: false, running: ProcessCount::default() }
    }

    /// Runs every command for real on the host instead, after `prefix` (e.g. `["ip", "netns", "exec", "NS"]`).
    pub fn real(mut self, prefix: Vec<String>) -> Self {
        self.host = RealExec::new(prefix);
        self.all_real = true;
        self
    }

    /// Processes (emulated or on the host) started here that still run.
    pub fn running(&self) -> usize {
        self.running.get() + self.host.running()
    }

    fn plan(&self, image: &Image, argv: &[String], at: Micros) -> Plan {
        let Some(cmd) = argv.first() else { return Plan::Basic(argv.to_vec()) };
        let name = cmd.rsplit('/').next().unwrap_or(cmd);
        if !image.has(name) {
            return Plan::StartFailed(runtime_start_error(cmd, &exec_id()));
        }
        match name {
            "ping" => self.plan_ping(image, argv, at),
            "sh" => match scripts::recognise(argv) {
                Some(Script::ToolCheck { tools }) => Plan::Emulate {
                    program: Box::new(Fixed::new(at, scripts::tool_check(image, &tools, at), 0)),
                    target: None,
                },
                Some(Script::Http { url, interval_us, deadline_s, max_time_us }) => {
                    let run = HttpRun::prepare(&url, interval_us, deadline_s, max_time_us, image);
                    let ip = self.model.resolve(run.host());
                    Plan::Emulate { program: Box::new(run.start(at, ip.is_some())), target: ip }
                }
                Some(Script::BadArguments) => {
                    let err = vec![Emit::Err("sh: the HTTP probe needs URL INTERVAL DEADLINE MAX_TIME\n".into())];
                    Plan::Emulate { program: Box::new(Fixed::new(at, err, 2)), target: None }
                }
                // `sh -c "simple command"`: run the words as a command.
                None => match argv {
                    [_, c, script]
                        if c == "-c" && !script.contains(|ch: char| "|&;<>()$`\\\"'*?[#~=%\n".contains(ch)) =>
                    {
                        let words: Vec<String> = script.split_whitespace().map(str::to_string).collect();
                        if words.first().is_some_and(|w| w != "sh") {
                            self.plan(image, &words, at)
                        } else {
                            Plan::Basic(words)
                        }
                    }
                    _ => {
                        let err = vec![Emit::Err("sh: vmmigrate-sim emulates only the plugin's scripts\n".into())];
                        Plan::Emulate { program: Box::new(Fixed::new(at, err, 2)), target: None }
                    }
                },
            },
            _ => Plan::Basic(argv.to_vec()),
        }
    }

    fn plan_ping(&self, image: &Image, argv: &[String], at: Micros) -> Plan {
        let fixed = |out: Vec<Emit>, code| Plan::Emulate { program: Box::new(Fixed::new(at, out, code)), target: None };
        match ping::parse(image.ping, argv, image.uid) {
            Invocation::Version => {
                let (out, code) = image.ping.version();
                fixed(out, code)
            }
            Invocation::Usage(out, code) => fixed(out, code),
            Invocation::Run(args) => match self.model.resolve(&args.target) {
                None => {
                    Plan::Emulate { program: Box::new(ping::unknown_host(image.ping, &args.target, at)), target: None }
                }
                Some(ip) => {
                    let program: Box<dyn Program> = if image.ping == Flavour::BusyBoxPlain {
                        Box::new(PlainRun::new(args.target.clone(), at))
                    } else {
                        Box::new(PingRun::new(args, ip.clone(), at))
                    };
                    Plan::Emulate { program, target: Some(ip) }
                }
            },
        }
    }
}

impl ExecHandler for NetExec {
    fn start(&self, store: &Store, req: ExecRequest) -> mpsc::Receiver<ExecOutput> {
        let (image_name, uid) = container_image(&req.pod, &req.container);
        if self.all_real || repository(&image_name) == HOST_EXEC_IMAGE {
            return self.host.start(store, req);
        }
        let image = Image { uid, ..image_tools(&self.images, &image_name) };
        let at = micros(self.model.store().clock().now());
        match self.plan(&image, &req.command, at) {
            Plan::Basic(command) => {
                let guard = self.running.enter();
                let rx = BasicExec.start(store, ExecRequest { command, ..req });
                relay(rx, guard)
            }
            Plan::StartFailed(msg) => {
                let (tx, rx) = mpsc::channel(1);
                let _ = tx.try_send(ExecOutput::StartFailed(msg));
                rx
            }
            Plan::Emulate { program, target } => {
                let (tx, rx) = mpsc::channel(256);
                let guard = self.running.enter();
                let pod = PodRef::of(&req.namespace, &req.pod);
                tokio::spawn(drive(program, target, pod, self.model.clone(), tx, guard));
                rx
            }
        }
    }
}

/// Forwards another handler's output, counting the process until it ends or the client goes.
fn relay(mut inner: mpsc::Receiver<ExecOutput>, guard: Running) -> mpsc::Receiver<ExecOutput> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut guard = Some(guard);
        loop {
            tokio::select! {
                o = inner.recv() => match o {
                    Some(o) => {
                        if matches!(o, ExecOutput::Exit(_) | ExecOutput::StartFailed(_)) {
                            drop(guard.take());
                        }
                        if tx.send(o).await.is_err() { return }
                    }
                    None => return,
                },
                _ = tx.closed() => return,
            }
        }
    });
    rx
}

/// The pod a process runs in.
struct PodRef {
    namespace: String,
    name: String,
    uid: String,
}

impl PodRef {
    fn of(namespace: &str, pod: &Value) -> Self {
        let meta = |f: &str| pod["metadata"][f].as_str().unwrap_or_default().to_string();
        Self { namespace: namespace.to_string(), name: meta("name"), uid: meta("uid") }
    }

    /// Whether the pod is still there and not being deleted (a deleted pod's processes get SIGTERM).
    fn alive(&self, store: &Store) -> bool {
        store.get(&PODS, Some(&self.namespace), &self.name).is_ok_and(|p| {
            p["metadata"]["uid"].as_str().unwrap_or_default() == self.uid
                && p["metadata"].get("deletionTimestamp").is_none()
        })
    }
}

/// Exit code of a process killed by SIGTERM (ping does not catch it).
const SIGTERM_EXIT: i32 = 128 + 15;

/// Runs an emulated process on the sim clock, writing its output to `tx`, until it exits, the client goes, or its
/// pod is deleted (then it ends as killed by SIGTERM, as the kubelet stops the containers).
async fn drive(
    mut program: Box<dyn Program>,
    target: Option<String>,
    pod: PodRef,
    model: NetModel,
    tx: mpsc::Sender<ExecOutput>,
    guard: Running,
) {
    // The process is gone before its exit status is sent.
    let mut guard = Some(guard);
    let clock = model.store().clock().clone();
    // Output that depends on no network is written at once.
    let lag_us = if target.is_some() { lag(clock.speed()).as_micros() as Micros } else { 0 };
    let mut owner: Option<(Owner, Micros)> = None;
    loop {
        let now = micros(clock.now());
        let upto = now - lag_us;
        let emits = match &target {
            Some(ip) => {
                let events = model.switchovers();
                if owner.as_ref().is_none_or(|(_, at)| now - at >= OWNER_REFRESH_US) {
                    if !pod.alive(model.store()) {
                        drop(guard.take());
                        let _ = tx.send(ExecOutput::Exit(SIGTERM_EXIT)).await;
                        return;
                    }
                    owner = Some((super::model::owner_of(model.store(), &events, ip), now));
                }
                let who = owner.as_ref().map_or(Owner::Nobody, |(o, _)| o.clone());
                program.advance(upto, &mut |at| reachable(ip, &who, &events, at))
            }
            None => program.advance(upto, &mut |_| None),
        };
        for e in emits {
            let (msg, last) = match e {
                Emit::Out(s) => (ExecOutput::Stdout(Bytes::from(s)), false),
                Emit::Err(s) => (ExecOutput::Stderr(Bytes::from(s)), false),
                Emit::Exit(code) => {
                    drop(guard.take());
                    (ExecOutput::Exit(code), true)
                }
            };
            if tx.send(msg).await.is_err() || last {
                return;
            }
        }
        let Some(next) = program.next_due() else { return };
        let wait_us = u64::try_from(next + lag_us - micros(clock.now())).unwrap_or(0);
        let real =
            clock.to_real(Duration::from_micros(wait_us)).clamp(Duration::from_millis(1), Duration::from_millis(200));
        tokio::select! {
            _ = tokio::time::sleep(real) => {}
            _ = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn images_are_found_by_name_or_repository() {
        let images: BTreeMap<String, ImageTools> = BTreeMap::from([
            ("nicolaka/netshoot:v0.14".to_string(), ImageTools::default()),
            (
                "busybox:1.36".to_string(),
                ImageTools { missing_tools: vec!["curl".into()], ping_variant: Some("busybox".into()) },
            ),
        ]);
        assert_eq!(repository("docker.io/library/busybox:1.36@sha256:abc"), "busybox");
        assert_eq!(repository("registry:5000/team/img"), "registry:5000/team/img");
        assert_eq!(image_tools(&images, "busybox:1.37").ping, Flavour::BusyBox);
        assert_eq!(image_tools(&images, "docker.io/library/busybox:1.36").missing, vec!["curl".to_string()]);
        assert_eq!(image_tools(&images, "nicolaka/netshoot:latest"), Image::default());
        assert_eq!(image_tools(&images, "unknown/image"), Image::default());
    }

    #[test]
    fn container_image_and_user() {
        let pod = json!({"spec": {"securityContext": {"runAsUser": 1000},
            "containers": [{"name": "c", "image": "a:1"}],
            "ephemeralContainers": [{"name": "probe", "image": "nicolaka/netshoot:v0.14", "securityContext": {"runAsUser": 0}}]}});
        assert_eq!(container_image(&pod, "c"), ("a:1".into(), 1000));
        assert_eq!(container_image(&pod, "probe"), ("nicolaka/netshoot:v0.14".into(), 0));
    }

    #[test]
    fn lag_covers_a_monitor_tick_and_scheduling() {
        assert_eq!(lag(1.0), Duration::from_millis(600));
        assert_eq!(lag(50.0), Duration::from_millis(5500));
    }
}
