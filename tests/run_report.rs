//! `run --report/--metrics-file` through the real binary against a whole vmmigrate-sim cluster: the acceptance of
//! the validation report (three formats from one run, the JSON against its schema, JUnit counts, OpenMetrics parsed
//! by a real parser), reports of failed and interrupted migrations, hops, and output paths refused up front.

use std::path::Path;
use std::time::Duration;

use openmetrics_parser::{MetricsExposition, OpenMetricsType, OpenMetricsValue};
use serde_json::Value;
use vmmigrate_sim::kubevirt::behaviour::Outcome;

mod runcli;
use runcli::*;

const SCHEMA: &str = include_str!("../docs/report.schema.json");
const SEED_ADDRESSES: [&str; 3] = ["10.244.0.57", "192.168.1.150", "192.168.50.101"];
const SECTIONS: [&str; 9] = [
    "## Test environment",
    "## VM configuration",
    "## Pre-migration state",
    "## Prerequisites",
    "## Migration configuration",
    "## Timeline",
    "## Post-migration state",
    "## Connectivity",
    "## Verdict",
];

/// `--report P` for each path.
fn report_flags<'a>(paths: &[&'a std::path::PathBuf]) -> Vec<&'a str> {
    paths.iter().flat_map(|p| ["--report", p.to_str().unwrap()]).collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The JSON report, checked against docs/report.schema.json.
