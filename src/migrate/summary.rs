//! What `run` prints on stdout from its [`RunRecord`]: for a table, each hop's result followed by what the probe
//! measured per target, then (with several hops) the per-hop table and p50/p95/max, then the gates; for
//! `-o json|yaml`, one [`RunDocument`] (the single-migration document of `docs/run-result.md`, extended
//! additively).

use serde::Serialize;

use crate::probe::analysis::{Downtime, OutageWindow, RttStats, TargetAnalysis};
use crate::record::{Gate, Hop, ProbeSetup, RunRecord, TargetResult};

use super::hops::{HopStats, Spread, hop_stats};
use super::state::MigrationResult;
use super::ui::{RenderError, ResultFormat, render_document, render_result};

/// The `-o json|yaml` document of `run`: the last hop's result with every field of the single-migration document,
/// plus the probe's figures, the hypervisor pause, the gates and, with several hops, every hop and the figures
/// over them. See `docs/run-result.md`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDocument<'a> {
    #[serde(flatten)]
    pub result: &'a MigrationResult,
    /// The libvirt-logged hypervisor pause of the last hop, or why it is not known.
    pub hypervisor_downtime_ms: Option<f64>,
    pub hypervisor_downtime_unavailable: Option<String>,
    /// `--probe`: where it ran, its targets and baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<&'a ProbeSetup>,
    /// `--probe`: per target, what was measured during the last hop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<&'a [TargetResult]>,
    /// `--max-downtime`, `--max-duration`.
    #[serde(skip_serializing_if = "<[Gate]>::is_empty")]
    pub gates: &'a [Gate],
    /// `--repeat`, `--round-trip`: every hop (in order) and the figures over them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hops: Option<&'a [Hop]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hop_stats: Option<HopStats>,
    /// Warnings met outside the migrations (probe placement, cleanup, where a v1.5 round trip landed).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub run_warnings: &'a [String],
    /// Why the command stopped after a migration had run (an API error, the probe broke...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

impl<'a> RunDocument<'a> {
    /// The document for a record with at least one hop.
    pub fn of(record: &'a RunRecord) -> Option<Self> {
        let last = record.hops.last()?;
        let several = record.hops.len() > 1 || record.options.repeat > 1 || record.options.round_trip;
        Some(RunDocument {
            result: &last.result,
            hypervisor_downtime_ms: last.hypervisor_downtime_ms,
            hypervisor_downtime_unavailable: last.hypervisor_downtime_unavailable.clone(),
            probe: record.probe.as_ref(),
            targets: record.probe.as_ref().map(|_| last.targets.as_slice()),
            gates: &record.gates,
            hops: several.then_some(record.hops.as_slice()),
            hop_stats: several.then(|| hop_stats(&record.hops)),
            run_warnings: &record.warnings,
            error: record.error.as_deref(),
        })
    }
}

/// One hop as printed when it ends (table format): its result, then the probe's figures and the hypervisor pause.
/// `probe` is the probe's setup with `--probe` (its baseline stands in for the RTT before a migration whose probe
/// started within the same second as the migration's first, second-precision, timestamp).
pub fn render_hop(hop: &Hop, hops_planned: u32, probe: Option<&ProbeSetup>) -> Result<String, RenderError> {
    let mut out = String::new();
    if hops_planned > 1 {
        out.push_str(&format!("Hop {} of {hops_planned}\n", hop.index));
    }
    out.push_str(&render_result(&hop.result, ResultFormat::Table)?);
    if let Some(setup) = probe {
        out.push_str(&targets_text(&hop.targets, &hop.result, &setup.baseline));
    }
    match (hop.hypervisor_downtime_ms, &hop.hypervisor_downtime_unavailable) {
        (Some(ms), _) => out.push_str(&format!("Hypervisor pause  {ms:.0} ms (libvirt, source virt-launcher log)\n")),
        (None, Some(why)) if probe.is_some() => out.push_str(&format!("Hypervisor pause  not known: {why}\n")),
        _ => {}
    }
    Ok(out)
}

