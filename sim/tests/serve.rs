//! The `vmmigrate-sim serve` command: ready line, kubeconfig, audit file, clean exit on SIGTERM, errors.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_vmmigrate-sim");

#[test]
fn serve_prints_ready_writes_kubeconfig_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    let audit = dir.path().join("audit.log");
    let mut child = Command::new(BIN)
        .args(["serve", "--scenario", "haos", "--listen", "127.0.0.1:0", "--speed", "10"])
        .arg("--kubeconfig-out")
        .arg(&kc)
        .arg("--audit-log")
        .arg(&audit)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("ready ").unwrap_or_else(|| panic!("{line:?}")).to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let kubeconfig = std::fs::read_to_string(&kc).unwrap();
    assert!(kubeconfig.contains(&format!("server: {url}")));
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    write!(s, "GET /api/v1/namespaces HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("\"kube-system\"") && resp.contains("\"tenant-root\""), "{resp}");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let audit = std::fs::read_to_string(&audit).unwrap();
    assert!(audit.lines().any(|l| l.contains("\"path\":\"/api/v1/namespaces\"")), "{audit}");
}

#[test]
fn serve_errors_exit_1_with_one_line_and_bad_args_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--scenario", "nope", "--kubeconfig-out"])
        .arg(dir.path().join("kc"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("neither a built-in scenario"), "{err}");
    assert!(out.stdout.is_empty());
    let out = Command::new(BIN).args(["serve", "--listen", "not-an-address"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn generate_prints_a_scenario_that_loads_back() {
    let out = Command::new(BIN)
        .args(["generate", "--vms", "30", "--namespaces", "3", "--nodes", "4", "--seed", "7", "--mix"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let yaml = String::from_utf8(out.stdout).unwrap();
    let scenario = vmmigrate_sim::scenario::Scenario::from_yaml(&yaml, "generated").unwrap();
    assert_eq!(scenario.vms.len(), 30);
    let namespaces: std::collections::BTreeSet<&str> = scenario.vms.iter().map(|v| v.namespace.as_str()).collect();
    assert_eq!(namespaces.len(), 3);
    let bad = Command::new(BIN).args(["generate", "--vms", "3", "--nodes", "1"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&bad.stderr).lines().count(), 1, "one line");
}
