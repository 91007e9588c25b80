//! The one map from outcomes and errors to exit codes, and the one renderer of errors.
//!
//! | code | meaning |
//! | ---: | --- |
//! | 0 | success; `check`: every VM is migratable (warnings allowed) |
//! | 1 | error: the command could not do its job (API error, not found, forbidden, unreachable cluster, bad kubeconfig) |
//! | 2 | usage: invalid flags or arguments |
//! | 3 | not migratable: `check` found a blocker (with `--strict`, also a warning); `run` refused to start |
//! | 4 | the migration failed |
//! | 5 | the migration was aborted (by `cancel`, by someone else, or by Ctrl-C handling that aborted it) |
//! | 6 | `--timeout` was reached |
//! | 7 | a threshold was exceeded (`--max-downtime`, `--max-duration`) |
//! | 130 | interrupted (Ctrl-C) |
//!
//! Commands return `anyhow::Result<Outcome>`; [`exit_code`] turns that into the process exit code and
//! [`render_error`] turns an error into the single `error: ...` line printed on stderr.

use std::error::Error as StdError;

/// Process exit codes. See the module documentation for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Success = 0,
    Error = 1,
    Usage = 2,
    NotMigratable = 3,
    MigrationFailed = 4,
    MigrationAborted = 5,
    TimedOut = 6,
    ThresholdExceeded = 7,
    Interrupted = 130,
}

impl ExitCode {
    /// The numeric code passed to `std::process::exit`.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// How a command that ran to its end turned out. Errors (code 1) are `Err` values, not outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done; for `check`, every VM is migratable (warnings allowed unless `--strict`).
    Success,
    /// `check` found a blocker (or a warning under `--strict`), or `run` refused to start.
    NotMigratable,
    /// The migration ended in phase Failed.
    MigrationFailed,
    /// The migration was aborted (abort requested by `cancel`, another client, or Ctrl-C).
    MigrationAborted,
    /// `--timeout` was reached.
    TimedOut,
    /// `--max-downtime` or `--max-duration` was exceeded.
    ThresholdExceeded,
    /// The user pressed Ctrl-C and the command stopped (after cleaning up).
    Interrupted,
}

impl Outcome {
    /// The verdict of `check`: any blocker is [`Outcome::NotMigratable`]; warnings are too under `--strict`.
    pub fn of_check(blockers: usize, warnings: usize, strict: bool) -> Outcome {
        if blockers > 0 || (strict && warnings > 0) { Outcome::NotMigratable } else { Outcome::Success }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Success => ExitCode::Success,
            Outcome::NotMigratable => ExitCode::NotMigratable,
            Outcome::MigrationFailed => ExitCode::MigrationFailed,
            Outcome::MigrationAborted => ExitCode::MigrationAborted,
            Outcome::TimedOut => ExitCode::TimedOut,
            Outcome::ThresholdExceeded => ExitCode::ThresholdExceeded,
            Outcome::Interrupted => ExitCode::Interrupted,
        }
    }
}

impl ExitCode {
    /// The outcome a command that ran to its end reports with this code; `None` for the error codes (1, 2).
    pub fn outcome(self) -> Option<Outcome> {
        Some(match self {
            ExitCode::Success => Outcome::Success,
            ExitCode::NotMigratable => Outcome::NotMigratable,
            ExitCode::MigrationFailed => Outcome::MigrationFailed,
            ExitCode::MigrationAborted => Outcome::MigrationAborted,
            ExitCode::TimedOut => Outcome::TimedOut,
            ExitCode::ThresholdExceeded => Outcome::ThresholdExceeded,
            ExitCode::Interrupted => Outcome::Interrupted,
            ExitCode::Error | ExitCode::Usage => return None,
        })
    }
}

/// An error meaning "the user pressed Ctrl-C": maps to exit code 130 wherever it sits in an error chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// An error meaning "the command line asks for something invalid" found after parsing (e.g. a probe interval too
/// short for the bound it needs): maps to exit code 2 wherever it sits in an error chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit code for a command result.
pub fn exit_code(result: &anyhow::Result<Outcome>) -> ExitCode {
    match result {
        Ok(outcome) => (*outcome).into(),
        Err(err) if err.chain().any(|e| e.is::<Interrupted>()) => ExitCode::Interrupted,
        Err(err) if err.chain().any(|e| e.is::<UsageError>()) => ExitCode::Usage,
        Err(_) => ExitCode::Error,
    }
}

/// The exit-code table as shown at the end of `--help`.
pub const HELP_TABLE: &str = "\
Exit codes:
  0    success (check: migratable; warnings allowed)
  1    error: could not evaluate (API error, not found, forbidden, unreachable cluster, kubeconfig)
  2    usage: invalid flags or arguments
  3    not migratable (check: a blocker, or with --strict any warning; run: refused to start)
  4    migration failed
  5    migration aborted (by cancel or someone else)
  6    --timeout reached
  7    a threshold exceeded (--max-downtime, --max-duration)
  130  interrupted (Ctrl-C)";

/// Renders an error as the one line printed on stderr: `error: ` and the cause chain joined with ": ".
pub fn render_error(err: &anyhow::Error) -> String {
    format!("error: {}", chain_message(err.as_ref()))
}

/// The messages of an error and its sources joined with ": ", on one line.
///
/// Sources whose text the outer message already contains are skipped (many libraries repeat their source in
/// their own message). Kubernetes API errors are shown as the server's message and reason, and kube's
/// transport wrappers ("HyperError: ...") are replaced by their causes.
pub fn chain_message(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(status) = api_status(e) {
            // The server's message is the whole story; its source is the same Status again.
            parts.push(one_line(&api_status_message(status)));
            break;
        }
        if let Some(text) = own_message(e) {
            let text = one_line(&text);
            let repeated = parts.last().is_some_and(|last| last.contains(&text));
            if !text.is_empty() && !repeated {
                parts.push(text);
            }
        }
        current = e.source();
    }
    if parts.is_empty() { "unknown error".to_string() } else { parts.join(": ") }
}

