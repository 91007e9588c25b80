//! The JUnit XML report, for CI systems: one `<testsuite>` (inside `<testsuites>`) per run, with one testcase per
//! pre-flight check, per migration (VM × hop), per gate and per probe target's downtime measurement.
//!
//! A migration that failed, was aborted, timed out or was interrupted is a `<failure>` with its reason; a failed gate
//! is a `<failure>` with its detail; a downtime that could not be measured (or only as a lower bound) is an
//! `<error>`; a run that stopped before migrating is one `<error>` testcase. The counts on the suite are computed
//! from the testcases. Written by hand: every text and attribute is escaped, characters XML 1.0 forbids are dropped.

use std::fmt::Write;

use super::downtime_text;
use crate::check::Verdict as CheckVerdict;
use crate::probe::analysis::Downtime;
use crate::record::RunRecord;

/// What became of one testcase.
#[derive(Debug, Clone, PartialEq)]
enum Result {
    Passed,
    Failure { kind: String, message: String },
    Error { kind: String, message: String },
}

#[derive(Debug, Clone)]
struct Case {
    classname: String,
    name: String,
    time_seconds: Option<f64>,
    result: Result,
    /// Shown as `<system-out>`: the measured figures.
    out: Option<String>,
}

fn cases(r: &RunRecord) -> Vec<Case> {
    let class = |what: &str| format!("vmmigrate.{}.{}.{what}", r.namespace, r.vm);
    let mut out = Vec::new();
    if let Some(vm) = r.check.as_ref().and_then(|c| c.vms.iter().find(|v| v.name == r.vm && v.namespace == r.namespace))
    {
        let failing: Vec<String> = vm
            .checks
            .iter()
            .filter(|c| c.status == crate::check::Status::Fail && !r.options.waived(c.id))
            .map(|c| format!("{}: {}", c.id, c.reason))
            .collect();
        out.push(Case {
            classname: class("check"),
            name: "pre-flight check".into(),
            time_seconds: None,
            // With --attach the checks a migration in flight fails are waived: only the others count.
            result: if vm.verdict == CheckVerdict::NotMigratable && !failing.is_empty() {
                Result::Failure { kind: "NotMigratable".into(), message: failing.join("; ") }
            } else {
                Result::Passed
            },
            out: Some(vm.verdict.label().into()),
        });
    }
    if r.hops.is_empty() {
        out.push(Case {
            classname: class("migration"),
            name: "migration".into(),
            time_seconds: None,
            result: Result::Error {
                kind: "NotRun".into(),
                message: r.error.clone().unwrap_or_else(|| "no migration ran".into()),
            },
            out: None,
        });
    }
    for hop in &r.hops {
        let res = &hop.result;
        let name = format!(
            "hop {}: {} -> {}",
            hop.index,
            res.source_node.as_deref().unwrap_or("?"),
            res.target_node.as_deref().unwrap_or("not chosen")
        );
        let result = if res.outcome == "Succeeded" {
            Result::Passed
        } else {
            let reason = res.failure_reason.clone().or(r.error.clone()).unwrap_or_else(|| "no reason reported".into());
            Result::Failure { kind: res.outcome.clone(), message: format!("migration {}: {reason}", res.outcome) }
        };
        out.push(Case {
            classname: class("migration"),
            name,
            time_seconds: res.duration_seconds.map(|d| d as f64),
            result,
            out: res.migration.as_ref().map(|m| format!("VirtualMachineInstanceMigration {m}")),
        });
        for t in &hop.targets {
            let text = downtime_text(t);
            let result = match t.analysis.as_ref().map(|a| &a.downtime) {
                Some(Downtime::Measured { .. } | Downtime::BelowResolution { .. }) => Result::Passed,
                Some(Downtime::Incomplete { .. }) => Result::Error { kind: "Incomplete".into(), message: text.clone() },
                Some(Downtime::NotMeasured { .. }) | None => {
                    Result::Error { kind: "NotMeasured".into(), message: text.clone() }
                }
            };
            out.push(Case {
                classname: class("downtime"),
                name: format!("hop {} downtime {} ({})", hop.index, t.target.target, t.target.method),
                time_seconds: None,
                result,
                out: Some(text),
            });
        }
    }
    // A run that stopped after a successful hop (Ctrl-C between hops, an API error, a probe that broke) fails CI
    // too: the error is a testcase of its own, not only `<system-err>`, which no CI system counts. (After a hop that
    // did not succeed, that hop's testcase already carries the failure.)
    let last_succeeded = r.hops.last().is_some_and(|h| h.result.outcome == "Succeeded");
    if let (true, Some(error)) = (last_succeeded, &r.error) {
        out.push(Case {
            classname: class("migration"),
            name: format!("run stopped after hop {}", r.hops.len()),
            time_seconds: None,
            result: Result::Error { kind: "Stopped".into(), message: error.clone() },
            out: None,
        });
    }
    for g in &r.gates {
        out.push(Case {
            classname: class("gate"),
            name: format!("{} {}", g.name, g.subject),
            time_seconds: None,
            result: if g.passed {
                Result::Passed
            } else {
                Result::Failure { kind: "ThresholdExceeded".into(), message: g.detail.clone() }
            },
            out: Some(g.detail.clone()),
        });
    }
    out
}

