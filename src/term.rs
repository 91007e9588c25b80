//! The terminal: output format and colour settings, tables, JSON/YAML printing and progress display.
//!
//! Results go to stdout ([`print_table`], [`print_structured`]); progress and diagnostics go to stderr
//! ([`Progress`]). Colour is used only when the stream is a terminal and neither `--no-color` nor a non-empty
//! `NO_COLOR` is set. Progress animates (indicatif) only when stderr is a terminal; otherwise it prints plain,
//! timestamped lines without control codes, suitable for CI logs.
//!
//! `-o json` and `-o yaml` print the same serde value (pretty JSON, or YAML from serde-saphyr); that value is a
//! stable, documented contract of each command.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tabled::builder::Builder;
use tabled::settings::{Padding, Style};

use crate::cli::{GlobalArgs, OutputFormat};

/// Output settings of one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub format: OutputFormat,
    /// Colour escape codes allowed on stdout.
    pub color_stdout: bool,
    /// Colour escape codes allowed on stderr.
    pub color_stderr: bool,
    /// stderr is a terminal: progress may animate.
    pub interactive: bool,
}

impl Term {
    /// Settings from the flags and the real streams and environment.
    pub fn detect(global: &GlobalArgs) -> Term {
        Term::new(
            global.output,
            no_color_requested(global.no_color, std::env::var_os("NO_COLOR").as_deref()),
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal(),
        )
    }

    /// Settings from explicit facts (pure).
    pub fn new(format: OutputFormat, no_color: bool, stdout_tty: bool, stderr_tty: bool) -> Term {
        Term {
            format,
            color_stdout: stdout_tty && !no_color,
            color_stderr: stderr_tty && !no_color,
            interactive: stderr_tty,
        }
    }

    /// Colours `text` for stdout if colour is on there.
    pub fn paint(&self, color: Color, text: &str) -> String {
        color.paint_if(self.color_stdout, text)
    }

    /// A progress display on stderr with this label (animated on a terminal, plain lines otherwise).
    pub fn progress(&self, label: &str) -> Progress {
        if self.interactive { Progress::animated(label) } else { Progress::plain(label, Box::new(std::io::stderr())) }
    }
}

/// `--no-color`, or `NO_COLOR` set to a non-empty value (https://no-color.org).
pub fn no_color_requested(flag: bool, no_color_env: Option<&std::ffi::OsStr>) -> bool {
    flag || no_color_env.is_some_and(|v| !v.is_empty())
}

/// The few colours the plugin uses (ANSI SGR codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Green,
    Yellow,
    Red,
    Bold,
    Dim,
}

impl Color {
    fn code(self) -> &'static str {
        match self {
            Color::Green => "32",
            Color::Yellow => "33",
            Color::Red => "31",
            Color::Bold => "1",
            Color::Dim => "2",
        }
    }

    /// `text` wrapped in this colour when `enabled`, unchanged otherwise.
    pub fn paint_if(self, enabled: bool, text: &str) -> String {
        if enabled { format!("\x1b[{}m{text}\x1b[0m", self.code()) } else { text.to_string() }
    }
}

/// A borderless table like kubectl's: upper-case headers as given, columns separated by at least three spaces (like kubectl),
/// no trailing spaces, ending with a newline. Cells may contain colour codes (they take no width).
pub fn table<H, R, C>(headers: &[H], rows: R) -> String
where
    H: AsRef<str>,
    R: IntoIterator<Item = Vec<C>>,
    C: Into<String>,
{
    let mut builder = Builder::default();
    builder.push_record(headers.iter().map(|h| h.as_ref().to_string()));
    for row in rows {
        builder.push_record(row.into_iter().map(Into::into));
    }
    let mut table = builder.build();
    table.with(Style::blank()).with(Padding::new(0, 2, 0, 0));
    let mut out: String = table.to_string().lines().map(|l| format!("{}\n", l.trim_end())).collect();
    if out.is_empty() {
        out.push('\n');
    }
    out
}

