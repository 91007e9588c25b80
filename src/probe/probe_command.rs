//! `kubectl vmmigrate probe VM`: place the prober, check its tools, take a baseline, probe every target until
//! Ctrl-C or `--duration`, print per-target results, clean up.
//!
//! Progress and warnings go to stderr; the results go to stdout as a table or (`-o json|yaml`) as a
//! [`ProbeDocument`]. The prober pod is deleted on every path (success, error, Ctrl-C): [`Prober::cleanup`] is
//! awaited before the command returns, and a drop on an unexpected path deletes it too (see [`super::session`]).

use std::time::Duration;

use serde::Serialize;

use super::analysis::{Downtime, TargetAnalysis};
use super::session::{ProbeError, ProbeRequest, Prober, results};
use crate::cli::{OutputFormat, ProbeCmdArgs};
use crate::cluster::Cluster;
use crate::exit::Outcome;
use crate::record::{ProbeSetup, TargetResult};
use crate::term::{self, Term};

/// How long `probe` runs without `--duration`: until Ctrl-C, at most this.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(3600);

/// What `probe -o json|yaml` prints.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeDocument {
    pub namespace: String,
    pub vm: String,
    /// Where the probe ran, its tools, targets, baseline and cleanup.
    pub probe: ProbeSetup,
    /// Per target, what the probe measured after the baseline.
    pub targets: Vec<TargetResult>,
    /// Whether Ctrl-C ended the probing (before `--duration`).
    pub interrupted: bool,
    pub warnings: Vec<String>,
}

/// Ctrl-C, listened to from the moment it is created (so no signal between steps is lost or kills the process).
struct CtrlC {
    rx: tokio::sync::watch::Receiver<bool>,
    _task: tokio::task::JoinHandle<()>,
}

