//! The real-network harness of the downtime probe's accuracy test (issue 5, "Accuracy"): two private network
//! namespaces joined by a veth pair, a cut of that link with its real instants, and one measurement of real iputils
//! `ping` run through vmmigrate-sim's real-exec mode while the sim migrates a VM whose address is the veth's far end.
//!
//! Safety (the lesson of `testdata/ping/capture.sh`): every packet stays inside the two namespaces made here. The
//! veth pair is created inside the prober's namespace with its peer moved straight into the VM's, so no interface,
//! address or route ever appears in the host's namespace; neither namespace has a default route (checked), so a
//! probe can never leave through the host's eth0. Both namespaces are deleted on drop (also when a test panics),
//! which destroys the pair with them.
//!
//! Unique per process and per pair: namespace names carry the pid and a counter, so tests running in parallel
//! (threads or processes) never share a namespace. Each pair also gets a /30 of `10.213.0.0/16` derived from the same
//! pid and counter (distinct within a process, and between processes unless their pids are a multiple of 1,024
//! apart); even two pairs with the same /30 would not meet, as each pair's addresses exist only inside its own two
//! namespaces.
#![allow(dead_code)] // the test and the bench use different parts

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{ApiResource, AttachParams, DynamicObject, PostParams};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use kubectl_vmmigrate::probe::analysis::{
    AnalysisOptions, MigrationTimeline, PhaseMark, TargetAnalysis, UnixMicros, analyse,
};
use kubectl_vmmigrate::probe::command::{PingFlavour, PingOptions, ping_argv};
use kubectl_vmmigrate::probe::ping::{PingParser, PingSummary};
use kubectl_vmmigrate::probe::target::Host;
use vmmigrate_sim::api::resources::{PODS, VMIMS};
use vmmigrate_sim::kubevirt::SwitchoverEvent;
use vmmigrate_sim::scenario::Scenario;
use vmmigrate_sim::{ClusterOptions, ClusterSim};

/// The scenario of the test cluster; `@VM_IP@` stands for the VM end of the pair.
const CLUSTER_YAML: &str = include_str!("cluster.yaml");
/// Namespace, VM and nodes of [`CLUSTER_YAML`].
pub const NAMESPACE: &str = "netns";
pub const VM: &str = "vm-netns";
const PROBER_NODE: &str = "prober";
/// Interface names; they exist only inside the two private namespaces, so they need not be unique.
const PROBER_IF: &str = "vmm-prober";
const VM_IF: &str = "vmm-vm";

/// Why the real-network test cannot run here, if it cannot: not root, no `ip`, no iputils `ping`.
/// Network-namespace support itself is found out by [`Netns::create`].
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root (network namespaces and veth pairs need CAP_NET_ADMIN)".into());
    }
    match output(&["ip", "-V"]) {
        Ok(_) => {}
        Err(e) => return Some(format!("`ip` (iproute2) is not usable: {e}")),
    }
    match output(&["ping", "-V"]) {
        Ok(v) if v.contains("iputils") => None,
        Ok(v) => Some(format!("`ping` is not iputils ping: {}", v.trim())),
        Err(e) => Some(format!("iputils `ping` is not usable: {e}")),
    }
}

/// A fresh pair of namespaces for `test`, or `None` after saying loudly on stderr why the test is skipped. When the
/// environment variable `CI` is `true`, a test that cannot run fails instead: in CI it must run.
pub fn netns_or_skip(test: &str) -> Option<Netns> {
    let reason = match unavailable() {
        Some(reason) => reason,
        None => match Netns::create() {
            Ok(n) => return Some(n),
            Err(e) => format!("cannot set up the network namespaces: {e}"),
        },
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: the real-network probe test must run in CI (CI=true) but cannot: {reason}");
    }
    // Written to the stderr handle itself: libtest captures `eprintln!` of passing tests, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!! SKIPPED {test}: {reason}\n!!!!! (it needs root, iproute2 `ip`, iputils `ping` and network \
         namespaces; in CI, where CI=true, it fails instead)\n"
    );
    None
}

/// Runs `argv` (never through a shell), returning its stdout, or its stderr as the error.
fn output(argv: &[&str]) -> Result<String, String> {
    let (program, args) = argv.split_first().ok_or("empty command")?;
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", argv.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{}: {} {}", argv.join(" "), out.status, String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// An instant read on both clocks: the monotonic one for lengths, the system one to compare with ping's `-D`
/// timestamps and the sim's (at speed 1 the sim's clock is the system clock).
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    pub mono: Instant,
    pub unix_us: UnixMicros,
}

