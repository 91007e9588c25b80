//! Where the follower's messages go, and how a result is printed.
//!
//! Progress goes to stderr through a [`ProgressSink`]: [`TtySink`] (indicatif: one line per finished phase with
//! its duration, a spinner for the current one, a memory bar once samples arrive) or [`LineSink`] (not a TTY:
//! one timestamped line per phase change and per progress sample, no control codes). Results go to stdout:
//! [`render_result`] as a human summary, JSON or YAML.

use std::io::Write;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::progress::bytes;
use super::state::{MigrationResult, UiMessage};

/// Receives the follower's messages.
pub trait ProgressSink: Send {
    fn show(&mut self, msg: &UiMessage);
    /// Called once at the end (clears spinners).
    fn finish(&mut self) {}
}

/// One plain line for a message, without timestamp.
pub fn plain_line(msg: &UiMessage) -> String {
    match msg {
        UiMessage::Following { name, attached: true } => format!("following migration {name} (already in flight)"),
        UiMessage::Following { name, attached: false } => format!("created migration {name}"),
        UiMessage::Phase { phase, at, previous } => {
            let mut s = format!("phase {phase}");
            if let Some(at) = at {
                s.push_str(&format!(" at {at}"));
            }
            if let Some((p, d)) = previous {
                match d {
                    Some(d) => s.push_str(&format!(" ({p} took {d} s)")),
                    None => s.push_str(&format!(" (after {p})")),
                }
            }
            s
        }
        UiMessage::Progress(view) => format!("progress {}", view.summary()),
        UiMessage::Stuck(text) => format!("slow: {text}"),
        UiMessage::Note(text) => format!("note: {text}"),
        UiMessage::Warning(text) => format!("warning: {text}"),
    }
}

/// Plain timestamped lines (UTC, milliseconds) for a non-terminal stderr.
pub struct LineSink<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> LineSink<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

impl<W: Write + Send> ProgressSink for LineSink<W> {
    fn show(&mut self, msg: &UiMessage) {
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ");
        // A closed stderr is not worth failing the migration over.
        let _ = writeln!(self.out, "{now} {}", plain_line(msg));
        let _ = self.out.flush();
    }
}

/// Collects messages (for tests and for callers that render later).
#[derive(Debug, Default)]
pub struct RecordingSink {
    pub messages: Vec<UiMessage>,
}

impl ProgressSink for RecordingSink {
    fn show(&mut self, msg: &UiMessage) {
        self.messages.push(msg.clone());
    }
}

/// indicatif rendering on a terminal (stderr).
pub struct TtySink {
    multi: MultiProgress,
    phase: Option<(String, ProgressBar)>,
    memory: Option<ProgressBar>,
}

impl Default for TtySink {
    fn default() -> Self {
        Self::new()
    }
}

impl TtySink {
    pub fn new() -> Self {
        Self { multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), phase: None, memory: None }
    }

    fn println(&self, line: &str) {
        let _ = self.multi.println(line);
    }

    fn start_phase(&mut self, phase: &str) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_message(phase.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        self.phase = Some((phase.to_string(), bar));
    }

    fn end_phase(&mut self, duration: Option<i64>) {
        if let Some((name, bar)) = self.phase.take() {
            let took = duration.map(|d| format!("{d} s")).unwrap_or_else(|| "done".to_string());
            bar.finish_and_clear();
            self.println(&format!("✓ {name:<16} {took}"));
        }
    }
}

impl ProgressSink for TtySink {
    fn show(&mut self, msg: &UiMessage) {
        match msg {
            UiMessage::Phase { phase, previous, .. } => {
                self.end_phase(previous.as_ref().and_then(|(_, d)| *d));
                if phase == "Succeeded" || phase == "Failed" {
                    if let Some(m) = self.memory.take() {
                        m.finish_and_clear();
                    }
                    self.println(&format!("{} {phase}", if phase == "Succeeded" { "✓" } else { "✗" }));
                } else {
                    self.start_phase(phase);
                }
            }
            UiMessage::Progress(view) => {
                let s = &view.sample;
                let bar = self.memory.get_or_insert_with(|| {
                    let bar = self.multi.add(ProgressBar::new(0));
                    if let Ok(style) = ProgressStyle::with_template("  memory [{bar:30}] {msg}") {
                        bar.set_style(style.progress_chars("=> "));
                    }
                    bar
                });
                // The bar spans processed + remaining of this sample: it can shrink when remaining grows again,
                // which the message says in words. No percentage is shown.
                let processed = s.data_processed_bytes.unwrap_or(0);
                let remaining = s.data_remaining_bytes.unwrap_or(0);
                bar.set_length(processed.saturating_add(remaining).max(1));
                bar.set_position(processed);
                bar.set_message(view.summary());
            }
            other => self.println(&plain_line(other)),
        }
    }

