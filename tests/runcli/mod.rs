//! The plugin binary against a whole vmmigrate-sim cluster (KubeVirt controllers, the network model, the emulated
//! probe tools), shared by the `run --probe`, report and metrics tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use vmmigrate_sim::api::resources::{PODS, VMIMS};
use vmmigrate_sim::kubevirt::behaviour::Outcome;
use vmmigrate_sim::scenario::Scenario;
use vmmigrate_sim::{ClusterOptions, ClusterSim};

pub struct Cli {
    pub cluster: ClusterSim,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl Cli {
    pub async fn start(scenario: Scenario, speed: f64, namespace: &str) -> Self {
        let opts = ClusterOptions { speed, ..Default::default() };
        let cluster = ClusterSim::start(&scenario, opts).await.expect("sim starts");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        cluster.sim.write_kubeconfig(&kubeconfig, Some(namespace)).unwrap();
        Cli { cluster, dir, kubeconfig }
    }

    pub async fn haos(speed: f64) -> Self {
        Self::start(Scenario::builtin("haos").unwrap(), speed, "tenant-root").await
    }

    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("kubectl-vmmigrate"));
        cmd.env("HOME", self.dir.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .args(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        tokio::task::spawn_blocking(move || cmd.output().expect("run the plugin")).await.unwrap()
    }

    pub fn vmims(&self, ns: &str) -> Vec<Value> {
        self.cluster.sim.store().list(&VMIMS, Some(ns)).0
    }

    pub fn prober_pods(&self) -> Vec<String> {
        let (pods, _) = self.cluster.sim.store().list(&PODS, None);
        pods.iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .filter_map(|p| p["metadata"]["name"].as_str())
            .filter(|n| n.contains("probe"))
            .map(str::to_string)
            .collect()
    }

    /// Nothing left behind: no prober pod, no probe process in the sim.
    pub async fn assert_clean(&self, out: &Output) {
        // The pod's deletion is asynchronous on the server's side (grace period): give it simulated time.
        for _ in 0..100 {
            if self.prober_pods().is_empty() && self.cluster.net.running() == 0 {
                return;
            }
            self.cluster.sim.store().clock().sleep(Duration::from_millis(500)).await;
        }
        panic!(
            "left behind: pods {:?}, {} probe processes\nstderr: {}",
            self.prober_pods(),
            self.cluster.net.running(),
            stderr(out)
        );
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\nstderr: {}", stdout(out), stderr(out)))
}

pub fn haos_with(outcome: Outcome) -> Scenario {
    let mut s = Scenario::builtin("haos").unwrap();
    s.migration_defaults.outcome = outcome;
    s
}

pub fn stall_running() -> Outcome {
    Outcome::StallAt { phase: "Running".into() }
}
