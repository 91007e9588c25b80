//! The shell of `run` from the pre-flight check to the last hop: place the probe and take its baseline
//! (`--probe`), then one migration per hop (`--repeat N`, `--round-trip`) with the probe running around each,
//! stopping at the first hop that does not succeed; clean the probe up on every path; evaluate the gates. Every
//! path fills the one [`RunRecord`] the outputs are rendered from.
//!
//! Order with `--probe`: check → place the prober and check its tools (a missing `ping` is one line and exit 1,
//! before anything is migrated) → baseline (a target that does not answer refuses the run with exit 3, like a
//! failed check, unless `--force`) → per hop: start the probe, migrate, stop the probe after `--probe-tail`,
//! analyse each target on the hop's timeline → cleanup (always: success, failure, timeout, Ctrl-C, errors).
//!
//! Ctrl-C: one listener for the whole command. During a migration the first Ctrl-C aborts it and the second
//! leaves (as `run` alone does); before the first migration or between hops it stops at once; either way the
//! prober is cleaned up before the command exits.

use std::time::Duration;

use kube::api::{Api, ListParams};
use tokio::sync::mpsc;

use crate::cli::RunArgs;
use crate::exit::{ExitCode, chain_message};
use crate::kubevirt::{LABEL_VMI_NAME, VirtualMachineInstance, VirtualMachineInstanceMigration};
use crate::probe::analysis::ProbeSeries;
use crate::probe::session::{ProbeError, ProbeRequest, Prober};
use crate::record::{Hop, PlannedTarget, ProbeSetup, RunRecord};

use super::cluster;
use super::error::MigrateError;
use super::run::{ABORT_GRACE, Interrupts, RunReport, RunRequest, run_with_interrupts};
use super::ui::ProgressSink;
use super::{gates, measure};

/// KubeVirt's fixed timeout for a migration target pod that cannot be scheduled (`unschedulablePendingTimeout`).
const UNSCHEDULABLE_TIMEOUT: Duration = Duration::from_secs(300);
/// KubeVirt's catch-all timeout for a target pod stuck in Pending for other reasons (e.g. a slow image pull).
const PENDING_TIMEOUT: Duration = Duration::from_secs(900);
/// The longest any one probe may run inside its container.
const MAX_PROBE_BOUND: Duration = Duration::from_secs(6 * 3600);
/// Without `--timeout` and without the check's completion timeout (`--skip-check`): assume this much.
const UNKNOWN_COMPLETION: Duration = Duration::from_secs(3600);
/// Slack for the create, the watch and the read of the probe's last lines.
const BOUND_SLACK: Duration = Duration::from_secs(60);
/// How often to look whether the VM settled between hops (a short wait: the follower already saw the end).
const SETTLE_POLL: Duration = Duration::from_millis(250);

/// How long each hop's probe may run inside its container at most, so that it can never outlive the plugin yet
/// covers the whole migration and the tail.
///
/// With `--timeout T` the migration ends (or is aborted, and the abort awaited for [`ABORT_GRACE`]) within T.
/// Without it KubeVirt itself bounds it: a migration is aborted once it runs longer than its completion timeout
/// (`completionTimeoutPerGiB × data size`, from the check's effective configuration; doubled when KubeVirt pauses the
/// guest to converge), and a target pod that stays Pending fails it after 5 minutes (unschedulable) or 15 (any
/// other reason): the longer one counts. Plus the tail and a minute of slack, capped at 6 hours (a migration still
/// running then is better measured by a fresh probe). Saturating: any duration the flags accept is safe here.
pub fn probe_bound(timeout: Option<Duration>, completion_timeout: Option<Duration>, tail: Duration) -> Duration {
    let migration = match timeout {
        Some(t) => t.saturating_add(ABORT_GRACE),
        None => completion_timeout
            .unwrap_or(UNKNOWN_COMPLETION)
            .saturating_mul(2)
            .saturating_add(UNSCHEDULABLE_TIMEOUT.max(PENDING_TIMEOUT)),
    };
    migration.saturating_add(tail).saturating_add(BOUND_SLACK).min(MAX_PROBE_BOUND)
}

