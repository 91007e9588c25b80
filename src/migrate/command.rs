//! The `run`, `cancel` and `status` commands as the CLI calls them: arguments and terminal in, stdout written,
//! an [`exit::Outcome`] out. One call each from `app::run_cluster_command`; `check` (unless `--skip-check`) runs
//! before [`run_command`].

use std::io::Write;

use crate::cli::{CancelArgs, DryRun, OutputFormat, RunArgs, StatusArgs};
use crate::cluster::Cluster;
use crate::exit;
use crate::term::{self, Term};

use crate::record::{Hop, ProbeSetup, RunOptions, RunRecord};

use super::error::MigrateError;
use super::gates;
use super::run::{ErrorDocument, Interrupts, RunReport, RunRequest};
use super::sequence::{Ended, SequenceIo, planned_hops, run_sequence};
use super::summary;
use super::ui::{LineSink, ProgressSink, ResultFormat, TtySink};

/// `kubectl vmmigrate run VM`: check, probe placement and baseline (`--probe`), one migration per hop (`--repeat`,
/// `--round-trip`), the gates; stdout gets each hop's result as it ends (table) or one document at the end
/// (`-o json|yaml`). Whatever happens, one complete [`RunRecord`] goes to [`emit`] before the exit code.
pub async fn run_command(cluster: &Cluster, args: &RunArgs, term: &Term) -> anyhow::Result<exit::Outcome> {
    let (record, result) = run_recorded(cluster, args, term, Interrupts::ctrl_c()).await;
    let delivered = emit(&record, args).await;
    match (result, delivered) {
        (Ok(exit::Outcome::Success), Err(e)) => Err(e),
        (result, Err(e)) => {
            // The run's own exit code stands; the output that failed is still said.
            let _ = writeln!(std::io::stderr(), "{}", exit::render_error(&e));
            result
        }
        (result, Ok(())) => result,
    }
}

/// [`run_command`] without [`emit`], with the interrupts delivered by the caller: the record of what happened (on
/// every path, with its `exitCode` and `error`) and the command's result.
pub async fn run_recorded(
    cluster: &Cluster,
    args: &RunArgs,
    term: &Term,
    mut interrupts: Interrupts,
) -> (RunRecord, anyhow::Result<exit::Outcome>) {
    let mut record = new_record(cluster, args);
    if !crate::report::Outputs::from_args(args).reports.is_empty() {
        match crate::report::gather(&cluster.client, &cluster.namespace, &args.vm).await {
            Ok(environment) => record.environment = Some(environment),
            Err(e) => record.warnings.push(format!("the test environment was not recorded: {e}")),
        }
    }
    let result = execute(cluster, args, term, &mut record, &mut interrupts).await;
    record.ended_at = Some(jiff::Timestamp::now().to_string());
    record.exit_code = exit::exit_code(&result).code();
    if let Err(e) = &result
        && record.error.is_none()
    {
        record.error = Some(exit::chain_message(e.as_ref()));
    }
    (record, result)
}

