//! Kubeconfig resolution like kubectl: library-level through `cluster::resolve`, and binary-level through the
//! hidden `resolve-config` command and real commands.

mod common;

use std::path::PathBuf;

use common::{Entry, SECRET_TOKEN, assert_one_error_line, kubeconfig, plugin, single, write};
use kubectl_vmmigrate::cluster::{ClusterError, KubeconfigSource, NamespaceSource, Selection, resolve};

/// File A: current-context "a" (namespace nsa), cluster "shared" at server-a.
/// File B: current-context "b", context "b" (namespace nsb), its own context "a" (namespace zzz) and its own
/// "shared" cluster: every one of B's duplicates must lose against A.
fn two_files(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let a = kubeconfig(
        Some("a"),
        &[Entry {
            context: "a",
            cluster: "shared",
            server: "https://server-a:6443",
            user: "ua",
            namespace: Some("nsa"),
        }],
    );
    let b = kubeconfig(
        Some("b"),
        &[
            Entry { context: "b", cluster: "cb", server: "https://server-b:6443", user: "ub", namespace: Some("nsb") },
            Entry {
                context: "a",
                cluster: "shared",
                server: "https://server-b-shared:6443",
                user: "ub",
                namespace: Some("zzz"),
            },
        ],
    );
    (write(dir, "a.yaml", &a), write(dir, "b.yaml", &b))
}

fn sel(context: Option<&str>, namespace: Option<&str>) -> Selection {
    Selection { context: context.map(Into::into), namespace: namespace.map(Into::into), ..Default::default() }
}

#[test]
fn kubeconfig_list_merges_first_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_files(dir.path());
    let source = KubeconfigSource::EnvList(vec![a.clone(), b.clone()]);

    let r = resolve(&source, &Selection::default()).unwrap();
    assert_eq!(r.files, [a.clone(), b.clone()]);
    assert_eq!(r.context.as_deref(), Some("a"), "current-context from the first file");
    assert_eq!(r.cluster, "shared");
    assert_eq!(r.server, "https://server-a:6443", "the first file's cluster of a name wins");
    assert_eq!(r.namespace, "nsa", "the first file's context of a name wins");
    assert_eq!(r.namespace_source, NamespaceSource::Context);

    let r = resolve(&source, &sel(Some("b"), None)).unwrap();
    assert_eq!((r.context.as_deref(), r.cluster.as_str()), (Some("b"), "cb"), "contexts from the second file");
    assert_eq!(r.server, "https://server-b:6443");
    assert_eq!(r.user.as_deref(), Some("ub"));
    assert_eq!(r.namespace, "nsb", "--context brings its namespace");

    let r = resolve(&source, &sel(Some("b"), Some("override"))).unwrap();
    assert_eq!((r.namespace.as_str(), r.namespace_source), ("override", NamespaceSource::Flag), "-n wins");

    let swapped = resolve(&KubeconfigSource::EnvList(vec![b, a]), &Selection::default()).unwrap();
    assert_eq!(swapped.context.as_deref(), Some("b"), "order decides");
}

#[test]
fn missing_list_entries_are_skipped_and_empty_current_context_is_unset() {
    let dir = tempfile::tempdir().unwrap();
    let (_, b) = two_files(dir.path());
    let no_current = write(
        dir.path(),
        "empty-current.yaml",
        &kubeconfig(
            Some(""),
            &[Entry { context: "x", cluster: "cx", server: "https://server-x", user: "ux", namespace: None }],
        ),
    );
    let missing = dir.path().join("missing.yaml");
    let r = resolve(&KubeconfigSource::EnvList(vec![missing, no_current.clone(), b.clone()]), &Selection::default())
        .unwrap();
    assert_eq!(r.files, [no_current.clone(), b], "missing files are not listed as read");
    assert_eq!(r.context.as_deref(), Some("b"), "an empty current-context does not win");

    let r = resolve(&KubeconfigSource::EnvList(vec![no_current]), &sel(Some("x"), None)).unwrap();
    assert_eq!((r.namespace.as_str(), r.namespace_source), ("default", NamespaceSource::Default));

    let err = resolve(&KubeconfigSource::EnvList(vec![dir.path().join("nope")]), &Selection::default()).unwrap_err();
    assert!(matches!(err, ClusterError::NoKubeconfig(_)), "{err}");
}

#[test]
fn cluster_and_user_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_files(dir.path());
    let source = KubeconfigSource::EnvList(vec![a, b]);
    let r = resolve(&source, &Selection { cluster: Some("cb".into()), user: Some("ub".into()), ..Default::default() })
        .unwrap();
    assert_eq!((r.context.as_deref(), r.server.as_str()), (Some("a"), "https://server-b:6443"));
    assert_eq!(r.user.as_deref(), Some("ub"));
    assert_eq!(r.namespace, "nsa", "the context's namespace stays");

    let err = resolve(&source, &Selection { cluster: Some("nope".into()), ..Default::default() }).unwrap_err();
    assert!(err.to_string().starts_with("cluster \"nope\" does not exist"), "{err}");
    let err = resolve(&source, &Selection { user: Some("nobody".into()), ..Default::default() }).unwrap_err();
    assert!(err.to_string().starts_with("user \"nobody\" does not exist"), "{err}");
}

