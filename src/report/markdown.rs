//! The Markdown validation report: the seed report's sections (test environment, VM configuration, pre-migration
//! state, prerequisites, migration configuration and timeline, post-migration state, connectivity, issues, verdict),
//! filled from the [`RunRecord`] only. A figure that was not measured says `not measured` and why.

use std::fmt::Write;

use super::{downtime_text, measured_downtime_ms, ms_text, targets_of, verdict};
use crate::check::config::Sourced;
use crate::migrate::hops::Spread;
use crate::probe::analysis::{RttStats, TargetAnalysis};
use crate::record::{Hop, RunRecord, TargetResult};

/// Renders the report.
pub fn render(record: &RunRecord) -> String {
    let mut md = Md::default();
    let v = verdict(record);
    md.line(&format!("# Live migration validation report: {}/{}", record.namespace, record.vm));
    md.blank();
    md.line(&format!("**Verdict: {}**", v.label()));
    md.blank();
    md.kv(&[
        ("Tool", format!("kubectl-vmmigrate {}", record.tool_version)),
        ("Started", opt(&record.started_at, "not recorded")),
        ("Ended", opt(&record.ended_at, "not recorded")),
        ("Migrations", record.hops.len().to_string()),
        ("Exit code", record.exit_code.to_string()),
    ]);
    environment(&mut md, record);
    vm_configuration(&mut md, record);
    pre_state(&mut md, record);
    prerequisites(&mut md, record);
    migration_configuration(&mut md, record);
    timeline(&mut md, record);
    post_state(&mut md, record);
    connectivity(&mut md, record);
    hops(&mut md, record);
    issues(&mut md, record);
    md.heading("Verdict");
    md.line(&format!("**{}**", v.label()));
    md.blank();
    for reason in &v.reasons {
        md.line(&format!("- {}", cell(reason)));
    }
    if !v.reasons.is_empty() {
        md.blank();
    }
    if record.gates.is_empty() {
        md.para("No thresholds were set (`--max-downtime`, `--max-duration`).");
    } else {
        let rows = record
            .gates
            .iter()
            .map(|g| {
                vec![
                    g.name.clone(),
                    g.subject.clone(),
                    format!("{} {}", num(g.limit), g.unit),
                    g.measured.map(|m| format!("{} {}", num(m), g.unit)).unwrap_or_else(|| "not measured".into()),
                    if g.passed { "PASS" } else { "FAIL" }.into(),
                    g.detail.clone(),
                ]
            })
            .collect();
        md.table(&["Gate", "Subject", "Limit", "Measured", "Result", "Detail"], rows);
    }
    md.0
}

/// A Markdown document under construction.
#[derive(Default)]
struct Md(String);