/// Escapes text for XML content and attribute values, dropping characters XML 1.0 does not allow.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Renders the report.
pub fn render(r: &RunRecord) -> String {
    let cases = cases(r);
    let failures = cases.iter().filter(|c| matches!(c.result, Result::Failure { .. })).count();
    let errors = cases.iter().filter(|c| matches!(c.result, Result::Error { .. })).count();
    // fold from +0.0: an empty f64 sum is -0.0, which would print as "-0".
    let time = cases.iter().filter_map(|c| c.time_seconds).fold(0.0, |a, b| a + b);
    let suite = format!("kubectl-vmmigrate {}/{}", r.namespace, r.vm);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let counts = format!("tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time}\"", cases.len());
    let _ = writeln!(x, "<testsuites name=\"{}\" {counts}>", esc(&suite));
    let stamp = r.started_at.as_deref().map(|s| format!(" timestamp=\"{}\"", esc(s))).unwrap_or_default();
    let _ = writeln!(x, "  <testsuite name=\"{}\" {counts} skipped=\"0\"{stamp}>", esc(&suite));
    x.push_str("    <properties>\n");
    let props = [
        ("namespace", r.namespace.clone()),
        ("vm", r.vm.clone()),
        ("toolVersion", r.tool_version.clone()),
        ("exitCode", r.exit_code.to_string()),
        ("verdict", super::verdict(r).label().to_string()),
    ];
    for (k, v) in props {
        let _ = writeln!(x, "      <property name=\"{k}\" value=\"{}\"/>", esc(&v));
    }
    x.push_str("    </properties>\n");
    for c in &cases {
        let time = c.time_seconds.map(|t| format!(" time=\"{t}\"")).unwrap_or_default();
        let _ = write!(x, "    <testcase classname=\"{}\" name=\"{}\"{time}>", esc(&c.classname), esc(&c.name));
        match &c.result {
            Result::Passed => {}
            Result::Failure { kind, message } => {
                let _ = write!(
                    x,
                    "\n      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    esc(kind),
                    esc(message),
                    esc(message)
                );
            }
            Result::Error { kind, message } => {
                let _ = write!(
                    x,
                    "\n      <error type=\"{}\" message=\"{}\">{}</error>",
                    esc(kind),
                    esc(message),
                    esc(message)
                );
            }
        }
        if let Some(o) = &c.out {
            let _ = write!(x, "\n      <system-out>{}</system-out>", esc(o));
        }
        x.push_str(if matches!(c.result, Result::Passed) && c.out.is_none() { "" } else { "\n    " });
        x.push_str("</testcase>\n");
    }
    if let Some(e) = &r.error {
        let _ = writeln!(x, "    <system-err>{}</system-err>", esc(e));
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    /// Parses with a real XML parser and checks the counts against the testcases actually present.
    fn parse_and_count(xml: &str) -> (usize, usize, usize) {
        let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suites: Vec<_> = root.children().filter(|n| n.has_tag_name("testsuite")).collect();
        assert_eq!(suites.len(), 1);
        let cases: Vec<_> = suites[0].children().filter(|n| n.has_tag_name("testcase")).collect();
        let count = |tag: &str| cases.iter().filter(|c| c.children().any(|n| n.has_tag_name(tag))).count();
        let (tests, failures, errors) = (cases.len(), count("failure"), count("error"));
        for node in [root, suites[0]] {
            assert_eq!(node.attribute("tests"), Some(tests.to_string().as_str()));
            assert_eq!(node.attribute("failures"), Some(failures.to_string().as_str()));
            assert_eq!(node.attribute("errors"), Some(errors.to_string().as_str()));
            let time: f64 = node.attribute("time").unwrap().parse().unwrap();
            assert!(time >= 0.0 && !node.attribute("time").unwrap().starts_with('-'), "{xml}");
        }
        (tests, failures, errors)
    }

    #[test]
    fn a_successful_run_has_no_failure() {
        let xml = render(&fixture::success_with_probe());
        // check, hop 1, two downtime measurements
        assert_eq!(parse_and_count(&xml), (4, 0, 0));
        assert!(xml.contains("name=\"hop 1: the-toy-factory -&gt; the-dome\" time=\"12\""), "{xml}");
    }

    #[test]
    fn a_failed_migration_and_a_failed_gate_are_failures() {
        assert_eq!(parse_and_count(&render(&fixture::failed())), (4, 1, 0));
        let xml = render(&fixture::gate_failed());
        assert_eq!(parse_and_count(&xml), (6, 1, 0));
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let failure = doc.descendants().find(|n| n.has_tag_name("failure")).unwrap();
        assert_eq!(failure.attribute("type"), Some("ThresholdExceeded"));
        assert!(failure.attribute("message").unwrap().contains("> 500 ms"));
    }

    #[test]
    fn an_aborted_run_fails_and_a_downtime_not_measured_is_an_error() {
        let xml = render(&fixture::aborted());
        assert_eq!(parse_and_count(&xml), (4, 1, 1));
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let error = doc.descendants().find(|n| n.has_tag_name("error")).unwrap();
        assert_eq!(error.attribute("type"), Some("NotMeasured"));
        let failure = doc.descendants().find(|n| n.has_tag_name("failure")).unwrap();
        assert_eq!(failure.attribute("type"), Some("Interrupted"));
    }

    #[test]
    fn a_run_that_never_migrated_is_one_error() {
        let mut r = fixture::failed();
        r.hops.clear();
        r.error = Some("refused: the pre-flight check found blockers".into());
        assert_eq!(parse_and_count(&render(&r)), (2, 0, 1));
    }

    #[test]
    fn with_attach_the_in_flight_checks_are_waived_and_no_others() {
        let mut r = fixture::success_with_probe();
        let vm = &mut r.check.as_mut().unwrap().vms[0];
        vm.verdict = CheckVerdict::NotMigratable;
        let inflight = vm.checks.iter_mut().find(|c| c.id == "migration.inflight").unwrap();
        inflight.status = crate::check::Status::Fail;
        assert_eq!(parse_and_count(&render(&r)).1, 1, "without --attach the check fails");
        r.options.attach = true;
        assert_eq!(parse_and_count(&render(&r)).1, 0, "--attach waives it");
        let vm = &mut r.check.as_mut().unwrap().vms[0];
        vm.checks.iter_mut().find(|c| c.id != "migration.inflight").unwrap().status = crate::check::Status::Fail;
        assert_eq!(parse_and_count(&render(&r)).1, 1, "but no other check");
    }

    #[test]
    fn a_run_stopped_after_a_successful_hop_is_an_error() {
        let mut r = fixture::repeated(2);
        r.error = Some("interrupted between hops".into());
        let xml = render(&r);
        assert_eq!(parse_and_count(&xml), (1 + 2 * 3 + 1, 0, 1));
        assert!(xml.contains("type=\"Stopped\" message=\"interrupted between hops\""), "{xml}");
    }

    #[test]
    fn several_hops_are_one_testcase_each() {
        let (tests, failures, errors) = parse_and_count(&render(&fixture::repeated(5)));
        assert_eq!((tests, failures, errors), (1 + 5 * 3, 0, 0));
    }

    /// Built once: the fixture runs the probe analysis and the check.
    static ABORTED: std::sync::LazyLock<RunRecord> = std::sync::LazyLock::new(fixture::aborted);

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any text anywhere keeps the XML well-formed and the counts right, and the Markdown tables whole.
        #[test]
        fn any_text_keeps_every_format_well_formed(reason in "\\PC*", warning in ".*", target in "[ -~]{0,20}") {
            let mut r = ABORTED.clone();
            r.hops[0].result.failure_reason = Some(reason);
            r.warnings.push(warning);
            r.hops[0].targets[0].target.target = target;
            parse_and_count(&render(&r));
            let md = super::super::markdown::render(&r);
            for table_line in md.lines().filter(|l| l.starts_with("| Target | Method | Lost")) {
                proptest::prop_assert_eq!(table_line.matches(" | ").count(), 8);
            }
            let rows = md.lines().filter(|l| l.starts_with('|') && !l.ends_with('|')).count();
            proptest::prop_assert_eq!(rows, 0, "a table row was cut:\n{}", md);
        }
    }

    #[test]
    fn hostile_text_is_escaped_and_parses_back_verbatim() {
        let mut r = fixture::failed();
        let nasty = "x <y> & \"z\" 'w' ]]> \u{1}\u{8}tab\there\nline";
        r.hops[0].result.failure_reason = Some(nasty.into());
        r.vm = "vm\"<&>".into();
        let xml = render(&r);
        parse_and_count(&xml);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let failure = doc.descendants().find(|n| n.has_tag_name("failure")).unwrap();
        let cleaned = "x <y> & \"z\" 'w' ]]> tab\there\nline";
        assert_eq!(failure.attribute("message"), Some(format!("migration Failed: {cleaned}").as_str()));
        assert_eq!(failure.text(), Some(format!("migration Failed: {cleaned}").as_str()));
    }
}
