//! Validation reports (Markdown, JSON, JUnit XML) and metrics (OpenMetrics text, Pushgateway) of one `run`.
//!
//! Every writer renders a [`RunRecord`](crate::record::RunRecord) and nothing else: no figure is invented, a figure
//! that was not measured says so and why. [`environment::gather`] reads the test environment at the start of a run;
//! [`write::write_all`] renders every `--report` and replaces each file atomically; [`metrics`] writes the
//! textfile-collector file and pushes to a Pushgateway. The pure pieces shared by the formats live here: the
//! verdict against the gates and the figures over several hops.

pub mod environment;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod metrics;
pub mod write;

#[cfg(test)]
pub(crate) mod fixture;

use std::path::PathBuf;

use crate::cli::{ReportFormat, RunArgs};
use crate::probe::analysis::Downtime;
use crate::record::{RunRecord, TargetResult};

pub use environment::gather;
pub use write::write_all;

/// Where the results of one `run` go (`--report`, `--metrics-file`, `--pushgateway`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outputs {
    pub reports: Vec<(PathBuf, ReportFormat)>,
    pub metrics_file: Option<PathBuf>,
    pub pushgateway: Option<String>,
}

impl Outputs {
    pub fn from_args(args: &RunArgs) -> Self {
        Outputs {
            reports: args.report_targets(),
            metrics_file: args.metrics_file.clone(),
            pushgateway: args.pushgateway.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.reports.is_empty() && self.metrics_file.is_none() && self.pushgateway.is_none()
    }
}

/// What [`deliver`] did: the files written and every failure (each names its path or URL).
#[derive(Debug, Default)]
pub struct Delivered {
    pub written: Vec<PathBuf>,
    pub errors: Vec<ReportError>,
}

/// Writes every report and the metrics file and pushes the metrics, going on past failures so that one broken
/// output does not cost the others. The caller shows the errors (and picks the exit code: a report that could not
/// be written should not hide the migration's own outcome).
pub async fn deliver(record: &RunRecord, outputs: &Outputs) -> Delivered {
    let mut done = Delivered::default();
    for target in &outputs.reports {
        match write_all(record, std::slice::from_ref(target)) {
            Ok(paths) => done.written.extend(paths),
            Err(e) => done.errors.push(e),
        }
    }
    if let Some(path) = &outputs.metrics_file {
        match metrics::write_metrics_file(record, path) {
            Ok(()) => done.written.push(path.clone()),
            Err(e) => done.errors.push(e),
        }
    }
    if let Some(url) = &outputs.pushgateway
        && let Err(e) = metrics::push(record, url).await
    {
        done.errors.push(e);
    }
    done
}

/// Why a report or the metrics could not be produced or delivered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot render the {format} report: {detail}")]
    Render { format: &'static str, detail: String },
    #[error("cannot read the cluster: {0}")]
    Cluster(String),
    #[error("cannot push metrics to {url}: {detail}")]
    Push { url: String, detail: String },
}

/// The overall verdict of a run against what it set out to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub passed: bool,
    /// Why it failed, one line each (empty when it passed).
    pub reasons: Vec<String>,
}

impl Verdict {
    pub fn label(&self) -> &'static str {
        if self.passed { "PASS" } else { "FAIL" }
    }
}

/// PASS when at least one migration ran, every migration succeeded, every gate held, nothing stopped the command
/// and it exits 0; else FAIL with every reason.
pub fn verdict(record: &RunRecord) -> Verdict {
    let mut reasons = Vec::new();
    if let Some(e) = &record.error {
        reasons.push(format!("stopped: {e}"));
    }
    if record.hops.is_empty() {
        reasons.push("no migration ran".into());
    }
    for hop in &record.hops {
        let r = &hop.result;
        if r.outcome != "Succeeded" {
            let why = r.failure_reason.as_deref().map(|f| format!(": {f}")).unwrap_or_default();
            reasons.push(format!("hop {}: migration {}{why}", hop.index, r.outcome));
        }
    }
    for gate in record.gates.iter().filter(|g| !g.passed) {
        reasons.push(format!("gate {} ({}) failed: {}", gate.name, gate.subject, gate.detail));
    }
    if record.exit_code != 0 && reasons.is_empty() {
        reasons.push(format!("exit code {}", record.exit_code));
    }
    Verdict { passed: reasons.is_empty(), reasons }
}

/// The measured downtime of a target in ms, when there is one (a complete outage window).
pub fn measured_downtime_ms(t: &TargetResult) -> Option<f64> {
    match t.analysis.as_ref()?.downtime {
        Downtime::Measured { ms, .. } => Some(ms),
        _ => None,
    }
}

