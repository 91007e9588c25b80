//! The plugin as kubectl runs it: `kubectl vmmigrate ...` finds `kubectl-vmmigrate` on PATH, passes every
//! argument after the plugin name verbatim, and propagates the exit code. Needs the real kubectl on PATH
//! (`.ci/run` installs it).

mod common;

use std::path::PathBuf;

fn kubectl(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    let plugin_dir: PathBuf = assert_cmd::cargo::cargo_bin("kubectl-vmmigrate").parent().expect("bin dir").into();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kubectl = std::env::split_paths(&path)
        .map(|dir| dir.join("kubectl"))
        .find(|candidate| candidate.is_file())
        .expect("kubectl must be on PATH for this test (.ci/run installs it)");
    let mut dirs = vec![plugin_dir];
    dirs.extend(std::env::split_paths(&path));
    std::process::Command::new(kubectl)
        .arg("vmmigrate")
        .args(args)
        .env("PATH", std::env::join_paths(dirs).expect("PATH"))
        .env("HOME", home)
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .output()
        .expect("run kubectl")
}

#[test]
fn kubectl_runs_the_plugin_with_its_flags_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let version = kubectl(dir.path(), &["--version"]);
    assert_eq!(String::from_utf8_lossy(&version.stdout), format!("kubectl-vmmigrate {}\n", env!("CARGO_PKG_VERSION")));

    let cfg = common::write(dir.path(), "cfg", &common::single("https://k:6443", Some("ctx-ns")));
    let cfg = cfg.to_str().unwrap();
    let out = kubectl(dir.path(), &["resolve-config", "--kubeconfig", cfg, "-n", "flag-ns", "-o", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["namespace"].as_str(), v["server"].as_str()), (Some("flag-ns"), Some("https://k:6443")));

    let usage = kubectl(dir.path(), &["run"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("Usage: kubectl vmmigrate run"));

    let missing = dir.path().join("missing");
    let error = kubectl(dir.path(), &["status", "vm1", "--kubeconfig", missing.to_str().unwrap()]);
    common::assert_one_error_line(&error, 1, &["cannot load kubeconfig"]);
}