/// Prints [`table`] to stdout.
pub fn print_table<H, R, C>(headers: &[H], rows: R) -> std::io::Result<()>
where
    H: AsRef<str>,
    R: IntoIterator<Item = Vec<C>>,
    C: Into<String>,
{
    write_stdout(&table(headers, rows))
}

/// Why a value could not be rendered as JSON or YAML.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot render JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot render YAML: {0}")]
    Yaml(#[from] serde_saphyr::ser::Error),
    #[error("output format {0:?} is not a structured format")]
    NotStructured(OutputFormat),
}

/// Pretty JSON with a trailing newline.
pub fn to_json<T: Serialize>(value: &T) -> Result<String, RenderError> {
    let mut s = serde_json::to_string_pretty(value)?;
    s.push('\n');
    Ok(s)
}

/// YAML (serde-saphyr), ending with a newline.
pub fn to_yaml<T: Serialize>(value: &T) -> Result<String, RenderError> {
    let mut s = serde_saphyr::to_string(value)?;
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

/// Renders `value` in a structured format (`json` or `yaml`).
pub fn to_structured<T: Serialize>(format: OutputFormat, value: &T) -> Result<String, RenderError> {
    match format {
        OutputFormat::Json => to_json(value),
        OutputFormat::Yaml => to_yaml(value),
        other => Err(RenderError::NotStructured(other)),
    }
}

/// Prints `value` to stdout as JSON or YAML; returns `Ok(false)` (printing nothing) for table formats, so
/// callers can write `if !print_structured(term.format, &report)? { print_table(...) }`.
pub fn print_structured<T: Serialize>(format: OutputFormat, value: &T) -> anyhow::Result<bool> {
    match format {
        OutputFormat::Json | OutputFormat::Yaml => {
            write_stdout(&to_structured(format, value)?)?;
            Ok(true)
        }
        OutputFormat::Table | OutputFormat::Wide => Ok(false),
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Progress of a long operation, on stderr. Cheap to clone; all clones drive the same display.
///
/// On a terminal it is an indicatif spinner (or a bar once [`Progress::set_fraction`] is called), with log lines
/// printed above it. Otherwise each change of message is one plain line `2026-01-02T03:04:05Z LABEL: message`,
/// fractions are printed at every 10 %, and nothing else is written.
#[derive(Clone)]
pub struct Progress {
    mode: Arc<Mode>,
}

enum Mode {
    Animated(indicatif::ProgressBar),
    Plain(Mutex<Plain>),
    Hidden,
}

struct Plain {
    label: String,
    out: Box<dyn Write + Send>,
    message: String,
    last_decile: Option<u64>,
}

impl Plain {
    fn line(&mut self, text: &str) {
        let now = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now());
        let label = if self.label.is_empty() { String::new() } else { format!("{}: ", self.label) };
        // Progress is best effort: a closed stderr must not fail the operation.
        let _ = writeln!(self.out, "{} {label}{text}", now.strftime("%Y-%m-%dT%H:%M:%SZ"));
        let _ = self.out.flush();
    }
}

impl Progress {
    /// An animated spinner on stderr.
    pub fn animated(label: &str) -> Progress {
        let bar = indicatif::ProgressBar::new_spinner().with_prefix(label.to_string());
        bar.set_style(spinner_style());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { mode: Arc::new(Mode::Animated(bar)) }
    }

    /// Plain timestamped lines written to `out`.
    pub fn plain(label: &str, out: Box<dyn Write + Send>) -> Progress {
        let plain = Plain { label: label.to_string(), out, message: String::new(), last_decile: None };
        Progress { mode: Arc::new(Mode::Plain(Mutex::new(plain))) }
    }

    /// A progress that shows nothing (e.g. for library callers and tests).
    pub fn hidden() -> Progress {
        Progress { mode: Arc::new(Mode::Hidden) }
    }

    fn with_plain(&self, f: impl FnOnce(&mut Plain)) {
        if let Mode::Plain(plain) = &*self.mode {
            // A poisoned lock only means another thread panicked while printing; keep printing.
            let mut guard = plain.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard);
        }
    }

    /// Sets the current status message (printed as a line in plain mode when it changes).
    pub fn set_message(&self, message: impl Into<String>) {
        let message = message.into();
        match &*self.mode {
            Mode::Animated(bar) => bar.set_message(message),
            Mode::Plain(_) => self.with_plain(|p| {
                if p.message != message {
                    p.line(&message);
                    p.message = message;
                }
            }),
            Mode::Hidden => {}
        }
    }

    /// Shows `done` of `total` (e.g. bytes transferred): a bar with a percentage on a terminal, one plain line
    /// per 10 % step otherwise.
    pub fn set_fraction(&self, done: u64, total: u64) {
        match &*self.mode {
            Mode::Animated(bar) => {
                if bar.length() != Some(total) {
                    bar.set_length(total);
                    bar.set_style(bar_style());
                }
                bar.set_position(done.min(total));
            }
            Mode::Plain(_) => self.with_plain(|p| {
                let percent = percent(done, total);
                let decile = percent / 10;
                if p.last_decile != Some(decile) {
                    p.last_decile = Some(decile);
                    let text = if p.message.is_empty() {
                        format!("{percent}%")
                    } else {
                        format!("{} ({percent}%)", p.message)
                    };
                    p.line(&text);
                }
            }),
            Mode::Hidden => {}
        }
    }

    /// Prints a log line on stderr (above the spinner on a terminal; timestamped in plain mode).
    pub fn println(&self, line: &str) {
        match &*self.mode {
            Mode::Animated(bar) => bar.println(line),
            Mode::Plain(_) => self.with_plain(|p| p.line(line)),
            Mode::Hidden => {}
        }
    }

    /// Ends the display with a final message (kept on screen on a terminal; one line in plain mode).
    pub fn finish(&self, message: &str) {
        match &*self.mode {
            Mode::Animated(bar) => {
                bar.set_style(finished_style());
                bar.finish_with_message(message.to_string());
            }
            Mode::Plain(_) => self.with_plain(|p| {
                p.line(message);
                p.message = message.to_string();
            }),
            Mode::Hidden => {}
        }
    }

    /// Removes the display without a final message (terminal), e.g. before printing results.
    pub fn clear(&self) {
        if let Mode::Animated(bar) = &*self.mode {
            bar.finish_and_clear();
        }
    }
}

fn percent(done: u64, total: u64) -> u64 {
    if total == 0 { 100 } else { (u128::from(done.min(total)) * 100 / u128::from(total)) as u64 }
}

const SPINNER_TEMPLATE: &str = "{spinner} {prefix}: {wide_msg} {elapsed:>4}";
const BAR_TEMPLATE: &str = "{spinner} {prefix}: [{bar:30}] {percent:>3}% {wide_msg} {elapsed:>4}";
const FINISHED_TEMPLATE: &str = "{prefix}: {wide_msg} ({elapsed})";

// `ProgressStyle::with_template` only fails on a malformed template; the unit test `progress_styles_are_valid`
// rules that out for the constants above, so the default-style fallbacks are unreachable.
fn spinner_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(SPINNER_TEMPLATE)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
}