fn valid_json_report(path: &Path) -> Value {
    let doc: Value = serde_json::from_str(&read(path)).unwrap();
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{} does not match its schema: {errors:#?}", path.display());
    assert_eq!(doc["kind"], "ValidationReport");
    doc
}

/// `(tests, failures, errors)` of the JUnit file, after checking that the counts agree with the testcases in it.
fn junit_counts(path: &Path) -> (usize, usize, usize) {
    let text = read(path);
    let xml =
        roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{} is not well-formed: {e}", path.display()));
    let cases: Vec<_> = xml.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    let count = |tag: &str| cases.iter().filter(|c| c.children().any(|n| n.has_tag_name(tag))).count();
    let (tests, failures, errors) = (cases.len(), count("failure"), count("error"));
    for suite in xml.descendants().filter(|n| n.has_tag_name("testsuites") || n.has_tag_name("testsuite")) {
        let attr = |name: &str| suite.attribute(name).and_then(|v| v.parse::<usize>().ok());
        assert_eq!(attr("tests"), Some(tests), "{text}");
        assert_eq!(attr("failures"), Some(failures), "{text}");
        assert_eq!(attr("errors"), Some(errors), "{text}");
    }
    (tests, failures, errors)
}

/// One metric sample: name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

/// The samples of an OpenMetrics file, parsed by a real OpenMetrics parser.
fn metric_samples(path: &Path) -> Vec<Sample> {
    let text = read(path);
    let parsed: MetricsExposition<OpenMetricsType, OpenMetricsValue> =
        openmetrics_parser::openmetrics::parse_openmetrics(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let mut out = Vec::new();
    for (name, family) in &parsed.families {
        for sample in family.iter_samples() {
            let OpenMetricsValue::Gauge(v) = &sample.value else { panic!("{name} is not a gauge") };
            let labels = sample.get_labelset().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            out.push((name.clone(), labels, v.as_f64()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haos_probe_writes_the_three_reports_and_the_metrics_from_measurements() {
    let cli = Cli::haos(10.0).await;
    let dir = cli.dir.path();
    let (md, json, xml, prom) =
        (dir.join("report.md"), dir.join("report.json"), dir.join("report.xml"), dir.join("m.prom"));
    let mut args = vec!["run", "vm-instance-haos", "-n", "tenant-root", "--probe", "--probe-tail", "1s"];
    args.extend(report_flags(&[&md, &json, &xml]));
    args.extend(["--metrics-file", prom.to_str().unwrap()]);
    let out = cli.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for path in [&md, &json, &xml, &prom] {
        assert!(stderr(&out).contains(&format!("wrote {}", path.display())), "{}", stderr(&out));
    }

    let text = read(&md);
    for section in SECTIONS {
        assert!(text.contains(&format!("\n{section}\n")), "no section {section:?}:\n{text}");
    }
    assert!(text.contains("**Verdict: PASS**"), "{text}");
    for address in SEED_ADDRESSES {
        assert!(text.contains(address), "{address} missing:\n{text}");
    }
    let lower = text.to_lowercase();
    for guess in ["expected result", "should be", "0-2 dropped"] {
        assert!(!lower.contains(guess), "the report guesses ({guess:?}):\n{text}");
    }

    let doc = valid_json_report(&json);
    assert_eq!(doc["exitCode"], 0);
    assert_eq!(doc["hops"][0]["result"]["targetNode"], "the-dome");
    let targets = doc["hops"][0]["targets"].as_array().unwrap();
    let probed: Vec<&str> = targets.iter().filter_map(|t| t["target"]["target"].as_str()).collect();
    assert_eq!(probed, SEED_ADDRESSES, "{doc}");
    for t in targets {
        assert_eq!(t["analysis"]["downtime"]["status"], "measured", "{t}");
    }
    let env = &doc["environment"];
    assert!(env["kubernetesVersion"].as_str().is_some_and(|v| v.starts_with("v1.34")), "{env}");
    assert!(env["kubevirtVersion"].as_str().is_some_and(|v| v.starts_with("v1.5")), "{env}");
    assert_eq!(env["nodes"].as_array().map(Vec::len), Some(4), "{env}");

    let (tests, failures, errors) = junit_counts(&xml);
    assert!(tests > SEED_ADDRESSES.len(), "one migration and one testcase per target: {tests}");
    assert_eq!((failures, errors), (0, 0));

    let samples = metric_samples(&prom);
    let downtime: Vec<_> = samples.iter().filter(|(n, _, _)| n == "kubectl_vmmigrate_downtime_seconds").collect();
    assert_eq!(downtime.len(), SEED_ADDRESSES.len(), "{samples:?}");
    for (_, labels, seconds) in downtime {
        assert!(labels.iter().any(|(k, v)| k == "vm" && v == "vm-instance-haos"), "{labels:?}");
        assert!((0.1..0.3).contains(seconds), "downtime {seconds} s outside the injected 180-220 ms ± one interval");
    }
    assert!(samples.iter().any(|(n, _, v)| n == "kubectl_vmmigrate_success" && *v == 1.0), "{samples:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_migration_writes_a_complete_report_with_the_reason() {
    let reason = "Live migration failed error encountered during MigrateToURI3 libvirt API call";
    let cli =
        Cli::start(haos_with(Outcome::FailAt { phase: "Running".into(), reason: reason.into() }), 10.0, "tenant-root")
            .await;
    let dir = cli.dir.path();
    let (md, json, xml) = (dir.join("r.md"), dir.join("r.json"), dir.join("r.xml"));
    let mut args = vec!["run", "vm-instance-haos"];
    args.extend(report_flags(&[&md, &json, &xml]));
    let out = cli.run(&args).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let doc = valid_json_report(&json);
    assert_eq!(doc["exitCode"], 4);
    assert_eq!(doc["hops"][0]["result"]["outcome"], "Failed");
    assert!(doc["hops"][0]["result"]["failureReason"].as_str().unwrap_or_default().contains("MigrateToURI3"), "{doc}");
    let text = read(&md);
    assert!(text.contains("**Verdict: FAIL**") && text.contains("MigrateToURI3"), "{text}");
    assert!(text.contains("not measured"), "no probe: connectivity says not measured and why:\n{text}");
    let (_, failures, _) = junit_counts(&xml);
    assert!(failures >= 1, "the failed migration is a failed testcase");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_migration_writes_its_report_with_what_happened() {
    let cli = Cli::start(haos_with(stall_running()), 20.0, "tenant-root").await;
    let json = cli.dir.path().join("r.json");
    let child = cli.command(&["run", "vm-instance-haos", "--report", json.to_str().unwrap()]).spawn().unwrap();
    let pid = child.id().to_string();
    while !cli.vmims("tenant-root").iter().any(|m| m["status"]["phase"] == "Running") {
        cli.cluster.sim.store().clock().sleep(Duration::from_millis(200)).await;
    }
    // The shell's builtin kill; the pid goes as an argument.
    let status = std::process::Command::new("sh").args(["-c", "kill -INT \"$1\"", "sh", &pid]).status().unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let doc = valid_json_report(&json);
    assert_eq!(doc["exitCode"], 130);
    assert_eq!(doc["hops"][0]["result"]["outcome"], "Interrupted", "{doc}");
    assert_eq!(doc["hops"][0]["result"]["abortedBy"], "interrupt", "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_and_repeats_are_reported_hop_by_hop() {
    let cli = Cli::haos(20.0).await;
    let dir = cli.dir.path();
    let (md, json) = (dir.join("trip.md"), dir.join("repeat.json"));
    let out = cli.run(&["run", "vm-instance-haos", "--round-trip", "--report", md.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = read(&md);
    assert!(text.contains("the-toy-factory → the-dome") && text.contains("the-dome → the-toy-factory"), "{text}");

    let out = cli.run(&["run", "vm-instance-haos", "--repeat", "5", "--report", json.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = valid_json_report(&json);
    assert_eq!(doc["hops"].as_array().map(Vec::len), Some(5), "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_paths_are_checked_before_anything_migrates() {
    let cli = Cli::haos(20.0).await;
    let missing = cli.dir.path().join("no-such-dir").join("r.md");
    for args in [
        vec!["run", "vm-instance-haos", "--report", missing.to_str().unwrap()],
        vec!["run", "vm-instance-haos", "--metrics-file", missing.to_str().unwrap()],
        vec!["run", "vm-instance-haos", "--pushgateway", "pushgateway:9091"],
    ] {
        let out = cli.run(&args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1, "{err}");
    }
    assert!(cli.vmims("tenant-root").is_empty(), "nothing was migrated");
}
