//! `kubectl vmmigrate run` through the real kubectl, with the plugin found on PATH as kubectl finds plugins.
//! kubectl must be installed (CI installs it); set `VMMIGRATE_ALLOW_NO_KUBECTL=1` to skip loudly without it.

mod simcluster;

use std::process::Command;

use simcluster::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_runs_the_plugin_and_the_vm_moves_to_the_dome() {
    if Command::new("kubectl").args(["version", "--client"]).output().is_err() {
        assert_eq!(
            std::env::var("VMMIGRATE_ALLOW_NO_KUBECTL").as_deref(),
            Ok("1"),
            "kubectl is not installed (set VMMIGRATE_ALLOW_NO_KUBECTL=1 to skip)"
        );
        eprintln!("SKIPPED LOUDLY: kubectl is not installed");
        return;
    }
    let cluster = Cluster::start("haos", 5.0, None).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.sim.write_kubeconfig(&kubeconfig, None).unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kubectl-vmmigrate"), bin.join("kubectl-vmmigrate")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("kubectl")
            .args(["vmmigrate", "run", "vm-instance-haos", "-n", "tenant-root", "-o", "json"])
            .env("PATH", path)
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON result");
    assert_eq!(result["outcome"], "Succeeded");
    assert_eq!(result["sourceNode"], "the-toy-factory");
    assert_eq!(result["targetNode"], "the-dome");
    let phases: Vec<&str> = result["phases"].as_array().unwrap().iter().filter_map(|p| p["phase"].as_str()).collect();
    assert_eq!(
        phases,
        ["Pending", "Scheduling", "Scheduled", "PreparingTarget", "TargetReady", "Running", "Succeeded"]
    );
    // Every phase was shown as it happened, on stderr.
    for p in &phases {
        assert!(stderr.contains(&format!("phase {p}")), "{p} not shown:\n{stderr}");
    }
    cluster.sim.shutdown().await;
}