/// The API status carried by a kube API error (or a bare `Status` in the chain).
fn api_status<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a kube::core::Status> {
    match e.downcast_ref::<kube::Error>() {
        Some(kube::Error::Api(status)) => Some(status),
        _ => e.downcast_ref::<kube::core::Status>(),
    }
}

/// The message an error contributes to the chain, or `None` for pure wrappers.
fn own_message(e: &(dyn StdError + 'static)) -> Option<String> {
    match e.downcast_ref::<kube::Error>() {
        Some(kube::Error::HyperError(_) | kube::Error::Service(_)) => None,
        _ => Some(e.to_string()),
    }
}

/// Longest server message shown; a proxy or load balancer may answer with a whole HTML page.
const MAX_API_MESSAGE_CHARS: usize = 300;

/// `pods "x" not found (NotFound)`, like kubectl's `Error from server (NotFound): pods "x" not found`.
fn api_status_message(status: &kube::core::Status) -> String {
    let message = one_line(&status.message);
    let message = if message.is_empty() {
        format!("HTTP {}", status.code)
    } else if message.chars().count() > MAX_API_MESSAGE_CHARS {
        format!("{}…", message.chars().take(MAX_API_MESSAGE_CHARS).collect::<String>())
    } else {
        message
    };
    if status.reason.is_empty() { message } else { format!("{message} ({})", status.reason) }
}

/// Collapses line breaks and runs of whitespace so the message fits on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_error_anywhere_in_the_chain_is_exit_2() {
        let e = anyhow::Error::new(UsageError("--probe-interval 2ms is too short".into())).context("probe");
        assert_eq!(exit_code(&Err(e)), ExitCode::Usage);
        assert_eq!(exit_code(&Err(anyhow::anyhow!("other"))), ExitCode::Error);
    }

    #[test]
    fn every_outcome_round_trips_through_its_exit_code() {
        for o in [
            Outcome::Success,
            Outcome::NotMigratable,
            Outcome::MigrationFailed,
            Outcome::MigrationAborted,
            Outcome::TimedOut,
            Outcome::ThresholdExceeded,
            Outcome::Interrupted,
        ] {
            assert_eq!(ExitCode::from(o).outcome(), Some(o));
        }
        assert_eq!(ExitCode::Error.outcome(), None);
        assert_eq!(ExitCode::Usage.outcome(), None);
    }

    #[test]
    fn outcomes_map_to_documented_codes() {
        let table = [
            (Outcome::Success, 0),
            (Outcome::NotMigratable, 3),
            (Outcome::MigrationFailed, 4),
            (Outcome::MigrationAborted, 5),
            (Outcome::TimedOut, 6),
            (Outcome::ThresholdExceeded, 7),
            (Outcome::Interrupted, 130),
        ];
        for (outcome, code) in table {
            assert_eq!(exit_code(&Ok(outcome)).code(), code, "{outcome:?}");
            assert!(HELP_TABLE.contains(&format!("\n  {code} ")), "help table lists {code}");
        }
        assert!(HELP_TABLE.contains("\n  1 ") && HELP_TABLE.contains("\n  2 "));
    }

    #[test]
    fn check_verdicts() {
        assert_eq!(Outcome::of_check(0, 0, false), Outcome::Success);
        assert_eq!(Outcome::of_check(0, 2, false), Outcome::Success);
        assert_eq!(Outcome::of_check(0, 2, true), Outcome::NotMigratable);
        assert_eq!(Outcome::of_check(1, 0, false), Outcome::NotMigratable);
    }

    #[test]
    fn errors_exit_1_and_interruptions_130() {
        let err: anyhow::Result<Outcome> = Err(anyhow::anyhow!("boom"));
        assert_eq!(exit_code(&err), ExitCode::Error);
        let interrupted: anyhow::Result<Outcome> = Err(anyhow::Error::new(Interrupted).context("waiting for VMIM"));
        assert_eq!(exit_code(&interrupted), ExitCode::Interrupted);
    }

    #[test]
    fn renders_the_chain_on_one_line_without_repeats() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(io).context("reading \"/x\": no such file").context("loading\nconfig");
        assert_eq!(render_error(&err), "error: loading config: reading \"/x\": no such file");
    }

    #[test]
    fn renders_api_errors_as_the_server_message() {
        let status =
            kube::core::Status::failure("virtualmachines.kubevirt.io \"vm1\" not found", "NotFound").with_code(404);
        let err = anyhow::Error::new(kube::Error::Api(Box::new(status))).context("get VirtualMachine default/vm1");
        assert_eq!(
            render_error(&err),
            "error: get VirtualMachine default/vm1: virtualmachines.kubevirt.io \"vm1\" not found (NotFound)"
        );
    }

    #[test]
    fn long_non_kubernetes_error_bodies_are_cut() {
        let html = format!("<html>\n<body>{}</body></html>", "x".repeat(1000));
        let status = kube::core::Status::failure(&html, "Failed to parse error data").with_code(502);
        let line = render_error(&anyhow::Error::new(kube::Error::Api(Box::new(status))));
        assert!(line.len() < 400 && line.contains("…") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn hides_transport_wrappers() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let err = anyhow::Error::new(kube::Error::Service(Box::new(io))).context("GET /version");
        assert_eq!(render_error(&err), "error: GET /version: Connection refused");
    }
}