impl CtrlC {
    fn listen() -> std::io::Result<Self> {
        let (tx, rx) = tokio::sync::watch::channel(false);
        #[cfg(unix)]
        let task = {
            let mut sig = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
            tokio::spawn(async move {
                while sig.recv().await.is_some() {
                    let _ = tx.send(true);
                }
            })
        };
        #[cfg(not(unix))]
        let task = tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(true);
            }
        });
        Ok(CtrlC { rx, _task: task })
    }

    async fn pressed(&mut self) {
        if self.rx.wait_for(|p| *p).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Runs `probe VM`.
pub async fn command(cluster: &Cluster, args: &ProbeCmdArgs, term: &Term) -> anyhow::Result<Outcome> {
    let mut ctrl_c = CtrlC::listen()?;
    let duration = args.duration.unwrap_or(DEFAULT_MAX_DURATION);
    let req = ProbeRequest::from_args(&args.vm, &args.probe, duration);
    let progress = term.progress("probe");
    progress.set_message(format!("placing the prober (image {})", req.image));
    let placed = tokio::select! {
        r = Prober::place(&cluster.client, &cluster.namespace, &req) => r,
        _ = ctrl_c.pressed() => Err(ProbeError::Interrupted),
    };
    let mut prober = match placed {
        Ok(p) => p,
        Err(e) => {
            progress.clear();
            return failure(e);
        }
    };
    let measured = measure(&mut prober, &req, &mut ctrl_c, &progress, args.duration.is_some()).await;
    progress.set_message("cleaning up");
    let cleanup = prober.cleanup().await;
    progress.finish(if measured.is_ok() { "done" } else { "stopped" });
    for w in prober.warnings() {
        eprintln!("warning: {w}");
    }
    let (cleanup, cleanup_error) = match cleanup {
        Ok(done) => (done, None),
        Err(e) => (format!("cleanup failed: {}", crate::exit::chain_message(&e)), Some(e)),
    };
    let (targets, interrupted) = match measured {
        Ok(m) => m,
        Err(e) => {
            if cleanup_error.is_some() {
                eprintln!("warning: {cleanup}");
            }
            return failure(e);
        }
    };
    let mut setup = prober.setup();
    setup.cleanup = Some(cleanup);
    let doc = ProbeDocument {
        namespace: cluster.namespace.clone(),
        vm: args.vm.clone(),
        probe: setup,
        targets,
        interrupted,
        warnings: prober.warnings(),
    };
    if !term::print_structured(term.format, &doc)? {
        term::write_stdout(&render_table(&doc, term.format == OutputFormat::Wide))?;
    }
    match cleanup_error {
        // The results stand, but something was left behind: that is an error (exit 1).
        Some(e) => Err(anyhow::Error::new(e).context("the probe measured, but its cleanup failed")),
        None => Ok(Outcome::Success),
    }
}

/// A probe error as the command's result: its exit code, and its one line.
fn failure(e: ProbeError) -> anyhow::Result<Outcome> {
    match e.exit_code().outcome() {
        Some(Outcome::Interrupted) => Err(anyhow::Error::new(crate::exit::Interrupted)),
        Some(outcome) => {
            eprintln!("error: {}", crate::exit::chain_message(&e));
            Ok(outcome)
        }
        None if e.exit_code() == crate::exit::ExitCode::Usage => {
            Err(crate::exit::UsageError(crate::exit::chain_message(&e)).into())
        }
        None => Err(anyhow::Error::new(e)),
    }
}

/// Baseline, then the long-running probes until they end (`--duration`) or Ctrl-C. Returns the per-target
/// results and whether Ctrl-C ended them.
async fn measure(
    prober: &mut Prober,
    req: &ProbeRequest,
    ctrl_c: &mut CtrlC,
    progress: &term::Progress,
    timed: bool,
) -> Result<(Vec<TargetResult>, bool), ProbeError> {
    let setup = prober.setup();
    progress.set_message(format!(
        "prober {} on {}: baseline of {} s on {} target(s)",
        setup.pod.as_deref().unwrap_or_default(),
        setup.node.as_deref().unwrap_or("?"),
        req.baseline.as_secs(),
        setup.targets.len()
    ));
    tokio::select! {
        r = prober.baseline() => r?,
        _ = ctrl_c.pressed() => return Err(ProbeError::Interrupted),
    };
    let mut running = prober.start().await?;
    progress.set_message(if timed {
        format!("probing for {}", crate::duration::format(req.bound))
    } else {
        "probing until Ctrl-C".to_string()
    });
    let interrupted = tokio::select! {
        _ = running.finished() => false,
        _ = ctrl_c.pressed() => true,
    };
    let series = running.stop(Duration::ZERO).await;
    Ok((results(&series), interrupted))
}

/// `180 ms ± 20 ms`, `< 20 ms (no loss)`, `≥ 500 ms ± 20 ms (…)`, `not measured (…)`.
pub fn downtime_text(d: &Downtime) -> String {
    match d {
        Downtime::Measured { ms, resolution_ms, .. } => format!("{} ± {}", ms_text(*ms), ms_text(*resolution_ms)),
        Downtime::BelowResolution { resolution_ms } => format!("< {} (no loss)", ms_text(*resolution_ms)),
        Downtime::Incomplete { at_least_ms, resolution_ms, reason } => {
            format!("≥ {} ± {} ({reason})", ms_text(*at_least_ms), ms_text(*resolution_ms))
        }
        Downtime::NotMeasured { reason } => format!("not measured ({reason})"),
    }
}

fn ms_text(ms: f64) -> String {
    if ms >= 10_000.0 { format!("{:.1} s", ms / 1000.0) } else { format!("{} ms", ms.round()) }
}

fn rtt_text(a: &TargetAnalysis) -> String {
    a.rtt.map(|r| format!("{:.2} / {:.2} ms", r.median_ms, r.p99_ms)).unwrap_or_else(|| "-".into())
}

fn time_text(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map(|t| t.strftime("%H:%M:%S%.3f").to_string()).unwrap_or_else(|_| "?".into())
}

/// The human result: one row per target, then the outage windows and where the probe ran.
pub fn render_table(doc: &ProbeDocument, wide: bool) -> String {
    let mut headers = vec!["TARGET", "VIA", "SENT", "RECEIVED", "LOSS", "OUTAGES", "DOWNTIME", "RTT MEDIAN / P99"];
    if wide {
        headers.extend(["METHOD", "INTERVAL"]);
    }
    let rows: Vec<Vec<String>> = doc
        .targets
        .iter()
        .map(|r| {
            let via = match &r.target.via {
                Some(v) => format!("{} {v}", r.target.source),
                None => r.target.source.clone(),
            };
            let mut row = vec![r.target.target.clone(), via];
            match (&r.analysis, &r.not_measured) {
                (Some(a), _) => {
                    row.extend([
                        a.sent.to_string(),
                        a.received.to_string(),
                        format!("{:.1}%", a.loss_ratio * 100.0),
                        a.windows.len().to_string(),
                        downtime_text(&a.downtime),
                        rtt_text(a),
                    ]);
                    if wide {
                        row.extend([a.method.clone(), format!("{:.1} ms", a.achieved_interval_ms)]);
                    }
                }
                (None, why) => {
                    let why = why.clone().unwrap_or_default();
                    row.extend(["-", "-", "-", "-"].map(String::from));
                    row.extend([format!("not measured ({why})"), "-".into()]);
                    if wide {
                        row.extend([r.target.method.clone(), "-".into()]);
                    }
                }
            }
            row
        })
        .collect();
    let mut out = term::table(&headers, rows);
    for r in &doc.targets {
        for (i, w) in r.analysis.iter().flat_map(|a| a.windows.iter()).enumerate() {
            if i == 0 {
                out.push_str(&format!("\nOutage windows of {}:\n", r.target.target));
            }
            out.push_str(&format!(
                "  {} → {}  {} ± {}, {} lost{}\n",
                time_text(w.start_us),
                time_text(w.end_us),
                ms_text(w.length_ms),
                ms_text(w.resolution_ms),
                w.lost_count,
                if w.closed { "" } else { " (still open at an end of the probe)" }
            ));
        }
    }
    let p = &doc.probe;
    out.push_str(&format!(
        "\nProbe: {} {} on node {} (image {}, ping {}){}\n",
        p.placement,
        p.pod.as_deref().unwrap_or("-"),
        p.node.as_deref().unwrap_or("?"),
        p.image,
        p.ping_flavour.as_deref().unwrap_or("-"),
        if doc.interrupted { "; stopped by Ctrl-C" } else { "" }
    ));
    if let Some(c) = &p.cleanup {
        out.push_str(&format!("Cleanup: {c}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::analysis::{AnalysisOptions, ProbeEnd, ProbeSeries, Sample, analyse};
    use crate::record::PlannedTarget;

    fn series_with_gap() -> ProbeSeries {
        let samples = (1..=100u64)
            .map(|seq| Sample {
                seq,
                at_us: 1_800_000_000_000_000 + seq as i64 * 20_000,
                ok: !(40..49).contains(&seq),
                rtt_ms: Some(0.5),
            })
            .collect();
        ProbeSeries {
            target: "10.244.0.57".into(),
            method: "icmp".into(),
            requested_interval_us: 20_000,
            samples,
            end: ProbeEnd::Completed,
        }
    }

    #[test]
    fn the_table_shows_loss_windows_downtime_and_rtt() {
        let a = analyse(&series_with_gap(), None, AnalysisOptions::default());
        let target = PlannedTarget {
            target: "10.244.0.57".into(),
            method: "icmp".into(),
            source: "interface".into(),
            via: Some("default".into()),
        };
        let unreachable =
            PlannedTarget { target: "10.9.9.9".into(), via: None, source: "flag".into(), ..target.clone() };
        let doc = ProbeDocument {
            namespace: "tenant-root".into(),
            vm: "vm".into(),
            probe: ProbeSetup { placement: "pod".into(), node: Some("illusion".into()), ..Default::default() },
            targets: vec![
                TargetResult { target, analysis: Some(a), not_measured: None },
                TargetResult { target: unreachable, analysis: None, not_measured: Some("ping printed nothing".into()) },
            ],
            interrupted: true,
            warnings: vec![],
        };
        let text = render_table(&doc, false);
        assert!(text.contains("interface default"), "{text}");
        assert!(text.contains("9.0%"), "{text}");
        assert!(text.contains("180 ms ± 20 ms"), "{text}");
        assert!(text.contains("0.50 / 0.50 ms"), "{text}");
        assert!(text.contains("Outage windows of 10.244.0.57"), "{text}");
        assert!(text.contains("not measured (ping printed nothing)"), "{text}");
        assert!(text.contains("on node illusion") && text.contains("stopped by Ctrl-C"), "{text}");
    }

    #[test]
    fn downtime_texts() {
        assert_eq!(downtime_text(&Downtime::BelowResolution { resolution_ms: 20.0 }), "< 20 ms (no loss)");
        assert_eq!(downtime_text(&Downtime::NotMeasured { reason: "x".into() }), "not measured (x)");
        let long = Downtime::Measured { ms: 12_345.0, resolution_ms: 20.0, window: 0 };
        assert_eq!(downtime_text(&long), "12.3 s ± 20 ms");
    }
}