/// How many migrations `--repeat N` and `--round-trip` ask for: N, or 2N round trip hops.
pub fn planned_hops(repeat: u32, round_trip: bool) -> u32 {
    repeat.max(1).saturating_mul(if round_trip { 2 } else { 1 })
}

/// How one run of the sequence ended (the record says what happened).
pub enum Ended {
    /// Every hop ran, or the loop stopped at the first one that did not succeed: its exit code.
    Hops(ExitCode),
    /// Refused or failed before any migration, or an error after one started.
    Failed(ExitCode, String),
}

/// The terminal side of the sequence.
pub struct SequenceIo<'a> {
    /// Makes the progress sink of one hop.
    pub new_ui: &'a mut dyn FnMut() -> Box<dyn ProgressSink>,
    /// Called as each hop ends (to print it).
    pub on_hop: &'a mut dyn FnMut(&Hop, Option<&ProbeSetup>),
    /// Ctrl-C, for the whole command.
    pub interrupts: &'a mut Interrupts,
}

/// The part of `run` after the pre-flight check. `completion_timeout` is the check's effective completion timeout
/// (see [`probe_bound`]).
pub async fn run_sequence(
    client: &kube::Client,
    namespace: &str,
    args: &RunArgs,
    completion_timeout: Option<Duration>,
    record: &mut RunRecord,
    io: SequenceIo<'_>,
) -> Ended {
    let SequenceIo { new_ui, on_hop, interrupts } = io;
    let mut prober = None;
    if args.probe {
        let bound = probe_bound(args.timeout, completion_timeout, args.probe_args.probe_tail);
        let mut req = ProbeRequest::from_args(&args.vm, &args.probe_args, bound);
        req.hops = planned_hops(args.repeat, args.round_trip);
        match prepare_probe(client, namespace, &req, record, interrupts).await {
            Ok(p) => prober = Some(p),
            Err((p, e)) => {
                let ended = Ended::Failed(e.exit_code(), chain_message(&e));
                if let Some(mut p) = p {
                    // The error that stopped the run is what the command reports; a failed cleanup is a warning.
                    let _ = cleanup(&mut p, record).await;
                }
                return ended;
            }
        }
    }
    let mut ended = hops(client, namespace, args, prober.as_mut(), record, new_ui, on_hop, interrupts).await;
    if let Some(p) = prober.as_mut()
        && let Err(why) = cleanup(p, record).await
        && matches!(ended, Ended::Hops(ExitCode::Success))
    {
        // Something was left behind: that is not a clean success.
        ended = Ended::Failed(ExitCode::Error, why);
    }
    record.gates = gates::evaluate(&record.hops, args.max_duration, args.max_downtime);
    ended
}

/// Places the prober, checks its tools and takes the baseline. On failure, the prober (if it was placed) comes back
/// to be cleaned up.
async fn prepare_probe(
    client: &kube::Client,
    namespace: &str,
    req: &ProbeRequest,
    record: &mut RunRecord,
    interrupts: &mut Interrupts,
) -> Result<Prober, (Option<Prober>, ProbeError)> {
    // Dropping an unfinished placement deletes a prober pod it created (its guard does).
    let placed = tokio::select! {
        r = Prober::place(client, namespace, req) => r,
        Some(()) = interrupts.recv() => Err(ProbeError::Interrupted),
    };
    let mut prober = placed.map_err(|e| (None, e))?;
    record.probe = Some(prober.setup());
    let baseline = tokio::select! {
        r = prober.baseline() => r,
        Some(()) = interrupts.recv() => Err(ProbeError::Interrupted),
    };
    record.probe = Some(prober.setup());
    record.warnings.extend(prober.warnings());
    match baseline {
        Ok(results) => {
            if let Some(p) = record.probe.as_mut() {
                p.baseline = results;
            }
            Ok(prober)
        }
        Err(e) => Err((Some(prober), e)),
    }
}

