//! `kubectl-vmmigrate run | cancel | status` through the real binary against vmmigrate-sim: exit codes, the
//! `-o json` document on stdout, plain timestamped progress on a non-terminal stderr, Ctrl-C as SIGINT.

mod simcluster;

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use simcluster::Cluster;
use vmmigrate_sim::api::faults::Faults;

struct Cli {
    cluster: Cluster,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Cli {
    async fn start(scenario: &str, speed: f64, faults: Option<Faults>, namespace: &str) -> Self {
        let cluster = Cluster::start(scenario, speed, faults).await;
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        cluster.sim.write_kubeconfig(&kubeconfig, Some(namespace)).unwrap();
        Cli { cluster, dir, kubeconfig }
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        command(self.dir.path(), &self.kubeconfig, args)
    }

    /// Runs to the end in a blocking thread (the sim keeps serving on the test's runtime).
    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        tokio::task::spawn_blocking(move || cmd.output().expect("run the plugin")).await.unwrap()
    }

    async fn wait_for_phase(&self, ns: &str, vm: &str, phase: &str) {
        while !self.cluster.vmims(ns).into_iter().any(|m| m["spec"]["vmiName"] == vm && m["status"]["phase"] == phase) {
            self.cluster.store.clock().sleep(Duration::from_millis(100)).await;
        }
    }
}

fn command(home: &Path, kubeconfig: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("kubectl-vmmigrate"));
    cmd.env("HOME", home).env("KUBECONFIG", kubeconfig).env_remove("RUST_LOG").env("NO_COLOR", "1").args(args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}): {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), stderr(out))
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn wait(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait")).await.unwrap()
}

fn sigint(child: &Child) {
    // The shell's builtin kill: present wherever sh is (procps' kill may not be); the pid goes as an argument.
    let pid = child.id().to_string();
    let status = std::process::Command::new("sh").args(["-c", "kill -INT \"$1\"", "sh", &pid]).status().unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_succeeds_with_a_json_result_and_plain_progress_lines() {
    let cli = Cli::start("haos", 20.0, None, "tenant-root").await;
    let out = cli.run(&["run", "vm-instance-haos", "--skip-check", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["outcome"], "Succeeded");
    assert_eq!(doc["targetNode"], "the-dome");
    assert_eq!(doc["phases"].as_array().map(Vec::len), Some(7));
    let err = stderr(&out);
    assert!(!err.contains('\x1b'), "no control codes on a non-terminal: {err}");
    assert!(err.lines().any(|l| l.contains(" created migration vmmigrate-vm-instance-haos-")), "{err}");
    assert!(err.lines().any(|l| l.contains(" phase Succeeded at ")), "{err}");

    let status = cli.run(&["status", "vm-instance-haos", "-o", "json"]).await;
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    assert_eq!(json(&status)["migration"], doc["migration"]);

    let table = cli.run(&["status", "vm-instance-haos"]).await;
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("the-toy-factory → the-dome"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_faults_are_survived_with_one_migration() {
    let cli = Cli::start("faults", 10.0, None, "faults").await;
    let out = cli.run(&["run", "steady", "--skip-check", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["outcome"], "Succeeded");
    let ours = cli.cluster.vmims("faults").into_iter().filter(|m| m["spec"]["vmiName"] == "steady").count();
    assert_eq!(ours, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_exits_4_with_the_reason() {
    let cli = Cli::start("faults", 10.0, Some(Faults::default()), "faults").await;
    let out = cli.run(&["run", "flaky", "--skip-check", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["outcome"], "Failed");
    assert!(doc["failureReason"].as_str().unwrap_or_default().contains("virt-handler not reachable"), "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_aborts_and_exits_130_and_a_second_run_is_refused_while_in_flight() {
    let cli = Cli::start("faults", 10.0, Some(Faults::default()), "faults").await;
    let child = cli.command(&["run", "slow", "--skip-check", "-o", "json"]).spawn().unwrap();
    cli.wait_for_phase("faults", "slow", "Running").await;

    let refused = cli.run(&["run", "slow", "--skip-check", "-o", "json"]).await;
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert_eq!(json(&refused)["exitCode"], 3);
    assert!(stderr(&refused).contains("already in flight"), "{}", stderr(&refused));

    sigint(&child);
    let out = wait(child).await;
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["outcome"], "Interrupted");
    assert_eq!(doc["abortStatus"], "Succeeded");
    assert_eq!(doc["abortedBy"], "interrupt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_from_another_process_and_nothing_left_to_cancel() {
    let cli = Cli::start("faults", 10.0, Some(Faults::default()), "faults").await;
    let child = cli.command(&["run", "slow", "--skip-check", "-o", "json"]).spawn().unwrap();
    cli.wait_for_phase("faults", "slow", "Running").await;
    let cancel = cli.run(&["cancel", "slow", "-o", "json"]).await;
    assert_eq!(cancel.status.code(), Some(0), "{}", stderr(&cancel));
    assert_eq!(json(&cancel)["abortedBy"], "cancel");
    let run = wait(child).await;
    assert_eq!(run.status.code(), Some(5), "{}", stderr(&run));
    assert_eq!(json(&run)["abortedBy"], "someone-else");

    let none = cli.run(&["cancel", "slow"]).await;
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains("error: found no migration in flight for VM faults/slow"), "{}", stderr(&none));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_duration_exceeded_exits_7() {
    let cli = Cli::start("haos", 20.0, None, "tenant-root").await;
    let out = cli.run(&["run", "vm-instance-haos", "--skip-check", "--max-duration", "5s", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(json(&out)["outcome"], "Succeeded", "the migration itself succeeded");
    assert!(stderr(&out).contains("more than --max-duration 5 s"), "{}", stderr(&out));
}