impl Stamp {
    pub fn now() -> Self {
        let mono = Instant::now();
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Stamp { mono, unix_us: i64::try_from(unix.as_micros()).unwrap_or(i64::MAX) }
    }
}

/// One cut of the link: the instants right before and right after the command that started it and the one that
/// ended it. The cut took effect somewhere inside each command.
#[derive(Clone, Copy, Debug)]
pub struct Cut {
    pub start: (Stamp, Stamp),
    pub end: (Stamp, Stamp),
}

fn ms_between(a: Instant, b: Instant) -> f64 {
    b.saturating_duration_since(a).as_secs_f64() * 1000.0
}

impl Cut {
    /// Shortest it can have lasted: from the end of the starting command to the start of the ending one.
    pub fn min_ms(&self) -> f64 {
        ms_between(self.start.1.mono, self.end.0.mono)
    }

    /// Longest it can have lasted: from the start of the starting command to the end of the ending one.
    pub fn max_ms(&self) -> f64 {
        ms_between(self.start.0.mono, self.end.1.mono)
    }

    /// Its length, taken as the middle of [`Self::min_ms`]..[`Self::max_ms`].
    pub fn length_ms(&self) -> f64 {
        (self.min_ms() + self.max_ms()) / 2.0
    }

    /// ± this much on [`Self::length_ms`].
    pub fn uncertainty_ms(&self) -> f64 {
        (self.max_ms() - self.min_ms()) / 2.0
    }

    /// Its start on the system clock (the middle of the starting command).
    pub fn start_unix_us(&self) -> UnixMicros {
        (self.start.0.unix_us + self.start.1.unix_us) / 2
    }

    /// Its end on the system clock (the middle of the ending command).
    pub fn end_unix_us(&self) -> UnixMicros {
        (self.end.0.unix_us + self.end.1.unix_us) / 2
    }
}

/// Two private network namespaces, "prober" and "VM", joined by a veth pair. Deleted on drop.
#[derive(Debug)]
pub struct Netns {
    pub prober: String,
    pub vm: String,
    pub prober_ip: Ipv4Addr,
    pub vm_ip: Ipv4Addr,
}

static NEXT_PAIR: AtomicU32 = AtomicU32::new(0);

impl Netns {
    /// Creates both namespaces and the pair, and checks that the VM end answers a ping from the prober's side.
    pub fn create() -> Result<Netns, String> {
        let pid = std::process::id();
        let n = NEXT_PAIR.fetch_add(1, Ordering::SeqCst);
        // A /30 of 10.213.0.0/16 (16,384 of them) per process and pair.
        let slot = (pid.wrapping_mul(16).wrapping_add(n) % 16_384) * 4;
        let base = u32::from(Ipv4Addr::new(10, 213, 0, 0)) + slot;
        let net = Netns {
            prober: format!("vmmn-p-{pid}-{n}"),
            vm: format!("vmmn-v-{pid}-{n}"),
            prober_ip: Ipv4Addr::from(base + 1),
            vm_ip: Ipv4Addr::from(base + 2),
        };
        // A namespace left by a killed process that had our pid: nobody else can own these names now.
        net.delete();
        net.set_up()?;
        Ok(net)
    }

    fn set_up(&self) -> Result<(), String> {
        let (p, v) = (self.prober.as_str(), self.vm.as_str());
        let (pa, va) = (format!("{}/30", self.prober_ip), format!("{}/30", self.vm_ip));
        output(&["ip", "netns", "add", p])?;
        output(&["ip", "netns", "add", v])?;
        // Created inside the prober's namespace, the peer straight into the VM's: nothing touches the host's.
        output(&["ip", "-n", p, "link", "add", PROBER_IF, "type", "veth", "peer", "name", VM_IF, "netns", v])?;
        output(&["ip", "-n", p, "addr", "add", &pa, "dev", PROBER_IF])?;
        output(&["ip", "-n", v, "addr", "add", &va, "dev", VM_IF])?;
        for (ns, dev) in [(p, "lo"), (p, PROBER_IF), (v, "lo"), (v, VM_IF)] {
            output(&["ip", "-n", ns, "link", "set", "dev", dev, "up"])?;
        }
        for ns in [p, v] {
            let default = output(&["ip", "-n", ns, "route", "show", "default"])?;
            if !default.trim().is_empty() {
                return Err(format!("namespace {ns} has a default route ({}); refusing to probe", default.trim()));
            }
        }
        // Up to 3 s for the first answer (the pair needs a moment after `up`).
        output(&["ip", "netns", "exec", p, "ping", "-n", "-c", "1", "-w", "3", &self.vm_ip.to_string()])
            .map(drop)
            .map_err(|e| format!("the VM end does not answer: {e}"))
    }