/// Cleans the prober up and records what was done; `Err` says what may be left behind.
async fn cleanup(prober: &mut Prober, record: &mut RunRecord) -> Result<(), String> {
    let (done, result) = match prober.cleanup().await {
        Ok(done) => (done, Ok(())),
        Err(e) => {
            let why = format!("the probe could not be cleaned up: {e}");
            record.warnings.push(why.clone());
            (why.clone(), Err(why))
        }
    };
    let warnings = prober.warnings();
    let mut setup = prober.setup();
    setup.baseline = record.probe.as_ref().map(|p| p.baseline.clone()).unwrap_or(setup.baseline);
    setup.cleanup = Some(done);
    record.probe = Some(setup);
    for w in warnings {
        if !record.warnings.contains(&w) {
            record.warnings.push(w);
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn hops(
    client: &kube::Client,
    namespace: &str,
    args: &RunArgs,
    mut prober: Option<&mut Prober>,
    record: &mut RunRecord,
    new_ui: &mut dyn FnMut() -> Box<dyn ProgressSink>,
    on_hop: &mut dyn FnMut(&Hop, Option<&ProbeSetup>),
    interrupts: &mut Interrupts,
) -> Ended {
    let planned = planned_hops(args.repeat, args.round_trip);
    let mut origin: Option<String> = None;
    let mut back_by_selector: Option<bool> = None;
    for index in 1..=planned {
        if index > 1 {
            let settled = tokio::select! {
                r = wait_settled(client, namespace, &args.vm) => r,
                Some(()) = interrupts.recv() => return Ended::Failed(ExitCode::Interrupted, "interrupted between hops".into()),
            };
            if let Err(e) = settled {
                return Ended::Failed(e.exit_code(), chain_message(&e));
            }
        }
        let returning = args.round_trip && index % 2 == 0;
        let target_node = if returning {
            if back_by_selector.is_none() {
                back_by_selector = match cluster::kubevirt_version(client).await {
                    Ok(v) => Some(cluster::supports_added_node_selector(&v) == Some(true)),
                    Err(_) => Some(false),
                };
            }
            origin.clone().filter(|_| back_by_selector == Some(true))
        } else {
            args.target_node.clone()
        };
        let req = RunRequest {
            vm: args.vm.clone(),
            target_node,
            timeout: args.timeout,
            attach: args.attach && index == 1,
            dry_run_server: false,
            abort_on_timeout: !args.no_abort_on_timeout,
            skip_check: args.skip_check,
            ..Default::default()
        };
        let running = match prober.as_deref_mut() {
            Some(p) => match p.start().await {
                Ok(r) => Some(r),
                Err(e) => return Ended::Failed(e.exit_code(), chain_message(&e)),
            },
            None => None,
        };
        let mut ui = new_ui();
        let report = migrate_once(client, namespace, &req, ui.as_mut(), interrupts).await;
        drop(ui);
        let series = match running {
            Some(r) => r.stop(args.probe_args.probe_tail).await,
            None => Vec::new(),
        };
        let report = match report {
            Ok(r) => r,
            Err(e) => return Ended::Failed(e.exit_code(), chain_message(&e)),
        };
        let hop = hop_of(index, &report, series);
        if origin.is_none() {
            origin = hop.result.source_node.clone();
        }
        if returning && back_by_selector != Some(true) {
            let landed = hop.result.target_node.as_deref().unwrap_or("(unknown)");
            let origin = origin.as_deref().unwrap_or("(unknown)");
            let note = if landed == origin {
                format!(
                    "hop {index}: back on {origin} (the scheduler chose it: no addedNodeSelector before KubeVirt v1.6)"
                )
            } else {
                format!(
                    "hop {index}: landed on {landed}, not on the original node {origin} (the scheduler chose: no \
                     addedNodeSelector before KubeVirt v1.6)"
                )
            };
            record.warnings.push(note);
        }
        on_hop(&hop, record.probe.as_ref());
        let code = report.exit_code();
        record.hops.push(hop);
        if code != ExitCode::Success || index == planned {
            return Ended::Hops(code);
        }
    }
    Ended::Hops(ExitCode::Success)
}

/// One migration, with the command's Ctrl-C forwarded to it.
pub(crate) async fn migrate_once(
    client: &kube::Client,
    namespace: &str,
    req: &RunRequest,
    ui: &mut dyn ProgressSink,
    interrupts: &mut Interrupts,
) -> Result<RunReport, MigrateError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let forward = async {
        while interrupts.recv().await.is_some() {
            if tx.send(()).is_err() {
                break;
            }
        }
        std::future::pending::<Result<RunReport, MigrateError>>().await
    };
    tokio::select! {
        r = run_with_interrupts(client, namespace, req, ui, Interrupts::from_channel(rx)) => r,
        r = forward => r,
    }
}

/// The hop's record: its result, the probe's analysis on its timeline, the hypervisor pause.
fn hop_of(index: u32, report: &RunReport, series: Vec<(PlannedTarget, ProbeSeries)>) -> Hop {
    let timeline = measure::timeline(&report.result);
    let (hypervisor_downtime_ms, hypervisor_downtime_unavailable) = measure::hypervisor_downtime(&report.result);
    Hop {
        index,
        result: report.result.clone(),
        targets: measure::hop_targets(series, &timeline),
        hypervisor_downtime_ms,
        hypervisor_downtime_unavailable,
    }
}

/// Waits until the VM is settled: no migration of it in flight, and the VMI's `migrationState` (if any) completed
/// or failed. A migration is never created while another one might still be finishing.
async fn wait_settled(client: &kube::Client, namespace: &str, vm: &str) -> Result<(), MigrateError> {
    let vmims: Api<VirtualMachineInstanceMigration> = Api::namespaced(client.clone(), namespace);
    let vmis: Api<VirtualMachineInstance> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().labels(&format!("{LABEL_VMI_NAME}={vm}"));
    loop {
        let list = vmims.list(&lp).await.map_err(|e| MigrateError::api("listing migrations", e))?;
        let vmi = vmis.get_opt(vm).await.map_err(|e| MigrateError::api("reading the VMI", e))?;
        let state_done = vmi
            .as_ref()
            .and_then(|v| v.status.as_ref())
            .and_then(|s| s.migration_state.as_ref())
            .is_none_or(|m| m.completed || m.failed);
        if cluster::in_flight(&list.items).is_empty() && state_done {
            return Ok(());
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_bound_covers_the_migration_and_the_tail() {
        let tail = Duration::from_secs(5);
        // --timeout 10m: 600 + 60 abort grace + 5 tail + 60 slack.
        assert_eq!(probe_bound(Some(Duration::from_secs(600)), None, tail), Duration::from_secs(725));
        // haos: 750 s completion timeout, doubled, + 900 pending (the longer of KubeVirt's two) + 5 + 60.
        assert_eq!(probe_bound(None, Some(Duration::from_secs(750)), tail), Duration::from_secs(2465));
        // Unknown (--skip-check): one hour assumed.
        assert_eq!(probe_bound(None, None, tail), Duration::from_secs(7200 + 965));
        // Any duration the flags accept saturates instead of overflowing.
        assert_eq!(probe_bound(Some(Duration::MAX), None, tail), MAX_PROBE_BOUND);
        assert_eq!(probe_bound(None, Some(Duration::MAX), Duration::MAX), MAX_PROBE_BOUND);
        // Capped.
        assert_eq!(probe_bound(None, Some(Duration::from_secs(86_400)), tail), MAX_PROBE_BOUND);
    }

    #[test]
    fn hops_planned() {
        assert_eq!(planned_hops(1, false), 1);
        assert_eq!(planned_hops(5, false), 5);
        assert_eq!(planned_hops(1, true), 2);
        assert_eq!(planned_hops(3, true), 6);
        assert_eq!(planned_hops(0, false), 1);
    }
}