/// The one place every output of a finished `run` is written from its record: the `--report` files, the
/// `--metrics-file` and the `--pushgateway` push, each whole or not at all. Every file written is named on stderr;
/// every failure gets its own `error:` line, and the first one is returned (the caller lets it decide the exit code
/// only when the migration itself succeeded: a missing report must not pass for a green run, nor hide a failure).
async fn emit(record: &RunRecord, args: &RunArgs) -> anyhow::Result<()> {
    let outputs = crate::report::Outputs::from_args(args);
    if outputs.is_empty() {
        return Ok(());
    }
    let delivered = crate::report::deliver(record, &outputs).await;
    let mut err = std::io::stderr();
    for path in &delivered.written {
        let _ = writeln!(err, "wrote {}", path.display());
    }
    let push_failed = delivered.errors.iter().any(|e| matches!(e, crate::report::ReportError::Push { .. }));
    if let Some(url) = outputs.pushgateway.as_deref().filter(|_| !push_failed) {
        let _ = writeln!(err, "pushed the metrics to {url}");
    }
    let mut errors = delivered.errors.into_iter();
    let first = errors.next();
    for e in errors {
        let _ = writeln!(err, "error: {e}");
    }
    match first {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

fn new_record(cluster: &Cluster, args: &RunArgs) -> RunRecord {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    RunRecord {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        namespace: cluster.namespace.clone(),
        vm: args.vm.clone(),
        started_at: Some(jiff::Timestamp::now().to_string()),
        options: RunOptions {
            probe: args.probe,
            round_trip: args.round_trip,
            repeat: args.repeat,
            probe_interval_ms: args.probe.then(|| ms(args.probe_args.probe_interval)),
            probe_tail_ms: args.probe.then(|| ms(args.probe_args.probe_tail)),
            max_downtime_ms: args.max_downtime.map(ms),
            max_duration_seconds: args.max_duration.map(|d| d.as_secs_f64()),
            timeout_seconds: args.timeout.map(|d| d.as_secs_f64()),
            skip_check: args.skip_check,
            attach: args.attach,
        },
        ..Default::default()
    }
}

/// `run` after its flags were accepted, filling `record`.
async fn execute(
    cluster: &Cluster,
    args: &RunArgs,
    term: &Term,
    record: &mut RunRecord,
    interrupts: &mut Interrupts,
) -> anyhow::Result<exit::Outcome> {
    let mut completion_timeout = None;
    if !args.skip_check {
        let (report, verdict) = preflight(cluster, args).await?;
        completion_timeout = report
            .vms
            .first()
            .and_then(|vm| vm.effective_config.as_ref())
            .and_then(|c| u64::try_from(c.completion_timeout_seconds).ok())
            .filter(|s| *s > 0)
            .map(std::time::Duration::from_secs);
        record.check = Some(report);
        if let Err(refused) = verdict {
            record.error = Some(refused.to_string());
            return finish(Err(refused), term);
        }
    }
    if args.dry_run == DryRun::Server {
        let req = RunRequest {
            vm: args.vm.clone(),
            target_node: args.target_node.clone(),
            dry_run_server: true,
            ..Default::default()
        };
        let mut ui = sink(term);
        let report =
            super::sequence::migrate_once(&cluster.client, &cluster.namespace, &req, ui.as_mut(), interrupts).await;
        return finish(report, term);
    }
    let format = format(term);
    let planned = planned_hops(args.repeat, args.round_trip);
    let mut printed: std::io::Result<()> = Ok(());
    let mut on_hop = |hop: &Hop, probe: Option<&ProbeSetup>| {
        if format == ResultFormat::Table && printed.is_ok() {
            printed = summary::render_hop(hop, planned, probe)
                .map_err(std::io::Error::other)
                .and_then(|text| term::write_stdout(&text));
        }
    };
    let ended = run_sequence(
        &cluster.client,
        &cluster.namespace,
        args,
        completion_timeout,
        record,
        SequenceIo { new_ui: &mut || sink(term), on_hop: &mut on_hop, interrupts },
    )
    .await;
    printed?;
    if let Ended::Failed(_, why) = &ended {
        record.error = Some(why.clone());
    }
    let result = outcome(record, &ended);
    print_end(record, format, exit::exit_code(&result).code())?;
    let mut err = std::io::stderr();
    match (&ended, &result) {
        (Ended::Failed(_, why), Ok(_)) => {
            let _ = writeln!(err, "error: {why}");
        }
        (Ended::Hops(_), Ok(exit::Outcome::ThresholdExceeded)) => {
            for g in record.gates.iter().filter(|g| !g.passed) {
                let _ = writeln!(err, "error: {} {}: {}", g.name, g.subject, g.detail);
            }
        }
        _ => {}
    }
    result
}

/// The exit outcome: the error that stopped the sequence, else the last hop's, else 7 when a gate failed.
fn outcome(record: &RunRecord, ended: &Ended) -> anyhow::Result<exit::Outcome> {
    match ended {
        Ended::Failed(exit::ExitCode::Usage, why) => Err(exit::UsageError(why.clone()).into()),
        Ended::Failed(code, why) => code.outcome().ok_or_else(|| anyhow::anyhow!("{why}")),
        Ended::Hops(exit::ExitCode::Success) if !gates::all_passed(&record.gates) => {
            Ok(exit::Outcome::ThresholdExceeded)
        }
        Ended::Hops(code) => code.outcome().ok_or_else(|| {
            let last = record.hops.last().and_then(|h| h.result.migration.clone());
            let hint = match last {
                Some(name) => format!("kubectl get vmim {name} -n {} -w", record.namespace),
                None => "kubectl get vmim -w".to_string(),
            };
            anyhow::anyhow!("KubeVirt did not confirm the abort in time; follow the migration with: {hint}")
        }),
    }
}

/// After the last hop: the hop table, figures and gates (table), or the one document (`-o json|yaml`; the error
/// document when no migration ran).
fn print_end(record: &RunRecord, format: ResultFormat, exit_code: i32) -> anyhow::Result<()> {
    let text = match format {
        ResultFormat::Table => summary::render_end(record),
        _ => match summary::render_record(record, format)? {
            Some(doc) => doc,
            None => super::ui::render_document(
                &ErrorDocument { error: record.error.clone().unwrap_or_default(), exit_code },
                format,
            )?,
        },
    };
    term::write_stdout(&text)?;
    Ok(())
}

/// `check` before `run`: the same engine as `kubectl vmmigrate check VM` (with its server-side dry-run). Every
/// failing check is listed on stderr and the run is refused as not migratable (exit 3). With `--attach`, an
/// in-flight migration is what the user wants to follow, so its check and the dry-run it fails are not blockers.
/// The outer error is one that stops `run` before anything is created (VM not found, API errors: exit 1).
async fn preflight(
    cluster: &Cluster,
    args: &RunArgs,
) -> anyhow::Result<(crate::check::CheckReport, Result<(), MigrateError>)> {
    use crate::check::{self, CheckRequest, Status};
    let req = CheckRequest {
        vms: vec![args.vm.clone()],
        namespace: Some(cluster.namespace.clone()),
        probe: args.probe,
        server: Some(cluster.server.clone()),
        ..Default::default()
    };
    let report = check::run(&cluster.client, &cluster.namespace, &req).await?;
    let attaching = |id: &str| args.attach && crate::record::ATTACH_WAIVED.contains(&id);
    let failing: Vec<&check::Check> =
        report.vms.iter().flat_map(|vm| &vm.checks).filter(|c| c.status == Status::Fail && !attaching(c.id)).collect();
    if failing.is_empty() {
        return Ok((report, Ok(())));
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
    let refused = MigrateError::NotMigratable { namespace: cluster.namespace.clone(), vm: args.vm.clone(), message };
    Ok((report, Err(refused)))
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
            report.exit_code().outcome().ok_or_else(|| {
                let hint = report.follow_hint.as_deref().unwrap_or("kubectl get vmim -w");
                anyhow::anyhow!("KubeVirt did not confirm the abort in time; follow the migration with: {hint}")
            })
        }
        Err(e) => {
            if format != ResultFormat::Table {
                term::write_stdout(&super::ui::render_document(&ErrorDocument::from(&e), format)?)?;
            }
            if e.exit_code() == exit::ExitCode::NotMigratable {
                let _ = writeln!(std::io::stderr(), "error: {e}");
                return Ok(exit::Outcome::NotMigratable);
            }
            Err(e.into())
        }
    }
}