    fn delete(&self) {
        for ns in [&self.prober, &self.vm] {
            let _ = output(&["ip", "netns", "del", ns]);
        }
    }

    /// The real-exec prefix that runs a command inside the prober's namespace.
    pub fn prober_exec_prefix(&self) -> Vec<String> {
        ["ip", "netns", "exec", &self.prober].map(String::from).to_vec()
    }

    /// The link between the two, to cut.
    pub fn link(&self) -> Link {
        Link { vm: self.vm.clone(), prober_ip: self.prober_ip }
    }

    /// Whether both namespaces still exist.
    pub fn exists(&self) -> bool {
        let list = output(&["ip", "netns", "list"]).unwrap_or_default();
        let names: Vec<&str> = list.lines().filter_map(|l| l.split_whitespace().next()).collect();
        names.contains(&self.prober.as_str()) && names.contains(&self.vm.as_str())
    }
}

/// The link of a [`Netns`] pair, as the VM's side sees it (cheap to clone into a blocking thread).
#[derive(Clone, Debug)]
pub struct Link {
    vm: String,
    prober_ip: Ipv4Addr,
}

impl Link {
    /// Cuts the link for `length` and restores it, returning the real instants.
    ///
    /// The cut is a blackhole route for the prober's address inside the VM's namespace: echo requests still arrive
    /// and the replies are dropped, as when a paused guest stops answering. It takes effect at the next reply, so the
    /// window is sharp (within one `ip` command), and the prober's own link and routes stay as they are, so ping
    /// keeps running and keeps printing `no answer yet` lines. The alternatives measured worse: taking a link down
    /// makes iputils fail `sendmsg` with "Network is unreachable" and stop (downtime-measurement notes), or measures
    /// the prober rather than the target; `tc netem loss 100%` needs the sch_netem module, which a CI kernel may
    /// lack.
    pub fn cut(&self, length: Duration) -> Result<Cut, String> {
        let route = format!("{}/32", self.prober_ip);
        let a0 = Stamp::now();
        output(&["ip", "-n", &self.vm, "route", "add", "blackhole", &route])?;
        let a1 = Stamp::now();
        std::thread::sleep(length);
        let d0 = Stamp::now();
        output(&["ip", "-n", &self.vm, "route", "del", "blackhole", &route])?;
        let d1 = Stamp::now();
        Ok(Cut { start: (a0, a1), end: (d0, d1) })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.delete();
    }
}

/// The test cluster's scenario with the VM's address.
pub fn scenario(vm_ip: Ipv4Addr) -> Scenario {
    Scenario::from_yaml(&CLUSTER_YAML.replace("@VM_IP@", &vm_ip.to_string()), "tests/netns/cluster.yaml")
        .expect("the netns scenario loads")
}

/// What one measurement saw.
#[derive(Debug)]
pub struct Measurement {
    /// The probe core's analysis of the real ping output.
    pub analysis: TargetAnalysis,
    pub summary: PingSummary,
    /// The cut, if one was asked for.
    pub cut: Option<Cut>,
    /// The sim's switchover instant (its clock is the system clock at speed 1), and when the test learnt of it.
    pub switchover_us: Option<UnixMicros>,
    pub switchover_seen: Option<Stamp>,
    /// The migration's final phase.
    pub phase: String,
    /// ping's raw output, for failure messages.
    pub output: String,
}

/// Before the migration: a second of probing. After the cut: a tail long enough for the recovery to show.
const BASELINE: Duration = Duration::from_secs(1);
const MIGRATION_BUDGET: Duration = Duration::from_secs(3);
const TAIL: Duration = Duration::from_millis(1500);

/// The test cluster at real speed (its clock is the system clock, as ping's `-D` timestamps are), every exec run for
/// real inside the prober's namespace.
pub async fn start_cluster(net: &Netns) -> ClusterSim {
    let options = ClusterOptions { speed: 1.0, real_exec: Some(net.prober_exec_prefix()), ..Default::default() };
    ClusterSim::start(&scenario(net.vm_ip), options).await.expect("the sim starts")
}

/// The switchover the sim announced and the cut made then.
#[derive(Debug, Default)]
pub struct AtSwitchover {
    /// The sim's switchover instant (system clock at speed 1).
    pub switchover_us: Option<UnixMicros>,
    /// When the test learnt of it.
    pub seen: Option<Stamp>,
    pub cut: Option<Cut>,
}

