//! Rendering a [`CheckReport`]: a grouped table (colour only when asked), a wide table with the per-node and
//! configuration tables, and JSON/YAML of the documented schema (`docs/check-output.md`). Pure: strings out.

use std::fmt::Write;

use super::{CheckReport, Status, Verdict, VmReport};

/// Table options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableOptions {
    /// Add the per-node table and the effective configuration.
    pub wide: bool,
    /// ANSI colour (only on a TTY).
    pub colour: bool,
    /// One row per VM instead of every check (for `--all`/`-l`; ignored when `wide`).
    pub summary: bool,
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

fn paint(s: &str, colour: &str, on: bool) -> String {
    if on { format!("{colour}{s}{RESET}") } else { s.to_owned() }
}

fn status_colour(s: Status) -> &'static str {
    match s {
        Status::Pass => GREEN,
        Status::Warn => YELLOW,
        Status::Fail => RED,
        Status::Skip => DIM,
    }
}

fn verdict_colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Migratable => GREEN,
        Verdict::MigratableWithWarnings => YELLOW,
        Verdict::NotMigratable => RED,
    }
}

/// The human table of a whole report.
pub fn table(report: &CheckReport, opts: TableOptions) -> String {
    let mut out = String::new();
    if opts.summary && !opts.wide && !report.vms.is_empty() {
        summary_table(&mut out, report, opts.colour);
    }
    for (i, vm) in report.vms.iter().enumerate().filter(|_| !opts.summary || opts.wide) {
        if i > 0 {
            out.push('\n');
        }
        vm_table(&mut out, vm, opts);
    }
    if report.vms.len() > 1 {
        let count = |v: Verdict| report.vms.iter().filter(|vm| vm.verdict == v).count();
        let _ = writeln!(
            out,
            "\n{} VMs: {} migratable, {} with warnings, {} not migratable",
            report.vms.len(),
            count(Verdict::Migratable),
            count(Verdict::MigratableWithWarnings),
            count(Verdict::NotMigratable)
        );
    }
    if report.vms.is_empty() {
        out.push_str("No VMs found.\n");
    }
    out
}

fn short_verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Migratable => "MIGRATABLE",
        Verdict::MigratableWithWarnings => "WARNINGS",
        Verdict::NotMigratable => "NOT MIGRATABLE",
    }
}