/// After the last hop (table format): the per-hop table and figures over the hops, then the gates.
pub fn render_end(record: &RunRecord) -> String {
    let mut out = String::new();
    if let Some(p) = &record.probe {
        let at = match (&p.pod, &p.node) {
            (Some(pod), Some(node)) => format!("{} {pod} on {node}", p.placement),
            (Some(pod), None) => format!("{} {pod}", p.placement),
            _ => p.placement.clone(),
        };
        let ping = p.ping_flavour.as_deref().map(|f| format!(", ping {f}")).unwrap_or_default();
        out.push_str(&format!("Probe  {at}, image {}{ping}\n", p.image));
        if let Some(done) = &p.cleanup {
            out.push_str(&format!("Probe cleanup  {done}\n"));
        }
    }
    for w in &record.warnings {
        out.push_str(&format!("Warning  {w}\n"));
    }
    if record.hops.len() > 1 || record.options.repeat > 1 || record.options.round_trip {
        out.push_str(&hop_table(&record.hops));
        out.push_str(&stats_text(&hop_stats(&record.hops)));
    }
    if !record.gates.is_empty() {
        out.push_str("Gates\n");
        for g in &record.gates {
            let mark = if g.passed { "✓" } else { "✗" };
            out.push_str(&format!("  {mark} {} {}: {}\n", g.name, g.subject, g.detail));
        }
    }
    out
}

/// The probe's figures per target, one block each.
pub fn targets_text(targets: &[TargetResult], result: &MigrationResult, baseline: &[TargetResult]) -> String {
    let mut out = String::from("Downtime probe\n");
    if targets.is_empty() {
        out.push_str("  no target measured\n");
    }
    for t in targets {
        let via = t.target.via.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
        out.push_str(&format!("  {} ({}, {}{via})\n", t.target.target, t.target.method, t.target.source));
        if let Some(a) = &t.analysis {
            let base = baseline.iter().find(|b| b.target == t.target).and_then(|b| b.analysis.as_ref());
            out.push_str(&analysis_text(a, base.and_then(|b| b.rtt)));
        }
        if let Some(why) = &t.not_measured {
            out.push_str(&format!("    not measured: {why}\n"));
        }
        if let Some(change) = ip_change(t, result) {
            out.push_str(&format!("    {change}\n"));
        }
    }
    out
}

fn analysis_text(a: &TargetAnalysis, baseline_rtt: Option<RttStats>) -> String {
    let mut out = format!(
        "    sent {}, received {}, loss {:.1} %, every {:.0} ms\n",
        a.sent,
        a.received,
        a.loss_ratio * 100.0,
        a.achieved_interval_ms
    );
    out.push_str(&format!("    downtime {}\n", crate::report::downtime_phrase(&a.downtime)));
    for (i, w) in a.windows.iter().enumerate() {
        out.push_str(&format!("    outage {}: {}\n", i + 1, window_text(w)));
    }
    let rtt = |s: &Option<RttStats>| match s {
        Some(s) => format!("{:.1}/{:.1} ms", s.median_ms, s.p99_ms),
        None => "-".to_string(),
    };
    let p = &a.rtt_by_phase;
    let before = match (p.before, baseline_rtt) {
        (None, Some(b)) => format!("{} (baseline)", rtt(&Some(b))),
        (before, _) => rtt(&before),
    };
    out.push_str(&format!("    RTT median/p99  before {before}, during {}, after {}\n", rtt(&p.during), rtt(&p.after)));
    out
}

fn window_text(w: &OutageWindow) -> String {
    let mut s = format!("{:.0} ± {:.0} ms, {} lost", w.length_ms, w.resolution_ms, w.lost_count);
    if let Some(phase) = &w.phase {
        s.push_str(&format!(", in {phase}"));
    }
    if let Some(off) = w.offset_from_switchover_ms {
        s.push_str(&format!(", {off:+.0} ms from the switchover"));
    }
    if !w.closed {
        s.push_str(" (not closed: a lower bound)");
    }
    s
}