/// While `work` runs, waits for the sim's next switchover on `switchovers` (subscribed before the migration was
/// created) and then cuts the link for `cut`, if given; returns `work`'s result once it ends, with what happened.
/// When `work` ends first, nothing is cut.
pub async fn cut_at_switchover<T>(
    net: &Netns,
    mut switchovers: broadcast::Receiver<SwitchoverEvent>,
    cut: Option<Duration>,
    mut work: JoinHandle<T>,
) -> (T, AtSwitchover) {
    let event = tokio::select! {
        ev = switchovers.recv() => ev.ok(),
        done = &mut work => return (done.expect("the task cut at the switchover"), AtSwitchover::default()),
    };
    let mut seen = AtSwitchover { switchover_us: event.map(|ev| ev.at.as_microsecond()), ..Default::default() };
    seen.seen = Some(Stamp::now());
    if let (Some(length), Some(_)) = (cut, seen.switchover_us) {
        let link = net.link();
        let done = tokio::task::spawn_blocking(move || link.cut(length));
        seen.cut = Some(done.await.expect("the cut's thread").expect("cut the link"));
    }
    (work.await.expect("the task cut at the switchover"), seen)
}

/// Runs the real iputils `ping` from a prober pod of the sim (real exec in the prober's namespace) at `interval`,
/// migrates the VM, and when the sim announces the switchover cuts the link for `cut` (if any). Returns the probe
/// core's analysis of what ping printed, with the switchover on the timeline.
pub async fn measure(net: &Netns, cut: Option<Duration>, interval: Duration) -> Measurement {
    let cluster = start_cluster(net).await;
    let client = kube::Client::try_from(kube::Config::new(cluster.sim.url().parse().expect("the sim's URL")))
        .expect("a client for the sim");
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let prober = prober_pod(&pods).await;

    let deadline = BASELINE + MIGRATION_BUDGET + cut.unwrap_or_default() + TAIL;
    let options = PingOptions { interval, deadline };
    let target: Host = net.vm_ip.to_string().parse().expect("an IPv4 address is a host");
    let argv = ping_argv(PingFlavour::Iputils, &target, &options).expect("valid ping options");
    let ap = AttachParams::default().container("probe").stdout(true).stderr(true);
    let mut process = pods.exec(&prober, argv, &ap).await.expect("exec ping in the prober pod");
    let stdout = read_lines(process.stdout().expect("stdout"));
    let stderr = read_lines(process.stderr().expect("stderr"));

    let switchovers = cluster.kubevirt.subscribe_switchovers();
    tokio::time::sleep(BASELINE).await;
    let vmim = create_migration(client.clone()).await;
    let (lines, seen) = cut_at_switchover(net, switchovers, cut, stdout).await;
    let stderr_text = stderr.await.unwrap_or_default().join("\n");
    let _ = process.join().await;

    let vmim_obj = cluster.sim.store().get(&VMIMS, Some(NAMESPACE), &vmim).expect("the migration");
    let phase = vmim_obj.pointer("/status/phase").and_then(Value::as_str).unwrap_or_default().to_string();
    let timeline =
        MigrationTimeline { phases: phase_marks(&vmim_obj), switchover_us: seen.switchover_us, ..Default::default() };
    let mut parser = PingParser::new();
    for line in &lines {
        parser.feed(line, None);
    }
    let (series, summary) = parser.finish(&target.to_string(), interval, deadline);
    let analysis = analyse(&series, Some(&timeline), AnalysisOptions::default());
    cluster.shutdown().await;
    Measurement {
        analysis,
        summary,
        cut: seen.cut,
        switchover_us: seen.switchover_us,
        switchover_seen: seen.seen,
        phase,
        output: format!("{}\n{stderr_text}", lines.join("\n")),
    }
}

/// What one `kubectl-vmmigrate run --probe` saw.
#[derive(Debug)]
pub struct ProbeRun {
    pub status: Option<i32>,
    pub stderr: String,
    /// Its `-o json` document.
    pub doc: Value,
    pub at: AtSwitchover,
    /// Exec'd processes still running in the sim once the binary ended.
    pub running: usize,
    /// Prober pods (`vmmigrate-probe-*`) still in the cluster once the binary ended.
    pub probe_pods_left: Vec<String>,
}

impl ProbeRun {
    /// The analysis the binary reported for `ip` in the migration (not the baseline).
    pub fn analysis(&self, ip: Ipv4Addr) -> Option<&Value> {
        let ip = ip.to_string();
        let targets = self.doc.get("targets")?.as_array()?;
        targets.iter().find(|t| t["target"]["target"] == ip.as_str()).map(|t| &t["analysis"])
    }
}

