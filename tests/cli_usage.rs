//! The command line itself: help texts, usage errors (exit 2), version, completion scripts. None of these may
//! touch the kubeconfig, so every test runs with a broken one in place.

mod common;

use common::{plugin, write};

/// The plugin with `$KUBECONFIG` pointing at a malformed file: any attempt to read it would fail the command.
fn offline(dir: &std::path::Path) -> assert_cmd::Command {
    let broken = write(dir, "broken", "clusters: {{\n");
    let mut cmd = plugin(dir);
    cmd.env("KUBECONFIG", broken);
    cmd
}

fn stdout_of(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = offline(dir.path()).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn top_level_help_describes_commands_flags_and_exit_codes() {
    let help = stdout_of(&["--help"]);
    assert!(help.contains("Usage: kubectl vmmigrate [OPTIONS] <COMMAND>"), "{help}");
    for needle in [
        "check",
        "run",
        "cancel",
        "status",
        "probe",
        "completion",
        "--kubeconfig",
        "--context",
        "--cluster",
        "--user",
        "--namespace",
        "--request-timeout",
        "--output",
        "--no-color",
        "NO_COLOR",
        "--v <LEVEL>",
        "$KUBECONFIG",
        "Exit codes:",
        "130  interrupted",
    ] {
        assert!(help.contains(needle), "--help should mention {needle:?}");
    }
    assert!(!help.contains("resolve-config"), "the troubleshooting command stays hidden");
}

#[test]
fn subcommand_help_describes_real_behaviour_and_exit_codes() {
    let cases: [(&str, &[&str]); 6] = [
        (
            "check",
            &[
                "--all",
                "--selector",
                "--all-namespaces",
                "--strict",
                "--server-dry-run",
                "--probe",
                "3 a VM is not migratable",
            ],
        ),
        (
            "run",
            &[
                "VirtualMachineInstanceMigration",
                "--target-node",
                "--timeout",
                "--skip-check",
                "--attach",
                "--dry-run",
                "--no-abort-on-timeout",
                "--probe-from",
                "--report",
                "--report-format",
                "--max-downtime",
                "--max-duration",
                "--round-trip",
                "--repeat",
                "--metrics-file",
                "--pushgateway",
                "4 migration failed",
                "6 --timeout reached",
                "7 --max-downtime",
            ],
        ),
        ("cancel", &["Abort", "--timeout", "Exit codes:"]),
        ("status", &["latest migration", "Exit codes:"]),
        (
            "probe",
            &[
                "downtime",
                "--probe-from",
                "--probe-image",
                "--probe-target",
                "--probe-http",
                "--probe-interval",
                "[default: 20ms]",
                "--probe-tail",
                "[default: 5s]",
                "--force",
                "Exit codes:",
            ],
        ),
        ("completion", &["bash", "zsh", "fish", "powershell", "install-kubectl", "--dir", "--force"]),
    ];
    for (cmd, needles) in cases {
        let help = stdout_of(&[cmd, "--help"]);
        assert!(help.contains(&format!("Usage: kubectl vmmigrate {cmd}")), "{help}");
        assert!(help.contains("--kubeconfig"), "{cmd}: global flags are listed");
        for needle in needles {
            assert!(help.contains(needle), "{cmd} --help should mention {needle:?}:\n{help}");
        }
    }
}

#[test]
fn version_is_the_binary_name_and_version() {
    assert_eq!(stdout_of(&["--version"]), format!("kubectl-vmmigrate {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn bad_flags_exit_2_with_clap_messages() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 10] = [
        (&["frobnicate"], "unrecognized subcommand"),
        (&["run"], "<VM>"),
        (&["check"], "required"),
        (&["run", "vm1", "--timeout", "30"], "--timeout"),
        (&["run", "vm1", "--max-duration", "5d"], "\"5d\""),
        (&["status", "vm1", "-o", "xml"], "xml"),
        (&["status", "vm1", "--request-timeout", "soon"], "--request-timeout"),
        (&["run", "vm1", "--probe-http", "http://x/"], "--probe"),
        (&["run", "vm1", "--dry-run", "--probe"], "cannot be used with '--probe'"),
        (&["run", "vm1", "--dry-run", "--round-trip"], "cannot be used with '--round-trip'"),
    ];
    for (args, needle) in cases {
        let out = offline(dir.path()).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(stderr.contains(needle), "{args:?}: {stderr:?} should contain {needle:?}");
        assert!(!stderr.contains("cannot load kubeconfig"), "usage errors come before any kubeconfig access");
    }
}

#[test]
fn completion_scripts_cover_the_subcommands() {
    let bash = stdout_of(&["completion", "bash"]);
    assert!(bash.contains("kubectl-vmmigrate"), "{bash}");
    for sub in ["check", "run", "cancel", "status", "probe", "completion"] {
        assert!(bash.contains(sub), "bash completion should offer {sub}");
    }
    assert!(bash.contains("--probe-interval") && bash.contains("--kubeconfig"));
    for shell in ["zsh", "fish", "powershell"] {
        assert!(stdout_of(&["completion", shell]).contains("kubectl-vmmigrate"), "{shell}");
    }
}

#[test]
fn kubectl_plugin_completion_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let complete = |kubeconfig: &std::path::Path, words: &[&str]| {
        let out =
            common::plugin(dir.path()).env("KUBECONFIG", kubeconfig).arg("__complete").args(words).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let server = common::fake_api_server();
    let two = common::kubeconfig(
        Some("dev"),
        &[
            common::Entry { context: "dev", cluster: "c1", server: &server, user: "u", namespace: Some("ns1") },
            common::Entry { context: "prod", cluster: "c2", server: "https://prod", user: "u", namespace: None },
        ],
    );
    let cfg = write(dir.path(), "cfg", &two);

    let subcommands = complete(&cfg, &[""]);
    assert!(subcommands.starts_with("check\t") && subcommands.ends_with(":4\n"), "{subcommands}");
    assert_eq!(complete(&cfg, &["status", "--context", ""]), "dev\nprod\n:4\n");
    assert_eq!(complete(&cfg, &["status", ""]), "vm-a\nweb\n:4\n", "VM names from the cluster");
    assert_eq!(complete(&cfg, &["check", "w"]), "web\n:4\n");
    assert_eq!(complete(&cfg, &["--context", "prod", "status", ""]), ":4\n", "unreachable cluster: no candidates");
    let broken = write(dir.path(), "broken", "clusters: {{\n");
    assert_eq!(complete(&broken, &["status", ""]), ":4\n", "bad kubeconfig: no candidates, no error text");
}
