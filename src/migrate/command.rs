//! The `run`, `cancel` and `status` commands as the CLI calls them: arguments and terminal in, stdout written,
//! an [`exit::Outcome`] out. One call each from `app::run_cluster_command`; `check` (unless `--skip-check`) runs
//! before [`run_command`].

use std::io::Write;

use crate::cli::{CancelArgs, DryRun, OutputFormat, RunArgs, StatusArgs};
use crate::cluster::Cluster;
use crate::exit;
use crate::term::{self, Term};

use super::error::MigrateError;
use super::run::{ErrorDocument, RunReport, RunRequest};
use super::ui::{LineSink, ProgressSink, ResultFormat, TtySink};

/// `kubectl vmmigrate run VM`. Flags of features integrated elsewhere (probe, reports, metrics, round trips) are
/// refused here rather than silently ignored.
pub async fn run_command(cluster: &Cluster, args: &RunArgs, term: &Term) -> anyhow::Result<exit::Outcome> {
    let unsupported = unsupported_flags(args);
    if !unsupported.is_empty() {
        anyhow::bail!("{} not available in this build of 'run'", unsupported.join(", "));
    }
    let req = RunRequest {
        vm: args.vm.clone(),
        target_node: args.target_node.clone(),
        timeout: args.timeout,
        attach: args.attach,
        dry_run_server: args.dry_run == DryRun::Server,
        abort_on_timeout: !args.no_abort_on_timeout,
        skip_check: args.skip_check,
        ..Default::default()
    };
    if !args.skip_check
        && let Err(refused) = preflight(cluster, args).await?
    {
        return finish(Err(refused), term);
    }
    let mut ui = sink(term);
    let report = super::run::run(&cluster.client, &cluster.namespace, &req, ui.as_mut()).await;
    let over = |r: &RunReport| match (args.max_duration, r.result.duration_seconds) {
        (Some(max), Some(took)) if r.exit_code() == 0 && took > 0 && took as u64 > max.as_secs() => {
            Some(format!("the migration took {took} s, more than --max-duration {} s", max.as_secs()))
        }
        _ => None,
    };
    let exceeded = report.as_ref().ok().and_then(over);
    let outcome = finish(report, term)?;
    match exceeded {
        Some(why) => {
            let _ = writeln!(std::io::stderr(), "error: {why}");
            Ok(exit::Outcome::ThresholdExceeded)
        }
        None => Ok(outcome),
    }
}

/// `check` before `run`: the same engine as `kubectl vmmigrate check VM` (with its server-side dry-run). Every
/// failing check is listed on stderr and the run is refused as not migratable (exit 3). With `--attach`, an
/// in-flight migration is what the user wants to follow, so its check and the dry-run it fails are not blockers.
/// The outer error is one that stops `run` before anything is created (VM not found, API errors: exit 1).
async fn preflight(cluster: &Cluster, args: &RunArgs) -> anyhow::Result<Result<(), MigrateError>> {
    use crate::check::{self, CheckRequest, Status};
    let req = CheckRequest {
        vms: vec![args.vm.clone()],
        namespace: Some(cluster.namespace.clone()),
        probe: args.probe,
        server: Some(cluster.server.clone()),
        ..Default::default()
    };
    let report = check::run(&cluster.client, &cluster.namespace, &req).await?;
    let attaching = |id: &str| args.attach && matches!(id, "migration.inflight" | "admission.dryrun");
    let failing: Vec<&check::Check> =
        report.vms.iter().flat_map(|vm| &vm.checks).filter(|c| c.status == Status::Fail && !attaching(c.id)).collect();
    if failing.is_empty() {
        return Ok(Ok(()));
    }
    let mut err = std::io::stderr();
    for c in &failing {
        let fix = c.fix.as_deref().map(|f| format!(" (fix: {f})")).unwrap_or_default();
        let _ = writeln!(err, "  {} {}: {}{fix}", Status::Fail.symbol(), c.id, c.reason);
    }
    let message = match failing.len() {
        1 => format!("check {} failed", failing[0].id),
        n => format!("{n} checks failed: {}", failing.iter().map(|c| c.id).collect::<Vec<_>>().join(", ")),
    };
    Ok(Err(MigrateError::NotMigratable { namespace: cluster.namespace.clone(), vm: args.vm.clone(), message }))
}

