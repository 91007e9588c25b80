//! The `RunRecord` that `run` hands to its outputs is complete on every path: refused by the check, probe failure,
//! success with gates, failed and interrupted migrations. Calls the library entry point the CLI calls
//! (`migrate::run_recorded`, i.e. `run_command` without `emit`) against a whole vmmigrate-sim cluster.

use std::time::Duration;

use kubectl_vmmigrate::cli::{OutputFormat, ProbeArgs, RunArgs};
use kubectl_vmmigrate::cluster::Cluster;
use kubectl_vmmigrate::exit::Outcome;
use kubectl_vmmigrate::migrate::{Interrupts, run_recorded};
use kubectl_vmmigrate::record::RunRecord;
use kubectl_vmmigrate::term::Term;
use tokio::sync::mpsc;
use vmmigrate_sim::api::resources::VMIMS;
use vmmigrate_sim::kubevirt::behaviour::Outcome as SimOutcome;
use vmmigrate_sim::scenario::{ImageTools, Scenario};
use vmmigrate_sim::{ClusterOptions, ClusterSim};

async fn sim(scenario: Scenario, speed: f64) -> ClusterSim {
    ClusterSim::start(&scenario, ClusterOptions { speed, ..Default::default() }).await.expect("sim starts")
}

fn cluster(sim: &ClusterSim, namespace: &str) -> Cluster {
    let mut cfg = kube::Config::new(sim.sim.url().parse().unwrap());
    cfg.default_retry = false;
    Cluster {
        client: kube::Client::try_from(cfg).unwrap(),
        namespace: namespace.into(),
        context: None,
        server: sim.sim.url().to_string(),
        request_timeout: None,
    }
}

fn probe_args() -> ProbeArgs {
    ProbeArgs { probe_tail: Duration::from_secs(1), ..Default::default() }
}

fn haos_args() -> RunArgs {
    RunArgs { vm: "vm-instance-haos".into(), repeat: 1, probe: true, probe_args: probe_args(), ..Default::default() }
}

fn json_term() -> Term {
    Term::new(OutputFormat::Json, true, false, false)
}

async fn record(sim: &ClusterSim, ns: &str, args: &RunArgs) -> (RunRecord, anyhow::Result<Outcome>) {
    let (_tx, rx) = mpsc::unbounded_channel();
    run_recorded(&cluster(sim, ns), args, &json_term(), Interrupts::from_channel(rx)).await
}

fn haos_with(outcome: SimOutcome) -> Scenario {
    let mut s = Scenario::builtin("haos").unwrap();
    s.migration_defaults.outcome = outcome;
    s
}