/// For a target that is one of the VMI's interface addresses: whether that interface's address changed.
fn ip_change(t: &TargetResult, result: &MigrationResult) -> Option<String> {
    let iface = result.ip_addresses.iter().find(|i| i.before.contains(&t.target.target))?;
    Some(if iface.changed {
        format!("IP CHANGED on {}: {} → {}", iface.name, iface.before.join(", "), iface.after.join(", "))
    } else {
        "IP unchanged".to_string()
    })
}

/// One row per hop: from → to, outcome, duration, downtime per target.
pub fn hop_table(hops: &[Hop]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for t in hops.iter().flat_map(|h| &h.targets) {
        if !names.contains(&t.target.target.as_str()) {
            names.push(&t.target.target);
        }
    }
    let mut rows: Vec<Vec<String>> = vec![
        ["Hop", "From → to", "Outcome", "Duration"]
            .iter()
            .map(|s| s.to_string())
            .chain(names.iter().map(|n| n.to_string()))
            .collect(),
    ];
    for h in hops {
        let r = &h.result;
        let mut row = vec![
            h.index.to_string(),
            format!("{} → {}", r.source_node.as_deref().unwrap_or("-"), r.target_node.as_deref().unwrap_or("-")),
            r.outcome.clone(),
            r.duration_seconds.map(|d| format!("{d} s")).unwrap_or_else(|| "-".into()),
        ];
        for n in &names {
            let cell = h.targets.iter().find(|t| t.target.target == *n).and_then(|t| t.analysis.as_ref());
            row.push(match cell.map(|a| &a.downtime) {
                Some(Downtime::Measured { ms, .. }) => format!("{ms:.0} ms"),
                Some(Downtime::BelowResolution { resolution_ms }) => format!("< {resolution_ms:.0} ms"),
                Some(Downtime::Incomplete { at_least_ms, .. }) => format!("≥ {at_least_ms:.0} ms"),
                Some(Downtime::NotMeasured { .. }) | None => "not measured".into(),
            });
        }
        rows.push(row);
    }
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}", w = *w)).collect();
            cells.join("  ").trim_end().to_string() + "\n"
        })
        .collect()
}

