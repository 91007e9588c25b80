//! Helpers shared by the CLI tests: kubeconfig files and a minimal fake API server.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// A token that must never appear in any output.
pub const SECRET_TOKEN: &str = "sk-do-not-print-0123456789";

/// Writes `contents` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write test kubeconfig");
    path
}

/// One kubeconfig cluster/context/user triple as YAML list items.
pub struct Entry<'a> {
    pub context: &'a str,
    pub cluster: &'a str,
    pub server: &'a str,
    pub user: &'a str,
    pub namespace: Option<&'a str>,
}

/// A kubeconfig with the given current-context and entries (users carry [`SECRET_TOKEN`]).
pub fn kubeconfig(current_context: Option<&str>, entries: &[Entry<'_>]) -> String {
    let mut clusters = String::new();
    let mut contexts = String::new();
    let mut users = String::new();
    for e in entries {
        clusters.push_str(&format!("- name: {}\n  cluster:\n    server: {}\n", e.cluster, e.server));
        let ns = e.namespace.map(|n| format!("\n    namespace: {n}")).unwrap_or_default();
        contexts.push_str(&format!(
            "- name: {}\n  context:\n    cluster: {}\n    user: {}{ns}\n",
            e.context, e.cluster, e.user
        ));
        users.push_str(&format!("- name: {}\n  user:\n    token: {SECRET_TOKEN}\n", e.user));
    }
    let current = current_context.map(|c| format!("current-context: \"{c}\"\n")).unwrap_or_default();
    format!("apiVersion: v1\nkind: Config\n{current}clusters:\n{clusters}contexts:\n{contexts}users:\n{users}")
}

/// A one-context kubeconfig pointing at `server`.
pub fn single(server: &str, namespace: Option<&str>) -> String {
    kubeconfig(Some("only"), &[Entry { context: "only", cluster: "c", server, user: "u", namespace }])
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Serves `GET /version` and a metadata list of VMs `vm-a` and `web` in namespace `ns1` (404 for anything else) on 127.0.0.1 from a background thread; returns the
/// server URL. The thread ends with the test process.
pub fn fake_api_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&request);
            let (status, body) = if head.starts_with("GET /apis/kubevirt.io/v1/namespaces/ns1/virtualmachines") {
                // What a real API server sends for kube's list_metadata (Accept: PartialObjectMetadataList).
                ("200 OK", r#"{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadataList","metadata":{"resourceVersion":"7"},"items":[{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadata","metadata":{"name":"vm-a","namespace":"ns1"}},{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadata","metadata":{"name":"web","namespace":"ns1"}}]}"#.to_string())
            } else if head.starts_with("GET /version") {
                (
                    "200 OK",
                    r#"{"major":"1","minor":"34","gitVersion":"v1.34.0-fake","gitCommit":"0","gitTreeState":"clean","buildDate":"2025-08-27T00:00:00Z","goVersion":"go1.24","compiler":"gc","platform":"linux/amd64"}"#.to_string(),
                )
            } else {
                (
                    "404 Not Found",
                    r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"not found","reason":"NotFound","code":404}"#.to_string(),
                )
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

/// The plugin binary with an isolated environment: HOME in `home`, no KUBECONFIG, no colour.
pub fn plugin(home: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("kubectl-vmmigrate").expect("binary built");
    cmd.env("HOME", home).env_remove("KUBECONFIG").env_remove("RUST_LOG").env("NO_COLOR", "1");
    cmd
}

/// Asserts the invocation failed with exit `code`, nothing on stdout, and exactly one stderr line that
/// contains every string in `needles`, no panic or backtrace, and no secret. Returns the line.
pub fn assert_one_error_line(output: &std::process::Output, code: i32, needles: &[&str]) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert!(stdout.is_empty(), "stdout should be empty: {stdout}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one stderr line: {stderr}");
    let line = lines[0];
    assert!(line.starts_with("error: "), "{line}");
    for needle in needles {
        assert!(line.contains(needle), "{line:?} should contain {needle:?}");
    }
    for forbidden in ["panicked", "backtrace", "RUST_BACKTRACE", SECRET_TOKEN] {
        assert!(!stderr.contains(forbidden), "{stderr:?} contains {forbidden:?}");
    }
    line.to_string()
}