#[test]
fn unknown_context_and_no_context_name_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = two_files(dir.path());
    let err = resolve(&KubeconfigSource::Explicit(a.clone()), &sel(Some("nope"), None)).unwrap_err();
    assert_eq!(err.to_string(), format!("context \"nope\" does not exist in kubeconfig \"{}\"", a.display()));

    let no_current = write(
        dir.path(),
        "nc.yaml",
        &kubeconfig(None, &[Entry { context: "x", cluster: "cx", server: "https://s", user: "u", namespace: None }]),
    );
    let err = resolve(&KubeconfigSource::Explicit(no_current.clone()), &Selection::default()).unwrap_err();
    assert!(err.to_string().contains("current-context is not set"), "{err}");
    assert!(err.to_string().contains(&no_current.display().to_string()), "{err}");
}

#[test]
fn unreadable_files_give_one_line_naming_the_file_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("config");
    let err = resolve(&KubeconfigSource::Explicit(missing.clone()), &Selection::default()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("cannot load kubeconfig \"{}\": ", missing.display())), "{msg}");

    // A value of the wrong type next to a token: the message must not quote the file.
    let bad = write(dir.path(), "bad", &format!("users:\n- name: u\n  user:\n    token: [\"{SECRET_TOKEN}\"]\n"));
    let msg = resolve(&KubeconfigSource::Explicit(bad.clone()), &Selection::default()).unwrap_err().to_string();
    assert!(msg.starts_with(&format!("cannot load kubeconfig \"{}\": invalid YAML", bad.display())), "{msg}");
    assert!(!msg.contains(SECRET_TOKEN) && !msg.contains('\n'), "{msg}");

    let broken = write(dir.path(), "broken", &format!("token: \"{SECRET_TOKEN}\n  : [\n"));
    let msg = resolve(&KubeconfigSource::Explicit(broken), &Selection::default()).unwrap_err().to_string();
    assert!(msg.contains("invalid YAML") && !msg.contains(SECRET_TOKEN) && !msg.contains('\n'), "{msg}");
}

#[test]
fn binary_merges_kubeconfig_env_and_kubeconfig_flag_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_files(dir.path());
    let list = std::env::join_paths([dir.path().join("missing"), a.clone(), b.clone()]).unwrap();

    let out = plugin(dir.path()).env("KUBECONFIG", &list).args(["resolve-config", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["context"], "a");
    assert_eq!(v["namespace"], "nsa");
    assert_eq!(v["server"], "https://server-a:6443");
    assert_eq!(v["files"].as_array().map(Vec::len), Some(2));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET_TOKEN));

    // Global flags after the subcommand, as kubectl passes them.
    let out = plugin(dir.path())
        .env("KUBECONFIG", &list)
        .args(["resolve-config", "--context", "b", "-n", "flagged", "-o", "yaml"])
        .output()
        .unwrap();
    let yaml = String::from_utf8_lossy(&out.stdout);
    assert!(yaml.contains("context: b\n") && yaml.contains("namespace: flagged\n"), "{yaml}");

    let only = write(dir.path(), "only.yaml", &single("https://only:6443", Some("solo")));
    let out = plugin(dir.path())
        .env("KUBECONFIG", &list)
        .args(["--kubeconfig", only.to_str().unwrap(), "resolve-config", "-o", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["server"].as_str(), v["namespace"].as_str()), (Some("https://only:6443"), Some("solo")));
}

#[test]
fn binary_uses_home_kube_config_by_default() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".kube")).unwrap();
    write(&home.path().join(".kube"), "config", &single("https://home:6443", None));
    let out = plugin(home.path()).args(["resolve-config"]).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(table.starts_with("FIELD"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("server") && l.ends_with("https://home:6443")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("namespace") && l.ends_with("default")), "{table}");
}

#[test]
fn binary_config_errors_are_one_line_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("x").join("config");
    let missing_s = missing.to_str().unwrap();
    for cmd in [&["resolve-config"][..], &["status", "vm1"], &["check", "vm1"]] {
        let out = plugin(dir.path()).arg("--kubeconfig").arg(&missing).args(cmd).output().unwrap();
        assert_one_error_line(&out, 1, &[&format!("cannot load kubeconfig \"{missing_s}\"")]);
    }

    let bad = write(dir.path(), "bad", &format!("clusters: {{{{\ntoken: {SECRET_TOKEN}\n"));
    let out = plugin(dir.path()).env("KUBECONFIG", &bad).args(["status", "vm1"]).output().unwrap();
    assert_one_error_line(&out, 1, &[&format!("cannot load kubeconfig \"{}\"", bad.display())]);

    let good = write(dir.path(), "good", &single("https://s:6443", None));
    let out = plugin(dir.path()).env("KUBECONFIG", &good).args(["run", "vm1", "--context", "nope"]).output().unwrap();
    assert_one_error_line(&out, 1, &["context \"nope\" does not exist"]);

    let no_home = plugin(&dir.path().join("no-home")).args(["status", "vm1"]).output().unwrap();
    assert_one_error_line(&no_home, 1, &["no kubeconfig found", "no-home/.kube/config", "--server"]);
}