/// Runs the real binary, `kubectl-vmmigrate run VM --probe --probe-target <VM address> --probe-interval <interval>
/// -o json`, against the test cluster, and cuts the link for `cut` (if any) when the sim switches over.
pub async fn run_probe(net: &Netns, cut: Option<Duration>, interval: Duration) -> ProbeRun {
    let cluster = start_cluster(net).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.sim.write_kubeconfig(&kubeconfig, Some(NAMESPACE)).expect("write the kubeconfig");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-vmmigrate"));
    cmd.env("HOME", dir.path()).env_remove("KUBECONFIG").env_remove("RUST_LOG").env("NO_COLOR", "1");
    cmd.args(["run", VM, "-n", NAMESPACE, "--probe", "--probe-target", &net.vm_ip.to_string(), "--probe-interval"]);
    // The tail must outlast the cut: the switchover comes moments before the migration ends, and an outage still open
    // when the probe stops is only a lower bound (`incomplete`), as the plugin rightly reports.
    let tail = (cut.unwrap_or_default() + TAIL).max(Duration::from_secs(2));
    cmd.arg(format!("{}ms", interval.as_millis())).args(["--probe-tail", &format!("{}ms", tail.as_millis())]);
    cmd.args(["-o", "json", "--kubeconfig"]);
    cmd.arg(&kubeconfig).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let switchovers = cluster.kubevirt.subscribe_switchovers();
    let run = tokio::task::spawn_blocking(move || cmd.output().expect("run the plugin"));
    let (out, at) = cut_at_switchover(net, switchovers, cut, run).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}): {}\nstderr: {stderr}", String::from_utf8_lossy(&out.stdout))
    });
    let running = cluster.net.running();
    let (pods, _) = cluster.sim.store().list(&PODS, Some(NAMESPACE));
    let probe_pods_left = pods
        .iter()
        .filter_map(|p| p.pointer("/metadata/name").and_then(Value::as_str))
        .filter(|n| n.starts_with("vmmigrate-probe-"))
        .map(str::to_string)
        .collect();
    cluster.shutdown().await;
    ProbeRun { status: out.status.code(), stderr, doc, at, running, probe_pods_left }
}

/// Collects the lines of an exec stream until it ends.
fn read_lines(stream: impl AsyncRead + Unpin + Send + 'static) -> JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut lines = Vec::new();
        let mut reader = tokio::io::BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            lines.push(line);
        }
        lines
    })
}

/// Creates a prober pod on the prober node (as `run --probe` does by default) and waits until it runs; returns its
/// name. Its image does not matter: the sim runs every exec for real in the prober's namespace.
async fn prober_pod(pods: &Api<Pod>) -> String {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "netns-prober"},
        "spec": {
            "nodeName": PROBER_NODE,
            "containers": [{"name": "probe", "image": "nicolaka/netshoot:v0.14", "command": ["sleep", "infinity"]}],
        },
    }))
    .expect("a pod");
    let name = pods.create(&PostParams::default(), &pod).await.expect("create the prober pod").metadata.name;
    let name = name.expect("a named pod");
    loop {
        let pod = pods.get(&name).await.expect("get the prober pod");
        if pod.status.and_then(|s| s.phase).as_deref() == Some("Running") {
            return name;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates a VirtualMachineInstanceMigration of the VM through the API (KubeVirt's admission runs); returns its name.
async fn create_migration(client: kube::Client) -> String {
    let ar = ApiResource {
        group: "kubevirt.io".into(),
        version: "v1".into(),
        api_version: "kubevirt.io/v1".into(),
        kind: "VirtualMachineInstanceMigration".into(),
        plural: "virtualmachineinstancemigrations".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client, NAMESPACE, &ar);
    let vmim: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstanceMigration",
        "metadata": {"generateName": "netns-"},
        "spec": {"vmiName": VM},
    }))
    .expect("a migration");
    let created = api.create(&PostParams::default(), &vmim).await.expect("create the migration");
    created.metadata.name.expect("a generated name")
}

/// The migration's phase transitions (`status.phaseTransitionTimestamps`, second precision).
fn phase_marks(vmim: &Value) -> Vec<PhaseMark> {
    let marks = vmim.pointer("/status/phaseTransitionTimestamps").and_then(Value::as_array);
    marks
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let phase = m.get("phase")?.as_str()?.to_string();
            let at: jiff::Timestamp = m.get("phaseTransitionTimestamp")?.as_str()?.parse().ok()?;
            Some(PhaseMark { phase, at_us: at.as_microsecond() })
        })
        .collect()
}