impl Md {
    fn line(&mut self, s: &str) {
        self.0.push_str(s);
        self.0.push('\n');
    }
    fn blank(&mut self) {
        self.0.push('\n');
    }
    fn heading(&mut self, title: &str) {
        self.line(&format!("## {title}"));
        self.blank();
    }
    fn sub(&mut self, title: &str) {
        self.line(&format!("### {title}"));
        self.blank();
    }
    fn para(&mut self, s: &str) {
        self.line(s);
        self.blank();
    }
    /// A list of `- **Key:** value` lines.
    fn kv(&mut self, rows: &[(&str, String)]) {
        for (k, v) in rows {
            self.line(&format!("- **{k}:** {}", v.replace(['\n', '\r'], " ")));
        }
        self.blank();
    }
    fn table(&mut self, headers: &[&str], rows: Vec<Vec<String>>) {
        let row = |cells: Vec<String>| format!("| {} |", cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
        self.line(&row(headers.iter().map(|h| h.to_string()).collect()));
        self.line(&format!("|{}", "---|".repeat(headers.len())));
        for r in rows {
            self.line(&row(r));
        }
        self.blank();
    }
}

/// A table cell: pipes escaped, line breaks flattened.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn opt(v: &Option<String>, missing: &str) -> String {
    v.clone().unwrap_or_else(|| missing.into())
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn list(v: &[String]) -> String {
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

fn environment(md: &mut Md, r: &RunRecord) {
    md.heading("Test environment");
    let Some(env) = &r.environment else {
        md.para("Not available: the cluster was not read before the migration.");
        return;
    };
    let na = |what: &str| {
        env.not_available
            .iter()
            .find_map(|l| l.strip_prefix(what).and_then(|rest| rest.strip_prefix(": ")))
            .map(|why| format!("not available: {why}"))
            .unwrap_or_else(|| "not available".into())
    };
    md.kv(&[
        ("Kubernetes", env.kubernetes_version.clone().unwrap_or_else(|| na("Kubernetes version"))),
        ("KubeVirt", env.kubevirt_version.clone().unwrap_or_else(|| na("KubeVirt version"))),
    ]);
    if env.nodes.is_empty() {
        md.para(&format!("Nodes: {}.", na("nodes")));
    } else {
        let rows = env
            .nodes
            .iter()
            .map(|n| {
                vec![
                    n.name.clone(),
                    list(&n.roles),
                    n.ready.map(yes_no).unwrap_or_else(|| "unknown".into()),
                    yes_no(!n.unschedulable),
                    opt(&n.cpu_model, "unknown"),
                    opt(&n.allocatable_cpu, "unknown"),
                    opt(&n.allocatable_memory, "unknown"),
                    opt(&n.kubelet_version, "unknown"),
                ]
            })
            .collect();
        md.table(&["Node", "Roles", "Ready", "Schedulable", "CPU model", "CPU", "Memory", "Kubelet"], rows);
    }
    if !env.not_available.is_empty() {
        md.line("Not available:");
        md.blank();
        for l in &env.not_available {
            md.line(&format!("- {}", cell(l)));
        }
        md.blank();
    }
}

fn vm_configuration(md: &mut Md, r: &RunRecord) {
    md.heading("VM configuration");
    let Some(vm) = r.environment.as_ref().and_then(|e| e.vm.as_ref()) else {
        md.para("Not available: neither the VirtualMachine nor its instance could be read.");
        return;
    };
    md.kv(&[
        ("Instance type", opt(&vm.instancetype, "none")),
        ("Preference", opt(&vm.preference, "none")),
        ("CPU", opt(&vm.cpu, "not set on the VM")),
        ("CPU model", opt(&vm.cpu_model, "not set")),
        ("Memory", opt(&vm.memory, "not set on the VM")),
        ("Run strategy", opt(&vm.run_strategy, "not set")),
        ("Eviction strategy", opt(&vm.eviction_strategy, "not set on the VM (cluster default)")),
    ]);
    md.sub("Storage");
    let rows = vm
        .volumes
        .iter()
        .map(|v| {
            let missing = v.not_available.as_ref().map(|w| format!("not available: {w}"));
            let field = |f: &Option<String>| match (f, &missing, &v.claim) {
                (Some(x), _, _) => x.clone(),
                (None, Some(m), _) => m.clone(),
                (None, None, None) => "-".into(),
                (None, None, Some(_)) => "not set".into(),
            };
            let modes = if v.access_modes.is_empty() { field(&None) } else { v.access_modes.join(", ") };
            vec![
                v.name.clone(),
                v.kind.clone(),
                opt(&v.claim, "-"),
                field(&v.storage_class),
                modes,
                field(&v.volume_mode),
                field(&v.size),
            ]
        })
        .collect();
    md.table(&["Volume", "Kind", "Claim", "Storage class", "Access modes", "Volume mode", "Size"], rows);
    md.sub("Networks");
    let rows = vm.networks.iter().map(|n| vec![n.name.clone(), n.source.clone(), n.binding.clone()]).collect();
    md.table(&["Network", "Source", "Binding"], rows);
}

fn pre_state(md: &mut Md, r: &RunRecord) {
    md.heading("Pre-migration state");
    if let Some(before) = r.environment.as_ref().and_then(|e| e.vmi_before.as_ref()) {
        md.kv(&[("VMI phase", opt(&before.phase, "unknown")), ("Node", opt(&before.node, "unknown"))]);
        let rows = before.interfaces.iter().map(|i| vec![i.name.clone(), list(&i.ip_addresses)]).collect();
        md.table(&["Interface", "IP addresses"], rows);
    } else if let Some(first) = r.hops.first() {
        let res = &first.result;
        md.kv(&[("Node", opt(&res.source_node, "unknown")), ("VMI phase", "not recorded".into())]);
        let rows = res.ip_addresses.iter().map(|i| vec![i.name.clone(), list(&i.before)]).collect();
        md.table(&["Interface", "IP addresses"], rows);
    } else {
        md.para("Not available: the VMI was not read and no migration ran.");
    }
}

fn prerequisites(md: &mut Md, r: &RunRecord) {
    md.heading("Prerequisites");
    let Some(vm) = r.check.as_ref().and_then(|c| c.vms.iter().find(|v| v.name == r.vm && v.namespace == r.namespace))
    else {
        let why = if r.options.skip_check { "skipped (`--skip-check`)" } else { "the pre-flight check did not run" };
        md.para(&format!("Not checked: {why}."));
        return;
    };
    md.para(&format!("Pre-flight check: **{}**", vm.verdict.label()));
    let waived: Vec<&str> = vm
        .checks
        .iter()
        .filter(|c| c.status == crate::check::Status::Fail && r.options.waived(c.id))
        .map(|c| c.id)
        .collect();
    if !waived.is_empty() {
        md.para(&format!(
            "Waived (`--attach` follows the migration in flight, which these checks fail by existing): {}.",
            waived.join(", ")
        ));
    }
    let rows = vm
        .checks
        .iter()
        .map(|c| {
            vec![
                format!("{} {:?}", c.status.symbol(), c.status).to_lowercase(),
                c.id.to_string(),
                c.reason.clone(),
                c.fix.clone().unwrap_or_default(),
            ]
        })
        .collect();
    md.table(&["Status", "Check", "Reason", "Fix"], rows);
    if !vm.nodes.is_empty() {
        md.sub("Target nodes");
        let rows = vm
            .nodes
            .iter()
            .map(|n| {
                vec![
                    n.node.clone(),
                    yes_no(n.eligible),
                    if n.reasons.is_empty() { "-".into() } else { n.reasons.join("; ") },
                ]
            })
            .collect();
        md.table(&["Node", "Eligible", "Why not"], rows);
    }
}

fn migration_configuration(md: &mut Md, r: &RunRecord) {
    md.heading("Migration configuration");
    let modes: Vec<String> = r.hops.iter().filter_map(|h| h.result.mode.clone()).collect::<Vec<_>>();
    let mut modes_dedup = modes.clone();
    modes_dedup.dedup();
    let mode = if modes_dedup.is_empty() { "not reported by the cluster".into() } else { modes_dedup.join(", ") };
    let config =
        r.check.as_ref().and_then(|c| c.vms.iter().find(|v| v.name == r.vm)).and_then(|v| v.effective_config.as_ref());
    let mut rows = vec![vec!["Mode".to_string(), mode, "migrationState.mode".into()]];
    match config {
        Some(c) => {
            fn row<T: std::fmt::Display>(name: &str, s: &Sourced<T>) -> Vec<String> {
                vec![name.into(), s.value.to_string(), s.source.clone()]
            }
            rows.push(row("allowAutoConverge", &c.allow_auto_converge));
            rows.push(row("allowPostCopy", &c.allow_post_copy));
            rows.push(row("allowWorkloadDisruption", &c.allow_workload_disruption));
            rows.push(vec![
                "completionTimeoutPerGiB".into(),
                format!(
                    "{} s (× {} GB = {} s for this VM)",
                    c.completion_timeout_per_gi_b.value, c.data_size_gb, c.completion_timeout_seconds
                ),
                c.completion_timeout_per_gi_b.source.clone(),
            ]);
            rows.push(vec![
                "progressTimeout".into(),
                format!("{} s", c.progress_timeout.value),
                c.progress_timeout.source.clone(),
            ]);
            rows.push(row("bandwidthPerMigration", &c.bandwidth_per_migration));
            rows.push(vec!["MigrationPolicy".into(), opt(&c.policy, "none matches"), "-".into()]);
        }
        None => rows.push(vec![
            "Effective configuration".into(),
            "not available: the pre-flight check did not run or could not read the KubeVirt CR".into(),
            "-".into(),
        ]),
    }
    md.table(&["Setting", "Value", "Source"], rows);
    let o = &r.options;
    let ms = |v: Option<f64>| v.map(ms_text).unwrap_or_else(|| "not set".into());
    let s = |v: Option<f64>| v.map(|x| format!("{} s", num(x))).unwrap_or_else(|| "not set".into());
    md.sub("Run options");
    md.kv(&[
        ("Probe", yes_no(o.probe)),
        ("Probe interval", ms(o.probe_interval_ms)),
        ("Probe tail", ms(o.probe_tail_ms)),
        ("Round trip", yes_no(o.round_trip)),
        ("Repeat", o.repeat.to_string()),
        ("Max downtime", ms(o.max_downtime_ms)),
        ("Max duration", s(o.max_duration_seconds)),
        ("Timeout", s(o.timeout_seconds)),
        ("Check skipped", yes_no(o.skip_check)),
    ]);
}

fn timeline(md: &mut Md, r: &RunRecord) {
    md.heading("Timeline");
    if r.hops.is_empty() {
        md.para("No migration ran.");
        return;
    }
    for hop in &r.hops {
        let res = &hop.result;
        md.sub(&format!(
            "Hop {}: {} → {} ({})",
            hop.index,
            opt(&res.source_node, "?"),
            opt(&res.target_node, "not chosen"),
            res.outcome
        ));
        md.kv(&[
            ("Migration", opt(&res.migration, "none created")),
            ("Started", opt(&res.started_at, "not recorded")),
            ("Ended", opt(&res.ended_at, "not ended")),
            (
                "Duration",
                res.duration_seconds
                    .map(|d| format!("{d} s"))
                    .unwrap_or_else(|| "not measured: the migration did not end".into()),
            ),
            (
                "Memory transfer",
                format!(
                    "{} → {}",
                    opt(&res.transfer_started_at, "not started"),
                    opt(&res.transfer_ended_at, "not ended")
                ),
            ),
        ]);
        let rows = res
            .phases
            .iter()
            .map(|p| {
                let d = match (p.duration_seconds, res.phases.last() == Some(p)) {
                    (Some(d), _) => format!("{d} s"),
                    (None, true) if res.ended_at.is_some() => "final".into(),
                    (None, true) => "in progress when the run stopped".into(),
                    (None, false) => "not recorded".into(),
                };
                vec![p.phase.clone(), opt(&p.at, "not recorded"), d]
            })
            .collect();
        md.table(&["Phase", "Reached at", "Duration"], rows);
        match (&res.last_progress, &res.progress_unavailable) {
            (Some(p), _) => md.para(&format!(
                "Last transfer sample: {} of {} bytes processed, {} remaining.",
                p.data_processed_bytes.map(|b| b.to_string()).unwrap_or_else(|| "?".into()),
                p.data_total_bytes.map(|b| b.to_string()).unwrap_or_else(|| "?".into()),
                p.data_remaining_bytes.map(|b| b.to_string()).unwrap_or_else(|| "?".into())
            )),
            (None, Some(why)) => md.para(&format!("Transfer progress: not available: {why}.")),
            (None, None) => {}
        }
    }
}

fn post_state(md: &mut Md, r: &RunRecord) {
    md.heading("Post-migration state");
    if r.hops.is_empty() {
        md.para("No migration ran.");
        return;
    }
    for hop in &r.hops {
        let res = &hop.result;
        md.sub(&format!("After hop {}", hop.index));
        let vmi = res.vmi.as_ref();
        md.kv(&[
            ("Node before", opt(&res.source_node, "unknown")),
            ("Node after", vmi.and_then(|v| v.node.clone()).unwrap_or_else(|| "not read".into())),
            ("VMI phase", vmi.and_then(|v| v.phase.clone()).unwrap_or_else(|| "not read".into())),
            ("VMI ready", vmi.map(|v| yes_no(v.ready)).unwrap_or_else(|| "not read".into())),
            (
                "IP addresses",
                match (vmi, res.ip_changed) {
                    (None, _) => "not read (the VMI was not read after the migration)".into(),
                    (Some(_), true) => "changed".into(),
                    (Some(_), false) => "kept".into(),
                },
            ),
        ]);
        let rows = res
            .ip_addresses
            .iter()
            .map(|i| match vmi {
                Some(_) => {
                    let verdict = if i.changed { "changed" } else { "kept" };
                    vec![i.name.clone(), list(&i.before), list(&i.after), verdict.into()]
                }
                None => vec![i.name.clone(), list(&i.before), "not read".into(), "not read".into()],
            })
            .collect();
        md.table(&["Interface", "Before", "After", ""], rows);
    }
    if r.hops.len() > 1 || r.options.round_trip {
        let start = r.hops.first().and_then(|h| h.result.source_node.clone());
        let end = r.hops.last().and_then(|h| h.result.vmi.as_ref()?.node.clone());
        let verdict = match (&start, &end) {
            (Some(s), Some(e)) if s == e => "back on the node it started on",
            (Some(_), Some(_)) => "not on the node it started on",
            _ => "unknown (a node was not read)",
        };
        md.para(&format!(
            "After {} migrations the VM started on {} and ended on {}: {verdict}.",
            r.hops.len(),
            start.as_deref().unwrap_or("?"),
            end.as_deref().unwrap_or("?")
        ));
    }
}

fn rtt(s: &Option<RttStats>) -> String {
    match s {
        Some(s) => format!("{} (p99 {}, n={})", ms_text(s.median_ms), ms_text(s.p99_ms), s.count),
        None => "no samples".into(),
    }
}

fn target_rows(targets: &[TargetResult]) -> Vec<Vec<String>> {
    targets
        .iter()
        .map(|t| {
            let a: Option<&TargetAnalysis> = t.analysis.as_ref();
            let loss = match a {
                Some(a) if a.sent > 0 => {
                    format!("{} of {} ({:.2} %)", a.sent - a.received, a.sent, a.loss_ratio * 100.0)
                }
                Some(_) => "not measured: nothing was sent".into(),
                None => "not measured".into(),
            };
            let resolution =
                a.map(|a| format!("{} (asked {})", ms_text(a.achieved_interval_ms), ms_text(a.requested_interval_ms)));
            vec![
                t.target.target.clone(),
                t.target.method.clone(),
                loss,
                downtime_text(t),
                resolution.unwrap_or_else(|| "-".into()),
                a.map(|a| rtt(&a.rtt)).unwrap_or_else(|| "-".into()),
                a.map(|a| rtt(&a.rtt_by_phase.before)).unwrap_or_else(|| "-".into()),
                a.map(|a| rtt(&a.rtt_by_phase.during)).unwrap_or_else(|| "-".into()),
                a.map(|a| rtt(&a.rtt_by_phase.after)).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect()
}

const TARGET_HEADERS: [&str; 9] = [
    "Target",
    "Method",
    "Lost",
    "Downtime",
    "Achieved interval",
    "RTT median (all)",
    "RTT before migration",
    "RTT during",
    "RTT after",
];

fn connectivity(md: &mut Md, r: &RunRecord) {
    md.heading("Connectivity");
    let Some(probe) = &r.probe else {
        md.para("Not measured: the run had no probe (`--probe` was not given).");
        for hop in &r.hops {
            md.line(&format!("- Hop {}: hypervisor pause {}", hop.index, pause(hop)));
        }
        md.blank();
        return;
    };
    md.kv(&[
        ("Placement", probe.placement.clone()),
        ("Pod", format!("{} (container {})", opt(&probe.pod, "not created"), opt(&probe.container, "?"))),
        ("Probe node", opt(&probe.node, "unknown")),
        ("Image", probe.image.clone()),
        ("Ping", opt(&probe.ping_flavour, "not used")),
        ("Clean-up", opt(&probe.cleanup, "not recorded")),
    ]);
    let rows = probe
        .targets
        .iter()
        .map(|t| vec![t.target.clone(), t.method.clone(), t.source.clone(), opt(&t.via, "-")])
        .collect();
    md.table(&["Target", "Method", "From", "Via"], rows);
    md.sub("Baseline (before migrating)");
    if probe.baseline.is_empty() {
        md.para("Not measured: no baseline was taken.");
    } else {
        md.table(&TARGET_HEADERS, target_rows(&probe.baseline));
    }
    for hop in &r.hops {
        md.sub(&format!("Hop {}", hop.index));
        if hop.targets.is_empty() {
            md.para("Not measured: the probe did not run during this migration.");
        } else {
            md.table(&TARGET_HEADERS, target_rows(&hop.targets));
            let windows: Vec<Vec<String>> = hop
                .targets
                .iter()
                .filter_map(|t| Some((t, t.analysis.as_ref()?)))
                .flat_map(|(t, a)| {
                    a.windows.iter().map(move |w| {
                        vec![
                            t.target.target.clone(),
                            format!("{}–{}", w.first_lost_seq, w.last_lost_seq),
                            w.lost_count.to_string(),
                            rfc3339_us(w.start_us),
                            format!(
                                "{} ± {}{}",
                                ms_text(w.length_ms),
                                ms_text(w.resolution_ms),
                                if w.closed { "" } else { " (open)" }
                            ),
                            w.phase.clone().unwrap_or_else(|| "-".into()),
                            w.offset_from_switchover_ms.map(|o| format!("{o:+.0} ms")).unwrap_or_else(|| "-".into()),
                        ]
                    })
                })
                .collect();
            if windows.is_empty() {
                md.para("Outage windows: none (no sample lost).");
            } else {
                md.line("Outage windows:");
                md.blank();
                md.table(
                    &["Target", "Lost seq", "Lost", "Started (cluster clock)", "Length", "Phase", "From switchover"],
                    windows,
                );
            }
        }
        md.para(&format!("Hypervisor pause: {}.", pause(hop)));
    }
}

fn rfc3339_us(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map(|t| format!("{t:.3}")).unwrap_or_else(|_| us.to_string())
}

fn pause(hop: &Hop) -> String {
    match (hop.hypervisor_downtime_ms, &hop.hypervisor_downtime_unavailable) {
        (Some(ms), _) => ms_text(ms),
        (None, Some(why)) => format!("not measured: {why}"),
        (None, None) => "not measured".into(),
    }
}

fn hops(md: &mut Md, r: &RunRecord) {
    if r.hops.len() < 2 {
        return;
    }
    md.heading("Hops");
    let targets = targets_of(r);
    let mut headers = vec!["Hop".to_string(), "From → to".into(), "Outcome".into(), "Duration".into()];
    headers.extend(targets.iter().map(|(t, m)| format!("Downtime {t} ({m})")));
    let rows = r
        .hops
        .iter()
        .map(|h| {
            let mut row = vec![
                h.index.to_string(),
                format!("{} → {}", opt(&h.result.source_node, "?"), opt(&h.result.target_node, "?")),
                h.result.outcome.clone(),
                h.result.duration_seconds.map(|d| format!("{d} s")).unwrap_or_else(|| "not measured".into()),
            ];
            for (t, m) in &targets {
                let found = h.targets.iter().find(|x| &x.target.target == t && &x.target.method == m);
                row.push(found.map(downtime_text).unwrap_or_else(|| "not measured: not probed in this hop".into()));
            }
            row
        })
        .collect();
    md.table(&headers.iter().map(String::as_str).collect::<Vec<_>>(), rows);
    let mut stats = Vec::new();
    let spread_row = |name: String, s: Option<Spread>, unit: &dyn Fn(f64) -> String, total: usize| match s {
        Some(s) => vec![name, format!("{}/{}", s.count, total), unit(s.p50), unit(s.p95), unit(s.max)],
        None => vec![name, format!("0/{total}"), "not measured".into(), "not measured".into(), "not measured".into()],
    };
    let secs = |v: f64| format!("{} s", num(v));
    let durations: Vec<f64> = r.hops.iter().filter_map(|h| h.result.duration_seconds).map(|d| d as f64).collect();
    let durations = Spread::of(&durations);
    stats.push(spread_row("Duration".into(), durations, &secs, r.hops.len()));
    for (t, m) in &targets {
        let values = r
            .hops
            .iter()
            .flat_map(|h| h.targets.iter().filter(|x| &x.target.target == t && &x.target.method == m))
            .filter_map(measured_downtime_ms)
            .collect::<Vec<f64>>();
        stats.push(spread_row(format!("Downtime {t} ({m})"), Spread::of(&values), &ms_text, r.hops.len()));
    }
    md.para("Over the hops (nearest rank; only measured values count):");
    md.table(&["Figure", "Measured in", "p50", "p95", "max"], stats);
}

fn issues(md: &mut Md, r: &RunRecord) {
    md.heading("Issues");
    let mut lines = Vec::new();
    if let Some(e) = &r.error {
        lines.push(format!("**Stopped:** {e}"));
    }
    for hop in &r.hops {
        let res = &hop.result;
        if let Some(f) = &res.failure_reason {
            lines.push(format!("Hop {}: {} — {f}", hop.index, res.outcome));
        }
        if res.abort_requested {
            lines.push(format!(
                "Hop {}: abort requested by {} (abort status: {})",
                hop.index,
                opt(&res.aborted_by, "unknown"),
                opt(&res.abort_status, "unknown")
            ));
        }
        lines.extend(res.warnings.iter().map(|w| format!("Hop {}: {w}", hop.index)));
    }
    lines.extend(r.warnings.iter().cloned());
    if lines.is_empty() {
        md.para("None.");
    } else {
        let mut text = String::new();
        for l in lines {
            let _ = writeln!(text, "- {}", cell(&l));
        }
        md.line(text.trim_end());
        md.blank();
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    fn section<'a>(md: &'a str, title: &str) -> &'a str {
        let start = md.find(&format!("## {title}")).unwrap_or_else(|| panic!("no section {title}:\n{md}"));
        let rest = &md[start + 3..];
        &rest[..rest.find("\n## ").unwrap_or(rest.len())]
    }

    #[test]
    fn the_successful_run_has_every_section_with_measured_values() {
        let md = render(&fixture::success_with_probe());
        for title in [
            "Test environment",
            "VM configuration",
            "Pre-migration state",
            "Prerequisites",
            "Migration configuration",
            "Timeline",
            "Post-migration state",
            "Connectivity",
            "Issues",
            "Verdict",
        ] {
            section(&md, title);
        }
        assert!(
            md.starts_with("# Live migration validation report: tenant-root/vm-instance-haos\n\n**Verdict: PASS**")
        );
        let env = section(&md, "Test environment");
        assert!(env.contains("- **Kubernetes:** v1.34.1") && env.contains("- **KubeVirt:** v1.5.2"), "{env}");
        assert!(env.contains("| illusion | control-plane | yes | yes | Haswell-noTSX-IBRS |"), "{env}");
        assert!(env.contains("| here-i-am | control-plane | yes | no |"), "{env}");
        let vm = section(&md, "VM configuration");
        assert!(vm.contains("VirtualMachineClusterInstancetype/u1.medium"), "{vm}");
        assert!(vm.contains("| disk-haos | dataVolume | vm-disk-haos | replicated | ReadWriteMany | Block |"), "{vm}");
        assert!(vm.contains("| lan | multus:tenant-root/lan | bridge |"), "{vm}");
        let pre = section(&md, "Pre-migration state");
        assert!(pre.contains("- **Node:** the-toy-factory") && pre.contains("192.168.1.150"), "{pre}");
        let pre_check = section(&md, "Prerequisites");
        assert!(pre_check.contains("Pre-flight check: **MIGRATABLE"), "{pre_check}");
        assert!(pre_check.contains("| the-dome | yes |") && pre_check.contains("| illusion | no |"), "{pre_check}");
        let config = section(&md, "Migration configuration");
        assert!(config.contains("| Mode | PreCopy |"), "{config}");
        assert!(config.contains("| completionTimeoutPerGiB | 150 s"), "{config}");
        for key in ["allowAutoConverge", "allowPostCopy", "progressTimeout", "MigrationPolicy"] {
            assert!(config.contains(&format!("| {key} |")), "{key}: {config}");
        }
        let tl = section(&md, "Timeline");
        assert!(tl.contains("### Hop 1: the-toy-factory → the-dome (Succeeded)"), "{tl}");
        assert!(tl.contains("| Scheduling | 2026-11-27T14:20:03Z | 5 s |"), "{tl}");
        assert!(tl.contains("| Succeeded | 2026-11-27T14:20:14Z | final |"), "{tl}");
        let post = section(&md, "Post-migration state");
        assert!(post.contains("- **Node after:** the-dome") && post.contains("- **IP addresses:** kept"), "{post}");
        let conn = section(&md, "Connectivity");
        // The LAN address measured about 730 ms (± one achieved interval of about 24 ms); the pod address lost nothing.
        let lan_row = conn.lines().find(|l| l.starts_with("| 192.168.1.150 | icmp | ") && l.contains(" ± ")).unwrap();
        let downtime: f64 = lan_row.split(" | ").nth(3).unwrap().split(' ').next().unwrap().parse().unwrap();
        assert!((downtime - 730.0).abs() <= 30.0, "{lan_row}");
        assert!(conn.contains("| 10.244.0.57 | icmp | 0 of "), "{conn}");
        assert!(conn.contains("below resolution"), "{conn}");
        assert!(conn.contains("Outage windows:") && conn.contains("| Running |"), "{conn}");
        assert!(conn.contains("Hypervisor pause: not measured: KubeVirt v1.5"), "{conn}");
        assert!(!md.contains("## Hops"), "one hop has no hop table");
        assert!(section(&md, "Issues").contains("None."));
        assert!(section(&md, "Verdict").contains("No thresholds were set"));
        // Nothing in it is an expectation.
        for guess in ["expected", "should", "TODO"] {
            assert!(!md.to_lowercase().contains(&guess.to_lowercase()), "{guess} in report");
        }
    }

    #[test]
    fn a_failed_migration_says_what_happened() {
        let md = render(&fixture::failed());
        assert!(md.contains("**Verdict: FAIL**"));
        assert!(section(&md, "Timeline").contains("(Failed)"));
        assert!(section(&md, "Issues").contains("Hop 1: Failed — source node reported migration failed"));
        assert!(section(&md, "Verdict").contains("- hop 1: migration Failed: source node reported migration failed"));
        assert!(section(&md, "Post-migration state").contains("- **Node after:** the-toy-factory"));
    }

    #[test]
    fn an_aborted_run_says_what_was_not_measured_and_why() {
        let md = render(&fixture::aborted());
        let conn = section(&md, "Connectivity");
        assert!(conn.contains("not measured: the probe was stopped by the interrupt"), "{conn}");
        let tl = section(&md, "Timeline");
        assert!(tl.contains("not measured: the migration did not end"), "{tl}");
        let issues = section(&md, "Issues");
        assert!(
            issues.contains("**Stopped:** interrupted (Ctrl-C)") && issues.contains("abort requested by interrupt")
        );
        assert!(issues.contains("ephemeral container probe remains"), "{issues}");
        assert!(section(&md, "Verdict").contains("- stopped: interrupted"));
    }

    #[test]
    fn without_the_probe_connectivity_is_not_measured() {
        let md = render(&fixture::success_without_probe());
        assert!(section(&md, "Connectivity").contains("Not measured: the run had no probe"));
        assert!(md.contains("**Verdict: PASS**"));
    }

    #[test]
    fn a_failed_gate_fails_the_verdict_with_its_detail() {
        let md = render(&fixture::gate_failed());
        let v = section(&md, "Verdict");
        assert!(v.contains("**FAIL**"), "{v}");
        assert!(v.contains("| max-downtime | hop 1 192.168.1.150 | 500 ms |") && v.contains("| FAIL |"), "{v}");
        assert!(v.contains("| max-downtime | hop 1 10.244.0.57 | 500 ms | not measured | PASS |"), "{v}");
    }

    #[test]
    fn several_hops_get_a_table_and_their_spread() {
        let md = render(&fixture::repeated(5));
        let hops = section(&md, "Hops");
        assert_eq!(
            hops.lines().filter(|l| l.starts_with("| ") && l.contains(" → ") && !l.contains("From")).count(),
            5,
            "{hops}"
        );
        assert!(hops.contains("| 2 | the-dome → the-toy-factory | Succeeded | 12 s |"), "{hops}");
        let lan = hops.lines().find(|l| l.starts_with("| Downtime 192.168.1.150 (icmp) | 5/5 |")).unwrap();
        // Outages of 300, 400, 500, 600, 700 ms: p50 about 500, p95 and max about 700.
        let cells: Vec<f64> = lan
            .split(" | ")
            .skip(2)
            .map(|c| c.trim_end_matches(" |").trim_end_matches(" ms").parse().unwrap())
            .collect();
        assert!((cells[0] - 500.0).abs() <= 30.0 && (cells[2] - 700.0).abs() <= 30.0, "{lan}");
        assert_eq!(cells[1], cells[2]);
        assert!(hops.contains("| Downtime 10.244.0.57 (icmp) | 0/5 | not measured |"), "{hops}");
        assert!(hops.contains("| Duration | 5/5 | 12 s | 12 s | 12 s |"), "{hops}");
        let post = section(&md, "Post-migration state");
        assert!(post.contains("ended on the-dome: not on the node it started on"), "{post}");
        let back = render(&fixture::repeated(2));
        assert!(
            section(&back, "Post-migration state").contains("ended on the-toy-factory: back on the node it started on")
        );
    }

    #[test]
    fn table_cells_cannot_break_the_table() {
        let mut r = fixture::failed();
        r.hops[0].result.failure_reason = Some("a | b\nc".into());
        let md = render(&r);
        assert!(md.contains("a \\| b c"));
    }
}

#[cfg(test)]
mod snapshot {
    use super::super::fixture;

    /// The whole report of the seed scenario, compared with `testdata/report/haos-success.md` (regenerate with
    /// `UPDATE_SNAPSHOTS=1 cargo test -p kubectl-vmmigrate --lib report::markdown` and review the diff).
    #[test]
    fn the_seed_report_matches_its_snapshot() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/report/haos-success.md");
        let md = super::render(&fixture::success_with_probe());
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
            std::fs::write(path, &md).unwrap();
        }
        let expected = std::fs::read_to_string(path).expect("snapshot missing: run with UPDATE_SNAPSHOTS=1");
        if md != expected {
            let (n, (got, want)) = md
                .lines()
                .chain(std::iter::repeat("<end>"))
                .zip(expected.lines().chain(std::iter::repeat("<end>")))
                .enumerate()
                .find(|(_, (a, b))| a != b)
                .unwrap_or((0, ("?", "?")));
            panic!(
                "the report changed at line {}:\n  now: {got}\n  was: {want}\nregenerate the snapshot and review the diff",
                n + 1
            );
        }
    }
}