/// One row per VM: its verdict and the ids of its failing, then warning, checks.
fn summary_table(out: &mut String, report: &CheckReport, colour: bool) {
    let rows: Vec<[String; 5]> = report
        .vms
        .iter()
        .map(|vm| {
            let mut problems: Vec<String> = Vec::new();
            for status in [Status::Fail, Status::Warn] {
                for c in vm.checks.iter().filter(|c| c.status == status) {
                    let item = format!("{} {}", status.symbol(), c.id);
                    if !problems.contains(&item) {
                        problems.push(item);
                    }
                }
            }
            [
                vm.namespace.clone(),
                vm.name.clone(),
                vm.node.clone().unwrap_or_else(|| "-".into()),
                short_verdict(vm.verdict).to_owned(),
                problems.join(", "),
            ]
        })
        .collect();
    let headers = ["NAMESPACE", "NAME", "NODE", "VERDICT", "PROBLEMS"];
    let widths: Vec<usize> =
        (0..4).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0).max(headers[i].len())).collect();
    let _ = writeln!(
        out,
        "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
        headers[0],
        headers[1],
        headers[2],
        headers[3],
        headers[4],
        w0 = widths[0],
        w1 = widths[1],
        w2 = widths[2],
        w3 = widths[3]
    );
    for (row, vm) in rows.iter().zip(&report.vms) {
        let verdict = format!("{:w$}", row[3], w = widths[3]);
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}  {}",
            row[0],
            row[1],
            row[2],
            paint(&verdict, verdict_colour(vm.verdict), colour),
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn vm_table(out: &mut String, vm: &VmReport, opts: TableOptions) {
    let c = opts.colour;
    let on = vm.node.as_deref().map(|n| format!(" on {n}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "{}{on}: {}",
        paint(&format!("{}/{}", vm.namespace, vm.name), BOLD, c),
        paint(vm.verdict.label(), verdict_colour(vm.verdict), c)
    );
    let width = vm.checks.iter().map(|ch| ch.id.len()).max().unwrap_or(0);
    for ch in &vm.checks {
        let symbol = paint(ch.status.symbol(), status_colour(ch.status), c);
        let _ = writeln!(out, "  {symbol} {:width$}  {}", ch.id, ch.reason);
        if let Some(fix) = &ch.fix
            && ch.status != Status::Pass
        {
            let _ = writeln!(out, "    {:width$}  {}", "", paint(&format!("fix: {fix}"), DIM, c));
        }
    }
    if opts.wide {
        node_table(out, vm);
        config_table(out, vm);
    }
}

fn node_table(out: &mut String, vm: &VmReport) {
    if vm.nodes.is_empty() {
        return;
    }
    let width = vm.nodes.iter().map(|n| n.node.len()).max().unwrap_or(0).max(4);
    let _ = writeln!(out, "\n  {:width$}  ELIGIBLE  REASONS", "NODE");
    for n in &vm.nodes {
        let eligible = if n.eligible { "yes" } else { "no" };
        let _ = writeln!(out, "  {:width$}  {eligible:8}  {}", n.node, n.reasons.join("; ")).map(|_| ());
    }
    // Trim trailing spaces of rows without reasons.
    let trimmed: Vec<&str> = out.lines().map(str::trim_end).collect();
    let mut s = trimmed.join("\n");
    s.push('\n');
    *out = s;
}

fn config_table(out: &mut String, vm: &VmReport) {
    let Some(cfg) = &vm.effective_config else { return };
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(cfg) else { return };
    let rows: Vec<(String, String, String)> = map
        .iter()
        .filter_map(|(k, v)| {
            let value = v.get("value")?;
            let value = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => "(unset)".into(),
                other => other.to_string(),
            };
            Some((k.clone(), value, v.get("source")?.as_str()?.to_owned()))
        })
        .collect();
    let kw = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let vw = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(5);
    let _ = writeln!(out, "\n  {:kw$}  {:vw$}  SOURCE", "MIGRATION CONFIG", "VALUE");
    for (k, v, s) in rows {
        let _ = writeln!(out, "  {k:kw$}  {v:vw$}  {s}");
    }
    let _ = writeln!(
        out,
        "  {:kw$}  {}",
        "completionTimeout",
        format_args!(
            "{} s = {} s/GiB × {} GB",
            cfg.completion_timeout_seconds, cfg.completion_timeout_per_gi_b.value, cfg.data_size_gb
        )
    );
}

/// The report as pretty JSON (with a trailing newline).
pub fn json(report: &CheckReport) -> String {
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

/// The report as YAML.
pub fn yaml(report: &CheckReport) -> String {
    serde_saphyr::to_string(report).unwrap_or_else(|e| format!("error: {e}\n"))
}

/// The `-o` formats of `check`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Table,
    Wide,
    Json,
    Yaml,
}

/// The report in a format; `colour` applies to the tables only (pass it only when stdout is a TTY); `summary`
/// makes the table one row per VM (for `--all`/`-l`; `wide` always shows every check).
pub fn render(report: &CheckReport, format: Format, colour: bool, summary: bool) -> String {
    match format {
        Format::Table => table(report, TableOptions { wide: false, colour, summary }),
        Format::Wide => table(report, TableOptions { wide: true, colour, summary }),
        Format::Json => json(report),
        Format::Yaml => yaml(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Check, CheckReport, Verdict, VmReport};

    fn report() -> CheckReport {
        let checks = vec![Check::warn("eviction.strategy", "evictionStrategy None (from default)", "set it")];
        let vm = VmReport {
            namespace: "ns".into(),
            name: "vm".into(),
            node: None,
            verdict: Verdict::of(&checks),
            blockers: vec![],
            checks,
            nodes: vec![],
            effective_config: None,
        };
        CheckReport::new(None, vec![vm])
    }

    #[test]
    fn formats() {
        let r = report();
        assert_eq!(
            render(&r, Format::Table, false, false),
            "ns/vm: MIGRATABLE (with warnings)\n  ! eviction.strategy  evictionStrategy None (from default)\n                       fix: set it\n"
        );
        assert_eq!(
            render(&r, Format::Wide, false, false),
            render(&r, Format::Table, false, false),
            "nothing more to show"
        );
        let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json, true, false)).unwrap();
        assert_eq!(json["vms"][0]["checks"][0]["fix"], "set it");
        assert!(!render(&r, Format::Json, true, false).contains('\x1b'), "no colour in JSON");
        assert!(render(&r, Format::Yaml, false, false).contains("verdict: migratableWithWarnings"));
    }

    #[test]
    fn empty_report() {
        assert_eq!(render(&CheckReport::new(None, vec![]), Format::Table, false, true), "No VMs found.\n");
    }
}