/// Fields every record carries.
fn assert_common(r: &RunRecord, vm: &str, ns: &str) {
    assert_eq!((r.vm.as_str(), r.namespace.as_str()), (vm, ns));
    assert!(!r.tool_version.is_empty());
    assert!(r.started_at.is_some() && r.ended_at.is_some(), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_by_the_check() {
    let sim = sim(Scenario::builtin("blockers").unwrap(), 10.0).await;
    let args = RunArgs { vm: "rwo-and-bridge".into(), repeat: 1, ..Default::default() };
    let (r, result) = record(&sim, "blockers", &args).await;
    assert_eq!(result.unwrap(), Outcome::NotMigratable);
    assert_common(&r, "rwo-and-bridge", "blockers");
    assert_eq!(r.exit_code, 3);
    assert!(r.check.as_ref().is_some_and(|c| !c.vms.is_empty()), "the check is recorded");
    assert!(r.error.as_deref().is_some_and(|e| e.contains("check")), "{:?}", r.error);
    assert!(r.hops.is_empty() && r.probe.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_failure_before_migrating() {
    let mut scenario = Scenario::builtin("haos").unwrap();
    scenario
        .images
        .insert("example/noping:1".into(), ImageTools { missing_tools: vec!["ping".into()], ping_variant: None });
    let sim = sim(scenario, 10.0).await;
    let mut args = haos_args();
    args.probe_args.probe_image = Some("example/noping:1".into());
    let (r, result) = record(&sim, "tenant-root", &args).await;
    assert!(result.is_err());
    assert_common(&r, "vm-instance-haos", "tenant-root");
    assert_eq!(r.exit_code, 1);
    assert!(r.check.is_some());
    assert!(r.error.as_deref().is_some_and(|e| e.contains("has no ping")), "{:?}", r.error);
    assert!(r.hops.is_empty());
    assert!(sim.sim.store().list(&VMIMS, Some("tenant-root")).0.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_with_gates() {
    let sim = sim(Scenario::builtin("haos").unwrap(), 10.0).await;
    let args = RunArgs {
        max_downtime: Some(Duration::from_secs(1)),
        max_duration: Some(Duration::from_secs(1)),
        ..haos_args()
    };
    let (r, result) = record(&sim, "tenant-root", &args).await;
    assert_eq!(result.unwrap(), Outcome::ThresholdExceeded, "{:?}", r.gates);
    assert_common(&r, "vm-instance-haos", "tenant-root");
    assert_eq!(r.exit_code, 7);
    assert!(r.options.probe && r.options.max_downtime_ms == Some(1000.0));
    let probe = r.probe.as_ref().expect("probe setup");
    assert_eq!((probe.targets.len(), probe.baseline.len()), (3, 3));
    assert!(probe.cleanup.as_deref().is_some_and(|c| c.contains("deleted")), "{probe:?}");
    assert_eq!(r.hops.len(), 1);
    assert_eq!(r.hops[0].targets.len(), 3);
    let names: Vec<(&str, bool)> = r.gates.iter().map(|g| (g.name.as_str(), g.passed)).collect();
    assert_eq!(
        names,
        [("max-duration", false), ("max-downtime", true), ("max-downtime", true), ("max-downtime", true)],
        "{:?}",
        r.gates
    );
    assert!(r.error.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_migration() {
    let reason = "Live migration failed: connection reset";
    let sim = sim(haos_with(SimOutcome::FailAt { phase: "Running".into(), reason: reason.into() }), 10.0).await;
    let (r, result) = record(&sim, "tenant-root", &RunArgs { repeat: 3, ..haos_args() }).await;
    assert_eq!(result.unwrap(), Outcome::MigrationFailed);
    assert_common(&r, "vm-instance-haos", "tenant-root");
    assert_eq!(r.exit_code, 4);
    assert_eq!(r.hops.len(), 1, "stops at the first hop that fails");
    assert_eq!(r.hops[0].result.failure_reason.as_deref(), Some(reason));
    assert_eq!(r.hops[0].targets.len(), 3);
    assert!(r.probe.as_ref().and_then(|p| p.cleanup.as_ref()).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_migration() {
    let sim = sim(haos_with(SimOutcome::StallAt { phase: "Running".into() }), 20.0).await;
    let (tx, rx) = mpsc::unbounded_channel();
    let c = cluster(&sim, "tenant-root");
    let args = haos_args();
    let term = json_term();
    let run = run_recorded(&c, &args, &term, Interrupts::from_channel(rx));
    let press = async {
        while !sim.sim.store().list(&VMIMS, Some("tenant-root")).0.iter().any(|m| m["status"]["phase"] == "Running") {
            sim.sim.store().clock().sleep(Duration::from_millis(200)).await;
        }
        tx.send(()).unwrap();
    };
    let ((r, result), ()) = tokio::join!(run, press);
    assert_eq!(result.unwrap(), Outcome::Interrupted);
    assert_common(&r, "vm-instance-haos", "tenant-root");
    assert_eq!(r.exit_code, 130);
    assert_eq!(r.hops.len(), 1);
    assert_eq!(r.hops[0].result.outcome, "Interrupted");
    assert_eq!(r.hops[0].result.aborted_by.as_deref(), Some("interrupt"));
    assert!(r.probe.as_ref().and_then(|p| p.cleanup.as_ref()).is_some_and(|c| c.contains("deleted")), "{:?}", r.probe);
    assert_eq!(sim.net.running(), 0);
}

/// Ctrl-C while the probe is placed or takes its baseline: nothing is migrated, the prober pod is deleted and no
/// probe process remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_before_migrating() {
    let sim = sim(Scenario::builtin("haos").unwrap(), 2.0).await;
    let (tx, rx) = mpsc::unbounded_channel();
    let c = cluster(&sim, "tenant-root");
    let args = haos_args();
    let term = json_term();
    let run = run_recorded(&c, &args, &term, Interrupts::from_channel(rx));
    let press = async {
        while sim.net.running() == 0 {
            sim.sim.store().clock().sleep(Duration::from_millis(20)).await;
        }
        tx.send(()).unwrap();
    };
    let ((r, result), ()) = tokio::join!(run, press);
    assert_eq!(result.unwrap(), Outcome::Interrupted, "{:?}", r.error);
    assert_eq!(r.exit_code, 130);
    assert!(r.hops.is_empty());
    assert!(sim.sim.store().list(&VMIMS, Some("tenant-root")).0.is_empty(), "nothing migrated");
    let probers = || {
        sim.sim
            .store()
            .list(&vmmigrate_sim::api::resources::PODS, None)
            .0
            .into_iter()
            .filter(|p| p["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("vmmigrate-probe")))
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .count()
    };
    for _ in 0..100 {
        if probers() == 0 && sim.net.running() == 0 {
            return;
        }
        sim.sim.store().clock().sleep(Duration::from_millis(200)).await;
    }
    panic!("left behind: {} prober pods, {} probe processes; {:?}", probers(), sim.net.running(), r.probe);
}

/// An API error in the migration's follow (here a forbidden watch): exit 1 with the server's words in the record,
/// and the prober is still cleaned up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_error_while_migrating() {
    use vmmigrate_sim::api::faults::Denial;
    let mut scenario = Scenario::builtin("haos").unwrap();
    scenario.faults.deny.push(Denial {
        verb: "watch".into(),
        resource: "virtualmachineinstancemigrations".into(),
        group: None,
        namespace: None,
    });
    let sim = sim(scenario, 10.0).await;
    let (r, result) = record(&sim, "tenant-root", &RunArgs { skip_check: true, ..haos_args() }).await;
    assert!(result.is_err());
    assert_eq!(r.exit_code, 1);
    let error = r.error.clone().unwrap_or_default();
    assert!(error.contains("cannot watch") && error.contains("403"), "{error}");
    assert!(r.probe.as_ref().and_then(|p| p.cleanup.as_ref()).is_some_and(|c| c.contains("deleted")), "{:?}", r.probe);
    assert_eq!(sim.net.running(), 0);
}