fn bar_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(BAR_TEMPLATE)
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
}

fn finished_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(FINISHED_TEMPLATE)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` that appends into shared memory, to inspect plain progress output.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().map(|v| v.clone()).unwrap_or_default()).unwrap_or_default()
        }
    }

    #[test]
    fn no_color_env_counts_only_when_non_empty() {
        assert!(no_color_requested(true, None));
        assert!(no_color_requested(false, Some(std::ffi::OsStr::new("1"))));
        assert!(!no_color_requested(false, Some(std::ffi::OsStr::new(""))));
        assert!(!no_color_requested(false, None));
    }

    #[test]
    fn colour_only_on_terminals_without_no_color() {
        let t = Term::new(OutputFormat::Table, false, true, false);
        assert!(t.color_stdout && !t.color_stderr && !t.interactive);
        let t = Term::new(OutputFormat::Table, true, true, true);
        assert!(!t.color_stdout && !t.color_stderr && t.interactive);
        assert_eq!(t.paint(Color::Red, "x"), "x");
        let t = Term::new(OutputFormat::Table, false, true, true);
        assert_eq!(t.paint(Color::Red, "x"), "\x1b[31mx\x1b[0m");
    }

    #[test]
    fn tables_are_kubectl_like() {
        let out = table(&["NAME", "PHASE"], vec![vec!["vm-a", "Running"], vec!["vm-bbbb", "Scheduling"]]);
        assert_eq!(out, "NAME      PHASE\nvm-a      Running\nvm-bbbb   Scheduling\n");
    }

    #[test]
    fn coloured_cells_keep_columns_aligned() {
        let red = Color::Red.paint_if(true, "FAIL");
        let out = table(&["CHECK", "STATUS", "REASON"], vec![vec!["a".to_string(), red, "x".to_string()]]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "CHECK   STATUS   REASON");
        assert_eq!(lines[1], "a       \x1b[31mFAIL\x1b[0m     x");
    }

    #[test]
    fn structured_output() {
        #[derive(Serialize)]
        struct V {
            name: &'static str,
            count: u32,
        }
        let v = V { name: "vm", count: 2 };
        assert_eq!(to_json(&v).unwrap(), "{\n  \"name\": \"vm\",\n  \"count\": 2\n}\n");
        assert_eq!(to_yaml(&v).unwrap(), "name: vm\ncount: 2\n");
        assert!(to_structured(OutputFormat::Table, &v).is_err());
    }

    #[test]
    fn plain_progress_prints_changes_once_with_timestamps() {
        let sink = Sink::default();
        let p = Progress::plain("vm1", Box::new(sink.clone()));
        p.set_message("Scheduling");
        p.set_message("Scheduling");
        p.set_message("Running");
        for done in [0, 5, 10, 15, 55, 100] {
            p.set_fraction(done, 100);
        }
        p.println("note");
        p.finish("Succeeded");
        let text = sink.text();
        let bodies: Vec<&str> = text.lines().map(|l| l.split_once(' ').map(|(_, b)| b).unwrap_or("")).collect();
        assert_eq!(
            bodies,
            [
                "vm1: Scheduling",
                "vm1: Running",
                "vm1: Running (0%)",
                "vm1: Running (10%)",
                "vm1: Running (55%)",
                "vm1: Running (100%)",
                "vm1: note",
                "vm1: Succeeded"
            ]
        );
        for line in text.lines() {
            let stamp = line.split(' ').next().unwrap_or("");
            assert!(stamp.parse::<jiff::Timestamp>().is_ok() && stamp.ends_with('Z'), "{line}");
            assert!(!line.contains('\x1b') && !line.contains('\r'), "{line:?}");
        }
    }

    #[test]
    fn animated_progress_switches_from_spinner_to_bar() {
        let p = Progress::animated("vm1");
        p.set_message("Scheduling");
        p.set_fraction(5, 10);
        p.println("a log line");
        let Mode::Animated(bar) = &*p.mode else { panic!("expected an animated progress") };
        assert_eq!((bar.length(), bar.position(), bar.message()), (Some(10), 5, "Scheduling".to_string()));
        p.finish("Succeeded");
        assert!(bar.is_finished());
        assert_eq!(bar.message(), "Succeeded");
    }

    #[test]
    fn progress_styles_are_valid() {
        for template in [SPINNER_TEMPLATE, BAR_TEMPLATE, FINISHED_TEMPLATE] {
            assert!(indicatif::ProgressStyle::with_template(template).is_ok(), "{template}");
        }
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(5, 0), 100);
    }
}
