//! `run` on a pseudo-terminal: the progress bar renders (indicatif's redraws on stderr) and finishes cleanly,
//! leaving the result. The pty comes from util-linux `script`, which every Debian machine has.

mod simcluster;

use std::process::Command;

use simcluster::Cluster;

/// Runs `kubectl-vmmigrate ARGS` on a pty of `cols` columns; returns everything the terminal received.
fn on_pty(kubeconfig: &std::path::Path, args: &[&str]) -> (i32, String) {
    let bin = env!("CARGO_BIN_EXE_kubectl-vmmigrate");
    // `script -c` takes one shell command line: quote each word (ours are plain, this is the test's own input).
    let line = std::iter::once(bin).chain(args.iter().copied()).map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" ");
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env("KUBECONFIG", kubeconfig)
        .env("COLUMNS", "120")
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .output()
        .expect("util-linux script runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_bar_renders_and_finishes_cleanly_on_a_terminal() {
    let cluster = Cluster::start("haos", 4.0, None).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.sim.write_kubeconfig(&kubeconfig, Some("tenant-root")).unwrap();
    let (code, screen) =
        tokio::task::spawn_blocking(move || on_pty(&kubeconfig, &["run", "vm-instance-haos", "--skip-check"]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{screen}");
    // indicatif redraws in place: cursor movement / line clearing escape sequences, not one line per update.
    assert!(screen.contains("\u{1b}["), "no terminal control sequences on a TTY:\n{screen}");
    assert!(screen.contains('\r') || screen.contains("\u{1b}[2K"), "no in-place redraw:\n{screen}");
    // The memory bar showed the transfer while Running, and the phases were named.
    assert!(screen.contains("Running"), "{screen}");
    assert!(screen.contains("remaining"), "no memory progress shown:\n{screen}");
    // It finished cleanly: the result is printed after the bar, naming the target.
    let tail = &screen[screen.rfind("Outcome").expect("a result table")..];
    assert!(tail.contains("Succeeded") && screen.contains("the-toy-factory → the-dome"), "{screen}");
    // Nothing of the bar is left after the result (the bar was finished or cleared before printing it).
    assert!(!tail.contains("remaining"), "the bar redrew after the result:\n{tail}");
    cluster.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_lines_without_a_terminal() {
    let cluster = Cluster::start("haos", 4.0, None).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.sim.write_kubeconfig(&kubeconfig, Some("tenant-root")).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_kubectl-vmmigrate"))
            .args(["run", "vm-instance-haos", "--skip-check"])
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains('\u{1b}') && !stderr.contains('\r'), "control codes off a TTY:\n{stderr}");
    let phases: Vec<&str> = stderr.lines().filter(|l| l.contains(" phase ")).collect();
    assert!(phases.len() >= 6, "one line per phase change:\n{stderr}");
    assert!(stderr.lines().any(|l| l.contains(" progress ") && l.contains("remaining")), "{stderr}");
    cluster.sim.shutdown().await;
}
