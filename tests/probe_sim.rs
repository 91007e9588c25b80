//! `kubectl-vmmigrate probe VM` through the real binary against the whole simulated haos cluster (KubeVirt, kubelet,
//! the emulated probe tools on the network model): the three seed targets, the prober pod on `illusion` and gone
//! afterwards with no probe process left, the seed's missing-ping failure in one line, the refusal of the VM's own
//! virt-launcher pod, BusyBox ping, an ephemeral container in another pod, an unreachable baseline target, Ctrl-C.
//! Simulated time runs 20× faster than real time; no test asserts on wall-clock time.

use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use vmmigrate_sim::api::resources::PODS;
use vmmigrate_sim::scenario::{ImageTools, Scenario};
use vmmigrate_sim::{ClusterOptions, ClusterSim};

const NS: &str = "tenant-root";
const VM: &str = "vm-instance-haos";
const LAUNCHER: &str = "virt-launcher-vm-instance-haos-7x2kq";
/// An image the scenario declares without ping (the seed's failure).
const NO_PING: &str = "registry.example/haos-shell:15.2";
/// BusyBox built without FEATURE_FANCY_PING (`HOST is alive!` only), as in HAOS before 18.2.
const PLAIN_BUSYBOX: &str = "registry.example/haos-busybox:15.2";
/// An image without even a shell.
const DISTROLESS: &str = "registry.example/distroless:1";