/// One line for a target's downtime: `730 ms ± 24 ms`, `below resolution (< 24 ms)`, `≥ 300 ms ± 24 ms
/// (incomplete: why)`, `not measured: why`.
pub fn downtime_text(t: &TargetResult) -> String {
    match &t.analysis {
        Some(a) => downtime_phrase(&a.downtime),
        None => format!("not measured: {}", t.not_measured.as_deref().unwrap_or("no analysis")),
    }
}

/// One line for a downtime verdict, as every output (terminal, reports) words it.
pub fn downtime_phrase(downtime: &Downtime) -> String {
    match downtime {
        Downtime::Measured { ms, resolution_ms, .. } => format!("{} ± {}", ms_text(*ms), ms_text(*resolution_ms)),
        Downtime::BelowResolution { resolution_ms } => {
            format!("below resolution (no sample lost; < {})", ms_text(*resolution_ms))
        }
        Downtime::Incomplete { at_least_ms, resolution_ms, reason } => {
            format!("≥ {} ± {} (incomplete: {reason})", ms_text(*at_least_ms), ms_text(*resolution_ms))
        }
        Downtime::NotMeasured { reason } => format!("not measured: {reason}"),
    }
}

/// `730 ms`, `24.1 ms`, `0.12 ms`: enough digits for the value's size.
pub fn ms_text(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// The probe targets over all hops, in first-seen order (`target`, `method`).
pub fn targets_of(record: &RunRecord) -> Vec<(String, String)> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for t in record.hops.iter().flat_map(|h| &h.targets) {
        let key = (t.target.target.clone(), t.target.method.clone());
        if !seen.contains(&key) {
            seen.push(key);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deliver_writes_what_it_can_and_names_what_it_cannot() {
        let dir = tempfile::tempdir().unwrap();
        let outputs = Outputs {
            reports: vec![
                (dir.path().join("missing-dir/r.md"), ReportFormat::Markdown),
                (dir.path().join("r.xml"), ReportFormat::Junit),
            ],
            metrics_file: Some(dir.path().join("vmmigrate.prom")),
            pushgateway: Some("ftp://unsupported:9091".into()),
        };
        let done = deliver(&fixture::aborted(), &outputs).await;
        assert_eq!(done.written, [dir.path().join("r.xml"), dir.path().join("vmmigrate.prom")]);
        let errors: Vec<String> = done.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("missing-dir/r.md"), "{errors:?}");
        assert!(errors[1].starts_with("cannot push metrics to ftp://unsupported:9091"), "{errors:?}");
        assert!(Outputs::default().is_empty() && !outputs.is_empty());
    }

    #[test]
    fn an_empty_record_renders_in_every_format_without_inventing_anything() {
        let r = RunRecord::default();
        let md = markdown::render(&r);
        assert!(md.contains("**Verdict: FAIL**") && md.contains("No migration ran."), "{md}");
        assert!(md.contains("Not available: the cluster was not read"), "{md}");
        assert!(md.contains("Not checked: the pre-flight check did not run."), "{md}");
        assert!(json::render(&r).unwrap().contains("\"hops\": []"));
        assert!(junit::render(&r).contains("errors=\"1\""));
        assert!(
            metrics::render(&r, metrics::Exposition::OpenMetrics)
                .contains("kubectl_vmmigrate_success{namespace=\"\",vm=\"\"} 0")
        );
    }

    #[test]
    fn the_verdict_names_every_reason() {
        let ok = fixture::success_with_probe();
        assert_eq!(verdict(&ok), Verdict { passed: true, reasons: vec![] });
        let failed = fixture::failed();
        let v = verdict(&failed);
        assert!(!v.passed);
        assert!(v.reasons.iter().any(|r| r.starts_with("hop 1: migration Failed: ")), "{:?}", v.reasons);
        let gated = fixture::gate_failed();
        let v = verdict(&gated);
        assert_eq!(v.reasons.len(), 1, "{:?}", v.reasons);
        assert!(v.reasons[0].starts_with("gate max-downtime"));
        assert!(!verdict(&RunRecord::default()).passed);
    }

    #[test]
    fn downtime_text_never_says_zero_for_no_loss() {
        let r = fixture::success_with_probe();
        let texts: Vec<String> = r.hops[0].targets.iter().map(downtime_text).collect();
        assert!(texts[0].ends_with(" ms") && texts[0].contains(" ± "), "{texts:?}");
        assert!(texts[1].starts_with("below resolution"), "{texts:?}");
    }
}
