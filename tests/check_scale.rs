//! `check --all -A` on 2,000 VMs: one paginated LIST per kind at a page size of 500, no request per VM. The
//! 10,000-VM figures (requests, wall time, peak memory) come from `cargo bench --bench check_scale`
//! (`benches/check_scale.rs`); in a debug build the sim serves a page of a 10,000-VM store slowly, so the test keeps
//! the cluster small.

use kube::Client;
use kubectl_vmmigrate::check::{self, CheckRequest};
use vmmigrate_sim::api::Store;
use vmmigrate_sim::clock::SimClock;
use vmmigrate_sim::kubevirt::handler;
use vmmigrate_sim::scenario::{GenerateOptions, Scenario};
use vmmigrate_sim::{Sim, SimOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_vms_one_paginated_list_per_kind() {
    let store = Store::new(SimClock::new(100.0));
    Scenario::generate(GenerateOptions { vms: 2_000, namespaces: 20, nodes: 40, seed: 3, mix: false })
        .apply(&store)
        .unwrap();
    handler::sync_all(&store);
    let sim = Sim::start(SimOptions::new(store)).await.unwrap();
    let client = Client::try_from(kube::Config::new(sim.url().parse().unwrap())).unwrap();
    let req = CheckRequest { all: true, all_namespaces: true, ..Default::default() };
    let report = check::run(&client, "default", &req).await.unwrap();
    let audit = sim.audit();
    assert_eq!(report.vms.len(), 2_000);
    // VMs, VMIs and launcher pods take 4 pages each at 2,000; every other kind one; plus a handful of
    // discovery and access reviews. A request per VM would be thousands.
    assert!(audit.len() <= 40, "{} requests", audit.len());
    let per_vm =
        audit.iter().filter(|r| r.path.contains("/virtualmachines/") || r.path.contains("/virtualmachineinstances/"));
    assert_eq!(per_vm.count(), 0, "no request per VM");
    assert!(audit.iter().filter(|r| r.method == "GET").all(|r| r.query.contains("limit=500")));
    assert!(
        report.vms.iter().all(|v| v.verdict != check::Verdict::NotMigratable),
        "mix: false makes every VM migratable"
    );
}