/// The `run` flags this module does not implement.
fn unsupported_flags(args: &RunArgs) -> Vec<&'static str> {
    [
        ("--probe", args.probe),
        ("--report", !args.report.is_empty()),
        ("--max-downtime", args.max_downtime.is_some()),
        ("--round-trip", args.round_trip),
        ("--repeat", args.repeat > 1),
        ("--metrics-file", args.metrics_file.is_some()),
        ("--pushgateway", args.pushgateway.is_some()),
    ]
    .into_iter()
    .filter_map(|(flag, set)| set.then_some(flag))
    .collect()
}

/// `kubectl vmmigrate cancel VM`.
pub async fn cancel_command(cluster: &Cluster, args: &CancelArgs, term: &Term) -> anyhow::Result<exit::Outcome> {
    let mut ui = sink(term);
    let report = super::run::cancel(&cluster.client, &cluster.namespace, &args.vm, args.timeout, ui.as_mut()).await;
    finish(report, term)
}

/// `kubectl vmmigrate status VM`.
pub async fn status_command(cluster: &Cluster, args: &StatusArgs, term: &Term) -> anyhow::Result<exit::Outcome> {
    finish(super::run::status(&cluster.client, &cluster.namespace, &args.vm).await, term)
}

/// Progress on stderr: indicatif on a terminal, plain timestamped lines otherwise.
fn sink(term: &Term) -> Box<dyn ProgressSink> {
    if term.interactive { Box::new(TtySink::new()) } else { Box::new(LineSink::new(std::io::stderr())) }
}

fn format(term: &Term) -> ResultFormat {
    match term.format {
        OutputFormat::Json => ResultFormat::Json,
        OutputFormat::Yaml => ResultFormat::Yaml,
        OutputFormat::Table | OutputFormat::Wide => ResultFormat::Table,
    }
}

/// Prints the result (or, for "not migratable", the reason) and maps it to the exit outcome. Other errors go back
/// to the caller (exit 1, one `error:` line); with `-o json|yaml` they also print an error document on stdout so
/// that stdout always parses.
fn finish(report: Result<RunReport, MigrateError>, term: &Term) -> anyhow::Result<exit::Outcome> {
    let format = format(term);
    match report {
        Ok(report) => {
            term::write_stdout(&report.render(format)?)?;
            outcome(report.exit_code()).ok_or_else(|| {
                let hint = report.follow_hint.as_deref().unwrap_or("kubectl get vmim -w");
                anyhow::anyhow!("KubeVirt did not confirm the abort in time; follow the migration with: {hint}")
            })
        }
        Err(e) => {
            if format != ResultFormat::Table {
                term::write_stdout(&super::ui::render_document(&ErrorDocument::from(&e), format)?)?;
            }
            if e.exit_code() == 3 {
                let _ = writeln!(std::io::stderr(), "error: {e}");
                return Ok(exit::Outcome::NotMigratable);
            }
            Err(e.into())
        }
    }
}

/// The documented exit codes as the CLI's outcomes; `None` for 1 (`cancel`: the abort was not confirmed).
fn outcome(code: i32) -> Option<exit::Outcome> {
    Some(match code {
        0 => exit::Outcome::Success,
        3 => exit::Outcome::NotMigratable,
        4 => exit::Outcome::MigrationFailed,
        5 => exit::Outcome::MigrationAborted,
        6 => exit::Outcome::TimedOut,
        130 => exit::Outcome::Interrupted,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_of_other_features_are_named() {
        let args = RunArgs { vm: "vm".into(), probe: true, repeat: 2, ..Default::default() };
        assert_eq!(unsupported_flags(&args), ["--probe", "--repeat"]);
        assert!(unsupported_flags(&RunArgs { vm: "vm".into(), repeat: 1, ..Default::default() }).is_empty());
    }

    #[test]
    fn every_documented_code_maps_to_the_same_exit_code() {
        for code in [0, 3, 4, 5, 6, 130] {
            let o = outcome(code).expect("documented");
            assert_eq!(exit::ExitCode::from(o).code(), code);
        }
        assert_eq!(outcome(1), None);
    }
}