#[test]
fn binary_unreachable_cluster_names_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = format!("http://127.0.0.1:{}", common::closed_port());
    let cfg = write(dir.path(), "cfg", &single(&server, None));
    let out =
        plugin(dir.path()).env("KUBECONFIG", &cfg).args(["status", "vm1", "--request-timeout", "5s"]).output().unwrap();
    assert_one_error_line(&out, 1, &[&format!("cannot reach the Kubernetes API server at {server}")]);
}

#[test]
fn binary_reaches_a_server_and_reports_unintegrated_commands() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::fake_api_server();
    let cfg = write(dir.path(), "cfg", &single(&server, Some("ns1")));
    let out =
        plugin(dir.path()).env("KUBECONFIG", &cfg).args(["resolve-config", "--ping", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["serverVersion"], "v1.34.0-fake");
    assert_eq!(v["namespace"], "ns1");

    // run, cancel, status (tests/run_cli.rs) and probe (tests/probe_sim.rs) are integrated; this server has no VMI.
    let out = plugin(dir.path()).env("KUBECONFIG", &cfg).args(["probe", "vm1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors, ["error: VM ns1/vm1 is not running (no VirtualMachineInstance): there is nothing to probe"]);
}

#[test]
fn binary_honours_https_proxy_and_no_proxy_like_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::fake_api_server();
    let cfg = write(dir.path(), "cfg", &single(&server, None));
    let proxy = format!("http://127.0.0.1:{}", common::closed_port());
    let with_proxy = |no_proxy: Option<&str>| {
        let mut cmd = plugin(dir.path());
        cmd.env("KUBECONFIG", &cfg).env("HTTPS_PROXY", &proxy).env_remove("https_proxy").env_remove("no_proxy");
        match no_proxy {
            Some(v) => cmd.env("NO_PROXY", v),
            None => cmd.env_remove("NO_PROXY"),
        };
        cmd.args(["resolve-config", "--ping", "-o", "json"]).output().unwrap()
    };
    let direct = with_proxy(Some("127.0.0.1"));
    assert!(direct.status.success(), "{}", String::from_utf8_lossy(&direct.stderr));
    let proxied = with_proxy(None);
    assert_one_error_line(&proxied, 1, &[&format!("cannot reach the Kubernetes API server at {server}"), "tunnel"]);
}

#[tokio::test]
async fn kubectl_overrides_replace_cluster_and_user_settings() {
    use kubectl_vmmigrate::cli::Secret;
    use kubectl_vmmigrate::cluster::Overrides;
    use secrecy::ExposeSecret;

    let dir = tempfile::tempdir().unwrap();
    // A CA that cannot be decoded: building the client config fails unless --insecure-skip-tls-verify drops it.
    let cfg = write(
        dir.path(),
        "cfg",
        &single("https://real:6443", Some("ns1")).replace(
            "    server: https://real:6443\n",
            "    server: https://real:6443\n    certificate-authority-data: \"!!not-base64\"\n",
        ),
    );
    let source = KubeconfigSource::Explicit(cfg.clone());
    let err = resolve(&source, &Selection::default()).unwrap().kube_config(None).await.unwrap_err();
    assert!(err.to_string().starts_with(&format!("invalid kubeconfig \"{}\"", cfg.display())), "{err}");

    let overrides = Overrides {
        server: Some("https://other:443".into()),
        token: Some(Secret("flag-token".into())),
        impersonate: Some("alice".into()),
        impersonate_groups: vec!["devs".into(), "ops".into()],
        insecure_skip_tls_verify: true,
        tls_server_name: Some("api.internal".into()),
        ..Default::default()
    };
    let r = resolve(&source, &Selection { overrides, ..Default::default() }).unwrap();
    assert_eq!((r.server.as_str(), r.namespace.as_str()), ("https://other:443", "ns1"));
    let config = r.kube_config(None).await.unwrap();
    assert!(config.accept_invalid_certs && config.root_cert.is_none());
    assert_eq!(config.tls_server_name.as_deref(), Some("api.internal"));
    assert_eq!(config.auth_info.token.as_ref().map(|t| t.expose_secret().to_string()), Some("flag-token".into()));
    assert_eq!(config.auth_info.impersonate.as_deref(), Some("alice"));
    assert_eq!(config.auth_info.impersonate_groups, Some(vec!["devs".into(), "ops".into()]));
    assert!(!format!("{r:?}").contains("flag-token") && !format!("{r:?}").contains(SECRET_TOKEN));
}

#[test]
fn server_flag_alone_needs_no_kubeconfig() {
    let home = tempfile::tempdir().unwrap();
    let server = common::fake_api_server();
    let out = plugin(home.path())
        .args(["resolve-config", "--ping", "-o", "json", "--server", &server, "--token", "abc"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["server"].as_str(), v["namespace"].as_str()), (Some(server.as_str()), Some("default")));
    assert_eq!(v["files"], serde_json::json!([]));
    assert_eq!(v["serverVersion"], "v1.34.0-fake");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("abc"));
}
