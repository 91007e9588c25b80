//! Issue 3: `check --all -A -o json` at scale, through the real plugin binary against an in-process vmmigrate-sim.
//!
//! ```text
//! cargo bench -p kubectl-vmmigrate --bench check_scale
//! VMMIGRATE_BENCH_SIZES=1000 cargo bench -p kubectl-vmmigrate --bench check_scale   # haos + 1,000 VMs only
//! ```
//!
//! For the `haos` scenario and generated clusters of 1,000 and 10,000 VMs (20 namespaces, 40 nodes, seed 3, with
//! the blocker mix) it prints one line per cluster: the requests the plugin made (from the sim's audit log) and how
//! many name a single VM, the plugin's wall time and CPU time, the time the sim spent answering (the union of the
//! intervals from each request's arrival to its answer) and its CPU time, the plugin's peak RSS, the size of the
//! cluster's JSON (every object of the kinds the plugin listed, serialized as the list responses carry them) and
//! the ratio peak RSS / JSON, and the size of the plugin's stdout.
//!
//! Goals (issue 3): no request naming a single VM; at most 120 requests for 10,000 VMs at a page size of 500 and
//! at most 25 on `haos`; under 2 s wall on a 2-core machine; peak memory growing no faster than the JSON size.

mod common;

use std::collections::BTreeSet;

use common::{AnswerClock, PluginRun, mib, ms, own_cpu, run_plugin};
use vmmigrate_sim::api::Store;
use vmmigrate_sim::api::audit::AuditRecord;
use vmmigrate_sim::api::resources;
use vmmigrate_sim::clock::SimClock;
use vmmigrate_sim::kubevirt::handler;
use vmmigrate_sim::scenario::{GenerateOptions, Scenario};
use vmmigrate_sim::{Sim, SimOptions};

const DEFAULT_SIZES: [usize; 2] = [1_000, 10_000];

/// Whether a request names one VM or VMI (`.../virtualmachines/<name>`, `.../virtualmachineinstances/<name>`).
fn names_a_vm(r: &AuditRecord) -> bool {
    ["/virtualmachines/", "/virtualmachineinstances/"]
        .iter()
        .any(|seg| r.path.split_once(seg).is_some_and(|(_, rest)| !rest.is_empty()))
}

/// Bytes of JSON of every object of the kinds some request of `records` listed (the last path segment is the
/// plural), and the names of those kinds.
fn listed_json_bytes(store: &Store, records: &[AuditRecord]) -> (u64, BTreeSet<&'static str>) {
    let listed: BTreeSet<&'static str> = resources::ALL
        .iter()
        .filter(|rt| records.iter().any(|r| r.method == "GET" && r.path.rsplit('/').next() == Some(rt.plural)))
        .map(|rt| rt.plural)
        .collect();
    let bytes = resources::ALL
        .iter()
        .filter(|rt| listed.contains(rt.plural))
        .flat_map(|rt| store.list(rt, None).0)
        .map(|o| serde_json::to_vec(&o).map_or(0, |v| v.len() as u64))
        .sum();
    (bytes, listed)
}

fn sizes() -> Vec<usize> {
    std::env::var("VMMIGRATE_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().replace('_', "").parse().ok()).collect())
        .unwrap_or_else(|| DEFAULT_SIZES.to_vec())
}

async fn measure(label: &str, scenario: Scenario, vms_expected: Option<usize>) {
    let store = Store::new(SimClock::new(1.0));
    vmmigrate_sim::empty_cluster(&store).expect("the empty cluster");
    scenario.apply(&store).expect("apply the scenario");
    handler::sync_all(&store);
    let sim = Sim::start(SimOptions::new(store.clone())).await.expect("start the sim");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig, None).expect("write the kubeconfig");

    let answers = AnswerClock::start(sim.audit_log());
    let cpu_before = own_cpu();
    let home = dir.path().to_path_buf();
    let run: PluginRun =
        tokio::task::spawn_blocking(move || run_plugin(&home, &kubeconfig, &["check", "--all", "-A", "-o", "json"]))
            .await
            .expect("the plugin's run");
    let sim_cpu = own_cpu().saturating_sub(cpu_before);
    let records = sim.audit();
    let serving = answers.serving_time(&records, 0);

    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap_or_default();
    let vms_reported = doc["vms"].as_array().map(Vec::len);
    let per_vm = records.iter().filter(|r| names_a_vm(r)).count();
    let pages_of_500 = records.iter().filter(|r| r.method == "GET" && r.query.contains("limit=500")).count();
    let (json_bytes, kinds) = listed_json_bytes(&store, &records);
    let rss = run.max_rss_kib * 1024;
    println!(
        "{label:>7}  VMs {vms:>6}  requests {req:>4} (per-VM {per_vm}, pages limit=500 {pages_of_500})  \
         wall {wall:>7.0} ms  plugin CPU {pcpu:>6.0} ms  sim serving {serve:>6.0} ms  sim CPU {scpu:>6.0} ms  \
         peak RSS {rss_mib:>6.1} MiB  cluster JSON {json_mib:>6.1} MiB  RSS/JSON {ratio:>5.2}  stdout {out:>6.1} MiB  \
         exit {exit:?}",
        vms = vms_reported.map_or_else(|| "?".into(), |n| n.to_string()),
        req = records.len(),
        wall = ms(run.wall),
        pcpu = ms(run.cpu),
        serve = ms(serving),
        scpu = ms(sim_cpu),
        rss_mib = mib(rss),
        json_mib = mib(json_bytes),
        ratio = rss as f64 / json_bytes.max(1) as f64,
        out = mib(run.stdout.len() as u64),
        exit = run.exit_code,
    );
    println!("         kinds listed: {}", kinds.into_iter().collect::<Vec<_>>().join(", "));
    let others: Vec<String> = records
        .iter()
        .filter(|r| !(r.method == "GET" && r.query.contains("limit=500")))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    println!("         other requests: {}", others.join(", "));
    if vms_reported.is_none() || vms_expected.is_some_and(|n| vms_reported != Some(n)) {
        let tail: Vec<&str> = run.stderr_lines.iter().rev().take(5).map(|(_, l)| l.as_str()).collect();
        println!("         WARNING: the report does not list the expected VMs; stderr tail: {tail:?}");
    }
    sim.shutdown().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken from the command line.
    let haos = Scenario::builtin("haos").expect("the haos scenario");
    measure("haos", haos, None).await;
    for vms in sizes() {
        let scenario = Scenario::generate(GenerateOptions { vms, namespaces: 20, nodes: 40, seed: 3, mix: true });
        measure(&format!("gen-{vms}"), scenario, Some(vms)).await;
    }
}
