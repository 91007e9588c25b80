//! The in-container scripts run for real under the local `sh` (and BusyBox `sh` when installed): they parse, their
//! output parses, and a hostile value passed as the target stays data.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kubectl_vmmigrate::probe::analysis::ProbeEnd;
use kubectl_vmmigrate::probe::command::{
    HTTP_PROBE_SCRIPT, HttpProbeOptions, ToolReport, http_probe_argv, tool_check_argv,
};
use kubectl_vmmigrate::probe::http::{HttpLine, HttpParser};

/// Runs argv (whose first element is `sh`) with `shell` instead, returning stdout.
fn run(shell: &[&str], argv: &[String]) -> String {
    let out = Command::new(shell[0]).args(&shell[1..]).args(&argv[1..]).output().expect("run the shell");
    assert!(out.status.success(), "{shell:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn shells() -> Vec<Vec<&'static str>> {
    let mut shells = vec![vec!["sh"]];
    if Command::new("busybox").arg("true").output().is_ok_and(|o| o.status.success()) {
        shells.push(vec!["busybox", "sh"]);
    }
    shells
}

#[test]
fn tool_check_runs_and_parses() {
    for shell in shells() {
        let out = run(&shell, &tool_check_argv());
        let report = ToolReport::parse(&out);
        assert_eq!(out.lines().filter(|l| l.starts_with("vmmprobe-tool ")).count(), 5, "{out}");
        assert!(report.sleep, "{out}");
        assert!(report.uid.is_some(), "{out}");
        assert_eq!(report.ping.is_some(), report.ping_flavour.is_some() || report.ping_problem().is_some());
    }
}

#[test]
fn http_probe_script_runs_bounded_and_keeps_the_target_as_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("pwned");
    // Bypasses target validation on purpose: the script itself must never evaluate its argument.
    let hostile = format!("http://127.0.0.1:1/$(touch {m})`touch {m}`;touch {m}", m = marker.display());
    let options = HttpProbeOptions {
        interval: Duration::from_millis(200),
        deadline: Duration::from_secs(1),
        max_time: Duration::from_millis(200),
    };
    let url = "http://127.0.0.1:1/".parse().expect("url");
    let mut argv = http_probe_argv(&url, &options).expect("argv");
    argv[4] = hostile;
    for shell in shells() {
        let out = run(&shell, &argv);
        assert!(!Path::new(&marker).exists(), "the target was evaluated by {shell:?}");
        let mut parser = HttpParser::new();
        let lines: Vec<HttpLine> = out.lines().map(|l| parser.feed(l, Some(0))).collect();
        assert!(matches!(lines.last(), Some(HttpLine::End { count }) if *count >= 1), "{out}");
        assert!(lines.iter().all(|l| !matches!(l, HttpLine::Other { .. })), "{out}");
        let (series, summary) = parser.finish("x", options.interval);
        assert_eq!(summary.ok, 0);
        // curl refused the connection, or there is no curl on this machine: both are reported, neither is "ok"
        assert!(matches!(series.end, ProbeEnd::Completed | ProbeEnd::CannotMeasure { .. }), "{:?}", series.end);
    }
    assert!(HTTP_PROBE_SCRIPT.contains("-- \"$1\""));
}