/// `Over 5 hops (nearest-rank percentiles): …`.
pub fn stats_text(s: &HopStats) -> String {
    let spread = |sp: &Option<Spread>, unit: &str| match sp {
        Some(sp) => format!("p50 {:.0} {unit}, p95 {:.0} {unit}, max {:.0} {unit}", sp.p50, sp.p95, sp.max),
        None => "not measured".to_string(),
    };
    let mut out = format!("Over {} hops (nearest-rank percentiles)\n", s.hops);
    out.push_str(&format!("  duration  {}\n", spread(&s.duration_seconds, "s")));
    for t in &s.targets {
        let mut line = format!("  {}  downtime {}", t.target, spread(&t.downtime_ms, "ms"));
        if t.below_resolution > 0 {
            line.push_str(&format!("; {} hop(s) below the resolution", t.below_resolution));
        }
        if !t.not_measured_hops.is_empty() {
            let hops: Vec<String> = t.not_measured_hops.iter().map(u32::to_string).collect();
            line.push_str(&format!("; not measured in hop(s) {}", hops.join(", ")));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The whole record as the `-o json|yaml` document (`None` when no hop ran: the caller prints its error
/// document instead).
pub fn render_record(record: &RunRecord, format: ResultFormat) -> Result<Option<String>, RenderError> {
    RunDocument::of(record).map(|d| render_document(&d, format)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::gates::tests::target;
    use crate::record::RunOptions;

    fn hop(index: u32, from: &str, to: &str, ms: f64) -> Hop {
        let mut result = crate::migrate::measure::fixtures::result();
        result.source_node = Some(from.into());
        result.target_node = Some(to.into());
        Hop {
            index,
            result,
            targets: vec![target("10.0.0.1", Downtime::Measured { ms, resolution_ms: 20.0, window: 0 })],
            hypervisor_downtime_ms: None,
            hypervisor_downtime_unavailable: Some("no Downtime: in the log".into()),
        }
    }

    fn record(hops: Vec<Hop>, round_trip: bool) -> RunRecord {
        RunRecord {
            hops,
            options: RunOptions { round_trip, repeat: 1, probe: true, ..Default::default() },
            probe: Some(ProbeSetup::default()),
            ..Default::default()
        }
    }

    #[test]
    fn single_hop_document_keeps_every_result_field_and_adds_the_targets() {
        let rec = record(vec![hop(1, "a", "b", 180.0)], false);
        let doc: serde_json::Value =
            serde_json::from_str(&render_record(&rec, ResultFormat::Json).unwrap().unwrap()).unwrap();
        let plain: serde_json::Value = serde_json::to_value(&rec.hops[0].result).unwrap();
        for (k, v) in plain.as_object().unwrap() {
            assert_eq!(&doc[k], v, "field {k}");
        }
        assert_eq!(doc["targets"][0]["analysis"]["downtime"]["ms"], 180.0);
        assert_eq!(doc["hypervisorDowntimeUnavailable"], "no Downtime: in the log");
        assert!(doc.get("hops").is_none() && doc.get("gates").is_none(), "{doc}");
        assert!(render_record(&RunRecord::default(), ResultFormat::Json).unwrap().is_none());
        let yaml = render_record(&rec, ResultFormat::Yaml).unwrap().unwrap();
        assert!(yaml.contains("targetNode: b") && yaml.contains("targets:"), "{yaml}");
    }

    #[test]
    fn round_trip_document_and_table_have_both_hops_and_the_figures() {
        let mut rec = record(vec![hop(1, "a", "b", 180.0), hop(2, "b", "a", 220.0)], true);
        let doc: serde_json::Value =
            serde_json::from_str(&render_record(&rec, ResultFormat::Json).unwrap().unwrap()).unwrap();
        assert_eq!(doc["hops"].as_array().map(Vec::len), Some(2));
        assert_eq!(doc["targetNode"], "a", "the top level is the last hop");
        assert_eq!(doc["hopStats"]["targets"][0]["downtimeMs"]["max"], 220.0);
        rec.warnings.push("hop 2: back on a".into());
        let text = render_end(&rec);
        assert!(text.contains("Warning  hop 2: back on a"), "{text}");
        assert!(text.contains("1    a → b"), "{text}");
        assert!(text.contains("2    b → a"), "{text}");
        assert!(text.contains("220 ms"), "{text}");
        assert!(text.contains("Over 2 hops (nearest-rank percentiles)"), "{text}");
        assert!(text.contains("downtime p50 180 ms, p95 220 ms, max 220 ms"), "{text}");
    }

    #[test]
    fn per_target_text_has_loss_downtime_rtt_and_ip() {
        let mut h = hop(1, "a", "b", 180.0);
        h.result.ip_addresses = vec![crate::migrate::state::InterfaceAddresses {
            name: "default".into(),
            before: vec!["10.0.0.1".into()],
            after: vec!["10.0.0.9".into()],
            changed: true,
        }];
        let text = render_hop(&h, 1, Some(&ProbeSetup::default())).unwrap();
        for want in [
            "10.0.0.1 (icmp, flag)",
            "sent 100, received 90, loss 10.0 %",
            "downtime 180 ms ± 20.0 ms",
            "RTT median/p99  before -",
            "IP CHANGED on default: 10.0.0.1 → 10.0.0.9",
            "Hypervisor pause  not known: no Downtime: in the log",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
    }

    #[test]
    fn gates_are_listed_with_their_verdicts() {
        let mut rec = record(vec![hop(1, "a", "b", 180.0)], false);
        rec.gates = crate::migrate::gates::evaluate(&rec.hops, None, Some(std::time::Duration::from_millis(1)));
        let text = render_end(&rec);
        assert!(
            text.contains("✗ max-downtime hop 1 10.0.0.1: downtime 180 ± 20 ms, more than --max-downtime 1 ms"),
            "{text}"
        );
    }
}
