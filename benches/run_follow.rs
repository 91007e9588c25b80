//! Issue 4: what `run` costs while it follows one migration, through the real plugin binary against an in-process
//! vmmigrate-sim running the `haos` scenario with KubeVirt's controllers.
//!
//! ```text
//! cargo bench -p kubectl-vmmigrate --bench run_follow
//! VMMIGRATE_BENCH_RUNS=long@10,short@10 cargo bench -p kubectl-vmmigrate --bench run_follow
//! ```
//!
//! Each run is `kubectl-vmmigrate run vm-instance-haos -n tenant-root --skip-check` (stderr not a terminal: plain
//! `<time> phase <Phase> at ...` lines) for a migration of about 60 simulated seconds (`long`: a 85 MiB/s link
//! for the 4Gi VM's 95 % of used memory) or about 17 (`short`: the scenario's own memory model), at a sim speed
//! (`@F`: simulated time F times faster than real time). It prints:
//! - every API request the plugin made (the sim's audit log: KubeVirt's controllers run in-process and make
//!   none), next to what a 1 s polling loop would make over the same simulated duration (one GET of the VMIM per
//!   second, two with the VMI for progress);
//! - per phase, the real delay from the store's change of the VMIM's `status.phase` (seen by an in-process
//!   subscriber) to the plugin's line for that phase arriving on its stderr, and the median.
//!
//! Goals (issue 4): under 12 requests whatever the duration; median phase-line delay under 100 ms.

mod common;
#[path = "../tests/simcluster/mod.rs"]
mod simcluster;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ms, run_plugin};
use simcluster::Cluster;
use vmmigrate_sim::api::resources::VMIMS;
use vmmigrate_sim::kubevirt::MigrationBehaviour;
use vmmigrate_sim::kubevirt::behaviour::MemoryModel;
use vmmigrate_sim::scenario::Scenario;

/// The haos scenario's migration behaviour; `long` slows the link so that Running lasts ~54 simulated seconds
/// (3,891 MiB at 85 − 13 MiB/s) and the whole migration ~60.
fn behaviour(long: bool) -> MigrationBehaviour {
    let haos = Scenario::builtin("haos").expect("the haos scenario").migration_defaults;
    if long {
        MigrationBehaviour { memory: MemoryModel { bandwidth_mib_s: 85.0, ..haos.memory.clone() }, ..haos }
    } else {
        haos
    }
}

/// `(kind, speed)` pairs from `VMMIGRATE_BENCH_RUNS` (`long@10,short@10,short@1` by default).
fn runs() -> Vec<(bool, f64)> {
    std::env::var("VMMIGRATE_BENCH_RUNS")
        .unwrap_or_else(|_| "long@10,short@10,short@1".into())
        .split(',')
        .filter_map(|r| {
            let (kind, speed) = r.trim().split_once('@')?;
            Some((kind == "long", speed.parse().ok()?))
        })
        .collect()
}

fn median(v: &mut [f64]) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The phase a plain progress line announces (`<time> phase <Phase> at ...`).
fn phase_of(line: &str) -> Option<&str> {
    line.split_once(" phase ").and_then(|(_, rest)| rest.split_whitespace().next())
}

async fn measure(long: bool, speed: f64) {
    let cluster = Cluster::start_with("haos", speed, None, Some(behaviour(long))).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.sim.write_kubeconfig(&kubeconfig, Some("tenant-root")).expect("write the kubeconfig");

    // Phase changes of VMIMs, with the real moment the store published them.
    let changes: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let mut events = cluster.store.subscribe();
    let sink = changes.clone();
    let watcher = tokio::spawn(async move {
        while let Ok(ev) = events.recv().await {
            if ev.resource.plural != VMIMS.plural {
                continue;
            }
            let phase = ev.object.pointer("/status/phase").and_then(|p| p.as_str()).unwrap_or("");
            let before = ev.prev.as_ref().and_then(|p| p.pointer("/status/phase")).and_then(|p| p.as_str());
            if !phase.is_empty() && before != Some(phase) {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push((Instant::now(), phase.to_string()));
            }
        }
    });

    let before = cluster.requests();
    let home = dir.path().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        run_plugin(&home, &kubeconfig, &["run", "vm-instance-haos", "-n", "tenant-root", "--skip-check"])
    })
    .await
    .expect("the plugin's run");
    watcher.abort();
    let records = cluster.sim.audit();
    let made = &records[before..];
    let changes = changes.lock().unwrap_or_else(|e| e.into_inner()).clone();

    let first = changes.first().map(|(t, _)| *t);
    let last = changes.last().map(|(t, _)| *t);
    let sim_secs = match (first, last) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64() * speed,
        _ => 0.0,
    };
    let mut by_kind: Vec<String> = Vec::new();
    for r in made {
        let verb = if r.query.contains("watch=true") || r.query.contains("watch=1") { "WATCH" } else { &r.method };
        let tail: Vec<&str> = r.path.rsplit('/').take(2).collect();
        by_kind.push(format!("{verb} {}", tail.into_iter().rev().collect::<Vec<_>>().join("/")));
    }
    println!(
        "{kind} migration at speed {speed}: {sim_secs:.0} simulated s ({real:.1} s real), exit {exit:?}, \
         plugin wall {wall:.1} s",
        kind = if long { "long" } else { "short" },
        real = sim_secs / speed,
        exit = run.exit_code,
        wall = run.wall.as_secs_f64(),
    );
    println!(
        "  requests by the plugin: {n}   (a 1 s polling loop over {secs:.0} s: {p1}+ with one GET per poll, {p2}+ \
         with the VMI too)",
        n = made.len(),
        secs = sim_secs,
        p1 = sim_secs.ceil() as u64,
        p2 = 2 * sim_secs.ceil() as u64,
    );
    println!("    {}", by_kind.join(", "));

    let mut delays = Vec::new();
    for (changed, phase) in &changes {
        let line = run.stderr_lines.iter().find(|(_, l)| phase_of(l) == Some(phase.as_str()));
        match line {
            Some((printed, _)) => {
                let d = printed
                    .checked_duration_since(*changed)
                    .map_or_else(|| -ms(changed.duration_since(*printed)), |d: Duration| ms(d));
                delays.push(d);
                println!("    {phase:<16} line after {d:>7.1} ms");
            }
            None => println!("    {phase:<16} no line printed"),
        }
    }
    let med = median(&mut delays);
    println!(
        "  phase-line delay: median {} over {} phases, max {}",
        med.map_or_else(|| "-".into(), |m| format!("{m:.1} ms")),
        delays.len(),
        delays.last().map_or_else(|| "-".into(), |m| format!("{m:.1} ms")),
    );
    if run.exit_code != Some(0) {
        let tail: Vec<&str> = run.stderr_lines.iter().rev().take(5).map(|(_, l)| l.as_str()).collect();
        println!("  WARNING: the plugin exited {:?}; stderr tail: {tail:?}", run.exit_code);
    }
    cluster.sim.shutdown().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    for (long, speed) in runs() {
        measure(long, speed).await;
    }
}