    fn finish(&mut self) {
        if let Some((_, bar)) = self.phase.take() {
            bar.finish_and_clear();
        }
        if let Some(bar) = self.memory.take() {
            bar.finish_and_clear();
        }
    }
}

/// Output format of a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultFormat {
    Table,
    Json,
    Yaml,
}

/// Errors rendering a result.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot render JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot render YAML: {0}")]
    Yaml(String),
}

/// Renders any serialisable document as JSON or YAML (a trailing newline included).
pub fn render_document<T: Serialize>(doc: &T, format: ResultFormat) -> Result<String, RenderError> {
    match format {
        ResultFormat::Yaml => serde_saphyr::to_string(doc).map_err(|e| RenderError::Yaml(e.to_string())),
        _ => Ok(serde_json::to_string_pretty(doc)? + "\n"),
    }
}

/// Renders a result: the human summary for `Table`, else the documented object.
pub fn render_result(r: &MigrationResult, format: ResultFormat) -> Result<String, RenderError> {
    match format {
        ResultFormat::Table => Ok(human(r)),
        _ => render_document(r, format),
    }
}

fn human(r: &MigrationResult) -> String {
    let mut rows: Vec<(&str, String)> = Vec::new();
    let dash = || "-".to_string();
    rows.push(("VM", format!("{}/{}", r.namespace, r.vm)));
    rows.push(("Migration", r.migration.clone().unwrap_or_else(dash)));
    rows.push(("Outcome", r.outcome.clone()));
    rows.push(("Phase", r.phase.clone().unwrap_or_else(dash)));
    let target = match (&r.target_node, &r.requested_target_node) {
        (Some(t), Some(want)) if t != want => format!("{t} (requested {want})"),
        (Some(t), _) => t.clone(),
        (None, Some(want)) => format!("- (requested {want})"),
        (None, None) => dash(),
    };
    rows.push(("From → to", format!("{} → {target}", r.source_node.clone().unwrap_or_else(dash))));
    rows.push(("Mode", r.mode.clone().unwrap_or_else(dash)));
    rows.push(("Started", r.started_at.clone().unwrap_or_else(dash)));
    rows.push(("Ended", r.ended_at.clone().unwrap_or_else(dash)));
    rows.push(("Duration", r.duration_seconds.map(|d| format!("{d} s")).unwrap_or_else(dash)));
    if !r.phases.is_empty() {
        let phases: Vec<String> = r
            .phases
            .iter()
            .map(|p| match p.duration_seconds {
                Some(d) => format!("{} {d} s", p.phase),
                None => p.phase.clone(),
            })
            .collect();
        rows.push(("Phases", phases.join(" → ")));
    }
    for i in &r.ip_addresses {
        let label = if i.changed { "IPs (CHANGED)" } else { "IPs" };
        let text = if i.changed {
            format!("{}: {} → {}", i.name, i.before.join(", "), i.after.join(", "))
        } else {
            format!("{}: {} (unchanged)", i.name, i.after.join(", "))
        };
        rows.push((label, text));
    }
    if let Some(v) = &r.vmi {
        rows.push((
            "VMI after",
            format!(
                "{} on {}, {}",
                v.phase.as_deref().unwrap_or("-"),
                v.node.as_deref().unwrap_or("-"),
                if v.ready { "Ready" } else { "not Ready" }
            ),
        ));
    }
    if let Some(p) = &r.last_progress {
        let mut last = Vec::new();
        if let Some(t) = p.data_total_bytes {
            last.push(format!("{} total", bytes(t)));
        }
        if let Some(i) = p.iteration {
            last.push(format!("iteration {i}"));
        }
        if let Some(d) = p.downtime_ms.or(p.expected_downtime_ms) {
            let what = if p.downtime_ms.is_some() { "downtime" } else { "last expected downtime" };
            last.push(format!("{what} {d} ms"));
        }
        rows.push(("Memory", last.join(", ")));
    }
    if let Some(why) = &r.progress_unavailable {
        rows.push(("Progress", format!("unavailable: {why}")));
    }
    if let Some(reason) = &r.failure_reason {
        rows.push(("Failure reason", reason.clone()));
    }
    if r.abort_requested {
        rows.push((
            "Abort",
            format!(
                "requested by {}, abortStatus {}",
                r.aborted_by.as_deref().unwrap_or("-"),
                r.abort_status.as_deref().unwrap_or("(none: aborted before the handoff)")
            ),
        ));
    }
    for w in &r.warnings {
        rows.push(("Warning", w.clone()));
    }
    let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("{k:<width$}  {v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::state::{InterfaceAddresses, PhaseEntry};

    /// The shared succeeded-migration fixture, as the seed VM's move with an IP change.
    fn result() -> MigrationResult {
        MigrationResult {
            namespace: "tenant-root".into(),
            vm: "vm-instance-haos".into(),
            migration: Some("vmmigrate-vm-instance-haos-x7k2p".into()),
            migration_uid: Some("u".into()),
            source_node: Some("the-toy-factory".into()),
            target_node: Some("the-dome".into()),
            mode: Some("PreCopy".into()),
            started_at: Some("2025-06-20T10:15:00Z".into()),
            ended_at: Some("2025-06-20T10:15:22Z".into()),
            duration_seconds: Some(22),
            transfer_ended_at: None,
            switchover_at: None,
            phases: vec![
                PhaseEntry { phase: "Pending".into(), at: None, duration_seconds: Some(1) },
                PhaseEntry { phase: "Succeeded".into(), at: None, duration_seconds: None },
            ],
            ip_addresses: vec![InterfaceAddresses {
                name: "default".into(),
                before: vec!["10.244.0.57".into()],
                after: vec!["10.244.1.9".into()],
                changed: true,
            }],
            ip_changed: true,
            ..crate::migrate::measure::fixtures::result()
        }
    }

    #[test]
    fn plain_lines_have_no_control_codes() {
        let line = plain_line(&UiMessage::Phase {
            phase: "Scheduling".into(),
            at: Some("2025-06-20T10:15:01Z".into()),
            previous: Some(("Pending".into(), Some(1))),
        });
        assert_eq!(line, "phase Scheduling at 2025-06-20T10:15:01Z (Pending took 1 s)");
        assert!(!line.contains('\x1b'));
    }

    #[test]
    fn line_sink_prefixes_a_timestamp() {
        let mut buf = Vec::new();
        LineSink::new(&mut buf).show(&UiMessage::Note("x".into()));
        let text = String::from_utf8(buf).unwrap();
        let (ts, rest) = text.split_once(' ').unwrap();
        assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{ts}");
        assert_eq!(ts.len(), "2026-01-01T00:00:00.000Z".len(), "{ts}");
        assert_eq!(rest, "note: x\n");
    }

    #[test]
    fn human_result_calls_out_changed_ips() {
        let text = render_result(&result(), ResultFormat::Table).unwrap();
        assert!(text.contains("IPs (CHANGED)  default: 10.244.0.57 → 10.244.1.9"), "{text}");
        assert!(text.contains("the-toy-factory → the-dome"), "{text}");
        assert!(text.contains("Pending 1 s → Succeeded"), "{text}");
    }

    #[test]
    fn json_and_yaml_parse_back() {
        let json = render_result(&result(), ResultFormat::Json).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["durationSeconds"], 22);
        assert_eq!(v["ipAddresses"][0]["changed"], true);
        let yaml = render_result(&result(), ResultFormat::Yaml).unwrap();
        assert!(yaml.contains("durationSeconds: 22"), "{yaml}");
    }
}