struct Env {
    cluster: ClusterSim,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Env {
    async fn start() -> Env {
        let mut scenario = Scenario::builtin("haos").unwrap();
        scenario.images.insert(
            NO_PING.into(),
            ImageTools { missing_tools: vec!["ping".into(), "curl".into()], ping_variant: None },
        );
        let plain = ImageTools { missing_tools: vec![], ping_variant: Some("busybox-nofancy".into()) };
        scenario.images.insert(PLAIN_BUSYBOX.into(), plain);
        let none = ["sh", "ping", "curl", "sleep", "date"].map(String::from).to_vec();
        scenario.images.insert(DISTROLESS.into(), ImageTools { missing_tools: none, ping_variant: None });
        let opts = ClusterOptions { speed: 20.0, ..Default::default() };
        let cluster = ClusterSim::start(&scenario, opts).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        cluster.sim.write_kubeconfig(&kubeconfig, Some(NS)).unwrap();
        Env { cluster, dir, kubeconfig }
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("kubectl-vmmigrate"));
        cmd.env("HOME", self.dir.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        tokio::task::spawn_blocking(move || cmd.output().expect("run the plugin")).await.unwrap()
    }

    fn pods(&self) -> Vec<Value> {
        self.cluster.sim.store().list(&PODS, Some(NS)).0
    }

    fn probers(&self) -> Vec<Value> {
        self.pods()
            .into_iter()
            .filter(|p| p["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubectl-vmmigrate")
            .collect()
    }

    /// Created prober pods, from the audit log (the pods themselves are gone by the time we look).
    fn prober_creations(&self) -> Vec<Value> {
        self.cluster
            .sim
            .audit()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == format!("/api/v1/namespaces/{NS}/pods"))
            .filter_map(|r| r.request_body)
            .collect()
    }

    /// Nothing left behind: no prober pod, no probe process.
    async fn assert_clean(&self) {
        assert_eq!(self.probers(), Vec::<Value>::new(), "prober pods left behind");
        // A process ends as soon as its client goes; give the sim's tasks a moment to notice.
        for _ in 0..50 {
            if self.cluster.net.running() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(self.cluster.net.running(), 0, "probe processes left running");
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_doc(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\nstderr: {}", stdout(out), stderr(out)))
}

fn sigint(child: &Child) {
    let pid = child.id().to_string();
    let status = std::process::Command::new("sh").args(["-c", "kill -INT \"$1\"", "sh", &pid]).status().unwrap();
    assert!(status.success());
}

async fn wait(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait")).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_measures_the_three_seed_targets_from_illusion_and_leaves_nothing() {
    let env = Env::start().await;
    let out = env.run(&["probe", VM, "--duration", "8s", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json_doc(&out);
    let targets: Vec<(&str, &str)> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["target"]["target"].as_str().unwrap(), t["target"]["via"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        targets,
        [("10.244.0.57", "default"), ("192.168.1.150", "lan"), ("192.168.50.101", "tenant-root/vm-instance-haos")]
    );
    for t in doc["targets"].as_array().unwrap() {
        let a = &t["analysis"];
        assert!(a["received"].as_u64().unwrap() > 100, "{t}");
        assert_eq!(a["sent"], a["received"], "no migration, no loss: {t}");
        assert_eq!(a["downtime"]["status"], "belowResolution", "{t}");
        assert!(a["rtt"]["medianMs"].as_f64().is_some_and(|m| m > 0.0), "{t}");
    }
    let probe = &doc["probe"];
    assert_eq!(probe["placement"], "pod");
    assert_eq!(probe["node"], "illusion");
    assert_eq!(probe["image"], "nicolaka/netshoot:v0.14");
    assert_eq!(probe["pingFlavour"], "iputils");
    assert_eq!(probe["baseline"].as_array().map(Vec::len), Some(3));
    assert!(probe["cleanup"].as_str().unwrap().ends_with(" deleted"), "{probe}");
    let created = env.prober_creations();
    assert_eq!(created.len(), 1);
    let caps = &created[0]["spec"]["containers"][0]["securityContext"]["capabilities"];
    assert_eq!(caps, &json!({"add": ["NET_RAW"], "drop": ["ALL"]}));
    assert!(created[0]["spec"]["activeDeadlineSeconds"].as_i64().is_some());
    env.assert_clean().await;

    // The human table (wide: with the method) names the targets and the downtime resolution.
    let out = env.run(&["probe", VM, "--duration", "4s", "--probe-interval", "50ms", "-o", "wide"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let needles = ["10.244.0.57", "192.168.1.150", "192.168.50.101", "< 50 ms (no loss)", "on node illusion", "icmp"];
    for needle in needles {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
    env.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_while_probing_shows_each_injected_outage_within_one_interval() {
    let env = Env::start().await;
    let http = "http://192.168.50.101:8123/api/";
    let child = env.command(&["probe", VM, "--duration", "60s", "--probe-http", http, "-o", "json"]).spawn().unwrap();
    let execs = |env: &Env| env.cluster.sim.audit().iter().filter(|r| r.path.ends_with("/exec")).count();
    while execs(&env) < 9 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run = env.run(&["run", VM, "--skip-check", "-o", "json"]).await;
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let out = wait(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json_doc(&out);
    // haos.yaml: outageMs {"10.244.0.57": 180, "192.168.1.150": 220, "*": 180}.
    for (target, injected) in [("10.244.0.57", 180.0), ("192.168.1.150", 220.0), ("192.168.50.101", 180.0)] {
        let t = doc["targets"].as_array().unwrap().iter().find(|t| t["target"]["target"] == target).unwrap();
        let a = &t["analysis"];
        assert_eq!(a["windows"].as_array().map(Vec::len), Some(1), "{t}");
        assert_eq!(a["downtime"]["status"], "measured", "{t}");
        let ms = a["downtime"]["ms"].as_f64().unwrap();
        let resolution = a["downtime"]["resolutionMs"].as_f64().unwrap();
        assert!((ms - injected).abs() <= resolution, "{target}: {ms} ± {resolution} vs {injected}");
    }
    let t = doc["targets"].as_array().unwrap().iter().find(|t| t["target"]["target"] == http).unwrap();
    assert_eq!(t["target"]["method"], "http");
    let a = &t["analysis"];
    assert_eq!(a["windows"].as_array().map(Vec::len), Some(1), "{t}");
    let (ms, resolution) = (a["downtime"]["ms"].as_f64().unwrap(), a["downtime"]["resolutionMs"].as_f64().unwrap());
    assert!((ms - 180.0).abs() <= resolution, "HTTP: {ms} ± {resolution} vs 180");
    env.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_without_ping_fails_in_one_line_and_the_launcher_pod_is_refused() {
    let env = Env::start().await;
    let out = env.run(&["probe", VM, "--duration", "5s", "--probe-image", NO_PING]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().filter(|l| l.starts_with("error: ")).count(), 1, "{err}");
    let line = err.lines().find(|l| l.starts_with("error: ")).unwrap();
    assert!(line.contains(&format!("the probe image {NO_PING} has no ping")), "{err}");
    assert!(stdout(&out).is_empty());
    env.assert_clean().await;

    // haos.yaml declares alpine:3.22 without curl: fine for ping, not for --probe-http.
    let http = ["probe", VM, "--duration", "4s", "--probe-image", "alpine:3.22", "--probe-http", "http://10.244.0.57/"];
    let out = env.run(&http).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("error: the probe image alpine:3.22 has no curl"), "{}", stderr(&out));
    env.assert_clean().await;

    let before = env.cluster.sim.store().get(&PODS, Some(NS), LAUNCHER).unwrap();
    let out = env.run(&["probe", VM, "--probe-from", &format!("pod/{LAUNCHER}")]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("virt-launcher pod of VM vm-instance-haos") && err.contains("replaced during the migration"));
    let after = env.cluster.sim.store().get(&PODS, Some(NS), LAUNCHER).unwrap();
    assert_eq!(before["spec"], after["spec"], "no ephemeral container was added");
    assert_eq!(env.prober_creations().len(), 2, "only the first runs created prober pods");

    let out = env.run(&["probe", VM, "--duration", "4s", "--probe-image", DISTROLESS]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("error: the probe image {DISTROLESS} has no sh")), "{}", stderr(&out));
    env.assert_clean().await;

    let out = env.run(&["probe", VM, "--duration", "4s", "--probe-image", PLAIN_BUSYBOX]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: the probe cannot measure 10.244.0.57: this ping (BusyBox without FEATURE_FANCY_PING)")
    );
    env.assert_clean().await;

    let out = env.run(&["probe", VM, "--probe-from", "node/nowhere"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("error: --probe-from node/nowhere: node nowhere not found"), "{}", stderr(&out));
    assert_eq!(env.prober_creations().len(), 4, "nothing created for an unknown node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busybox_ping_and_an_ephemeral_container_in_another_pod() {
    let env = Env::start().await;
    let out = env.run(&["probe", VM, "--duration", "4s", "--probe-image", "busybox:1.36", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json_doc(&out);
    assert_eq!(doc["probe"]["pingFlavour"], "busybox");
    for t in doc["targets"].as_array().unwrap() {
        assert!(t["analysis"]["received"].as_u64().unwrap() > 10, "{t}");
    }
    env.assert_clean().await;

    // A long-lived pod of the tenant hosts an ephemeral probe container.
    let web = json!({"metadata": {"name": "web", "namespace": NS},
        "spec": {"nodeName": "illusion", "containers": [{"name": "app", "image": "nginx:1.27"}]}});
    env.cluster.sim.store().create(&PODS, Some(NS), web, false).unwrap();
    while env.cluster.sim.store().get(&PODS, Some(NS), "web").unwrap()["status"]["phase"] != "Running" {
        env.cluster.sim.store().clock().sleep(Duration::from_millis(100)).await;
    }
    let out = env.run(&["probe", VM, "--duration", "4s", "--probe-from", "pod/web:app", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json_doc(&out);
    assert_eq!(doc["probe"]["placement"], "ephemeral");
    assert_eq!(doc["probe"]["pod"], "web");
    assert!(stderr(&out).contains("stays in pod web's spec"), "{}", stderr(&out));
    assert!(doc["probe"]["cleanup"].as_str().unwrap().contains("remains in pod web"));
    let web = env.cluster.sim.store().get(&PODS, Some(NS), "web").unwrap();
    let eph = &web["spec"]["ephemeralContainers"][0];
    assert_eq!(eph["targetContainerName"], "app");
    assert_eq!(eph["securityContext"]["capabilities"]["add"], json!(["NET_RAW"]));
    assert_eq!(doc["targets"].as_array().map(Vec::len), Some(3));
    env.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_baseline_target_stops_the_probe_unless_forced() {
    let env = Env::start().await;
    let out = env.run(&["probe", VM, "--duration", "4s", "--probe-target", "10.99.99.99"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("the baseline found 1 target unreachable: 10.99.99.99") && err.contains("--force"), "{err}");
    env.assert_clean().await;

    let out =
        env.run(&["probe", VM, "--duration", "4s", "--probe-target", "10.99.99.99", "--force", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json_doc(&out);
    let t = doc["targets"].as_array().unwrap().iter().find(|t| t["target"]["target"] == "10.99.99.99").cloned();
    let t = t.expect("the flag target is probed");
    assert_eq!(t["target"]["source"], "flag");
    assert_eq!(t["analysis"]["received"], 0, "{t}");
    assert!(doc["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("10.99.99.99")));
    env.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_ends_the_probe_with_results_and_leaves_nothing() {
    let env = Env::start().await;
    let mut child = env.command(&["probe", VM, "-o", "json"]).spawn().unwrap();
    // Wait until the three long-running probes run (tool check, 3 baseline probes, then 3 more execs), and let them
    // print for a while.
    let execs = |env: &Env| env.cluster.sim.audit().iter().filter(|r| r.path.ends_with("/exec")).count();
    while execs(&env) < 7 {
        assert_eq!(child.try_wait().unwrap(), None, "the probe ended by itself");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.cluster.sim.store().clock().sleep(Duration::from_secs(10)).await;
    assert_eq!(env.cluster.net.running(), 3, "one probe per target");
    sigint(&child);
    let out = wait(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json_doc(&out);
    assert_eq!(doc["interrupted"], true);
    assert_eq!(doc["targets"].as_array().map(Vec::len), Some(3));
    for t in doc["targets"].as_array().unwrap() {
        assert!(t["analysis"]["received"].as_u64().is_some_and(|r| r > 0), "{t}");
        assert_eq!(t["analysis"]["downtime"]["status"], "belowResolution", "stopped, not cut short: {t}");
    }
    env.assert_clean().await;

    // Ctrl-C while the prober pod is still starting: exit 130, and it is deleted all the same.
    let mut child = env.command(&["probe", VM]).spawn().unwrap();
    while env.prober_creations().len() < 2 {
        assert_eq!(child.try_wait().unwrap(), None, "the probe ended by itself");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sigint(&child);
    let out = wait(child).await;
    assert!(matches!(out.status.code(), Some(130) | Some(0)), "{:?} {}", out.status, stderr(&out));
    env.assert_clean().await;
}
