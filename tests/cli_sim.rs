//! The shell against the simulated cluster: connection check, server version, and completion lookups of
//! namespaces and VM names through the real API paths.

mod common;

use vmmigrate_sim::api::Store;
use vmmigrate_sim::clock::SimClock;
use vmmigrate_sim::scenario::Scenario;
use vmmigrate_sim::{Sim, SimOptions};

const SIM_TOKEN: &str = "vmmigrate-sim-dummy-token";

/// Runs the plugin with `args` in a blocking thread (the sim keeps serving on the test's runtime).
async fn plugin(home: &std::path::Path, kubeconfig: &std::path::Path, args: &[&str]) -> std::process::Output {
    let (home, kubeconfig) = (home.to_path_buf(), kubeconfig.to_path_buf());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        common::plugin(&home).env("KUBECONFIG", kubeconfig).args(args).output().expect("run plugin")
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_to_the_sim_and_completes_from_it() {
    let store = Store::new(SimClock::new(1.0));
    Scenario::builtin("haos").unwrap().apply(&store).unwrap();
    let sim = Sim::start(SimOptions::new(store)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&cfg, Some("tenant-root")).unwrap();

    let out = plugin(dir.path(), &cfg, &["resolve-config", "--ping", "-o", "json"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["server"], sim.url());
    assert_eq!(v["namespace"], "tenant-root");
    assert!(v["serverVersion"].as_str().is_some_and(|s| s.starts_with("v1.34")), "{v}");

    let vms = plugin(dir.path(), &cfg, &["__complete", "check", ""]).await;
    assert_eq!(String::from_utf8_lossy(&vms.stdout), "vm-instance-haos\n:4\n");
    let namespaces = plugin(dir.path(), &cfg, &["__complete", "status", "-n", "tenant"]).await;
    assert_eq!(String::from_utf8_lossy(&namespaces.stdout), "tenant-root\n:4\n");

    for out in [&out, &vms, &namespaces] {
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!all.contains(SIM_TOKEN), "the token leaked: {all}");
    }
    sim.shutdown().await;
}
