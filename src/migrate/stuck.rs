//! Stuck detection: when a phase lasts longer than it should, say why in the cluster's own words.
//!
//! Pure rules over (phase, time in phase, facts read from the cluster). The shell gathers the facts a rule asks
//! for ([`FactsQuery`]) once per phase, so a healthy migration costs no extra API request.
//!
//! What KubeVirt v1.5 does (reference: `pkg/virt-controller/watch/migration/migration.go`):
//! - a VMIM stays **Pending** without any condition while `parallelMigrationsPerCluster` (default 5) migrations
//!   are in Scheduling…Running, or `parallelOutboundMigrationsPerNode` (default 2) leave the source node, or the
//!   VMI still has more than one active pod, or the VMI is not Running; a quota rejection adds the condition
//!   `migrationRejectedByResourceQuota`;
//! - it stays **Scheduling** while the target virt-launcher pod is not running; an unschedulable target pod is
//!   deleted after 300 s (any other Pending reason after 900 s) and the migration fails;
//! - while **Running**, virt-launcher aborts after `progressTimeout` s (150) without a decrease of the remaining
//!   data, or after `completionTimeoutPerGiB` × guest memory in decimal GB rounded up (150 × 5 = 750 s for 4Gi).

use std::time::Duration;

use crate::kubevirt::{MigrationConfiguration, MigrationPhase};

use super::progress::ProgressView;

/// KubeVirt's defaults (`pkg/virt-config/virt-config.go`).
pub const DEFAULT_PARALLEL_PER_CLUSTER: u32 = 5;
pub const DEFAULT_PARALLEL_OUTBOUND_PER_NODE: u32 = 2;
pub const DEFAULT_PROGRESS_TIMEOUT_S: i64 = 150;
pub const DEFAULT_COMPLETION_TIMEOUT_PER_GIB_S: i64 = 150;
/// `defaultUnschedulablePendingTimeoutSeconds` in `migration.go`.
pub const UNSCHEDULABLE_TARGET_TIMEOUT_S: u64 = 300;
/// `defaultCatchAllPendingTimeoutSeconds` in `migration.go`.
pub const PENDING_TARGET_TIMEOUT_S: u64 = 900;

/// How long each phase may last (measured on this machine from when the phase was first seen) before the
/// follower looks for a reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StuckThresholds {
    pub pending: Duration,
    pub scheduling: Duration,
    /// Scheduled, PreparingTarget and TargetReady together are normally a few seconds.
    pub handoff: Duration,
}

impl Default for StuckThresholds {
    fn default() -> Self {
        Self { pending: Duration::from_secs(10), scheduling: Duration::from_secs(20), handoff: Duration::from_secs(30) }
    }
}

/// Facts the shell is asked to read from the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FactsQuery {
    /// Migration slots: the KubeVirt limits and the migrations in flight cluster-wide and from the source node.
    MigrationSlots,
    /// The target virt-launcher pod (label `kubevirt.io/migrationJobUID=<vmim uid>`).
    TargetPod,
    /// Warning events on the VMIM, for a failure without a `failureReason`.
    FailureEvents,
}

/// Facts read from the cluster, answering a [`FactsQuery`].
#[derive(Clone, Debug, PartialEq)]
pub enum Facts {
    MigrationSlots(MigrationSlots),
    /// `None`: no target pod exists.
    TargetPod(Option<TargetPodFacts>),
    /// Messages of the VMIM's events, oldest first.
    FailureEvents(Vec<String>),
    /// The facts could not be read (the error, in words).
    Unreadable(FactsQuery, String),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MigrationSlots {
    pub per_cluster_limit: u32,
    /// `namespace/name` of the VMIMs in Scheduling…Running, cluster-wide.
    pub in_flight_in_cluster: Vec<String>,
    pub per_node_limit: u32,
    pub source_node: Option<String>,
    /// `namespace/name` of the VMIMs in Scheduling…Running whose VMI runs on the source node.
    pub outbound_from_source_node: Vec<String>,
    pub vmi_phase: Option<String>,
    pub vmi_active_pods: usize,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetPodFacts {
    pub name: String,
    pub phase: Option<String>,
    pub node: Option<String>,
    /// Message of the `PodScheduled=False` condition (reason Unschedulable): the scheduler's own words.
    pub unschedulable: Option<String>,
    /// `reason: message` of a waiting `compute` container (image pull, …).
    pub waiting: Option<String>,
}

/// Which facts explain an overdue phase, if the phase is overdue, and the phase's threshold (the facts are read
/// again every threshold, at most once a second, while the phase lasts: the reason can change, e.g. a target pod
/// Pending becomes Unschedulable).
pub fn overdue(phase: MigrationPhase, in_phase: Duration, th: &StuckThresholds) -> Option<(FactsQuery, Duration)> {
    let (query, threshold) = match phase {
        MigrationPhase::Unset | MigrationPhase::Pending => (FactsQuery::MigrationSlots, th.pending),
        MigrationPhase::Scheduling => (FactsQuery::TargetPod, th.scheduling),
        MigrationPhase::Scheduled | MigrationPhase::PreparingTarget | MigrationPhase::TargetReady => {
            (FactsQuery::TargetPod, th.handoff)
        }
        _ => return None,
    };
    (in_phase >= threshold).then_some((query, threshold.max(Duration::from_secs(1))))
}

/// Why a VMIM is still Pending.
pub fn explain_pending(in_phase: Duration, s: &MigrationSlots) -> String {
    let waited = secs(in_phase);
    if s.in_flight_in_cluster.len() as u64 >= u64::from(s.per_cluster_limit) {
        return format!(
            "Pending for {waited}: waiting for a free migration slot — {} migrations are already in flight in the \
             cluster (parallelMigrationsPerCluster: {}): {}",
            s.in_flight_in_cluster.len(),
            s.per_cluster_limit,
            list(&s.in_flight_in_cluster)
        );
    }
    if s.outbound_from_source_node.len() as u64 >= u64::from(s.per_node_limit) {
        return format!(
            "Pending for {waited}: waiting for a free slot on the source node {} — {} outbound migrations are already \
             in flight (parallelOutboundMigrationsPerNode: {}): {}",
            s.source_node.as_deref().unwrap_or("?"),
            s.outbound_from_source_node.len(),
            s.per_node_limit,
            list(&s.outbound_from_source_node)
        );
    }
    if s.vmi_active_pods > 1 {
        return format!(
            "Pending for {waited}: the VMI still has {} active pods (a previous migration's virt-launcher pod is still \
             terminating); KubeVirt waits until only one is left",
            s.vmi_active_pods
        );
    }
    if let Some(p) = s.vmi_phase.as_deref().filter(|p| *p != "Running") {
        return format!(
            "Pending for {waited}: the VMI is in phase {p}; KubeVirt creates the target pod only for a Running VMI"
        );
    }
    format!(
        "Pending for {waited}: no migration limit is full ({} of {} in flight in the cluster, {} of {} from node {}) \
         and KubeVirt has not created the target pod yet; see the VMIM's events and the virt-controller log",
        s.in_flight_in_cluster.len(),
        s.per_cluster_limit,
        s.outbound_from_source_node.len(),
        s.per_node_limit,
        s.source_node.as_deref().unwrap_or("?")
    )
}

/// Why the target pod is not running yet.
pub fn explain_target_pod(phase: MigrationPhase, in_phase: Duration, pod: Option<&TargetPodFacts>) -> String {
    let waited = secs(in_phase);
    let Some(pod) = pod else {
        return format!("{phase} for {waited}: no target virt-launcher pod exists for this migration");
    };
    if let Some(msg) = &pod.unschedulable {
        return format!(
            "{phase} for {waited}: the target pod {} cannot be scheduled: {msg} (KubeVirt fails the migration after \
             the target pod has been unschedulable for {UNSCHEDULABLE_TARGET_TIMEOUT_S} s)",
            pod.name
        );
    }
    if let Some(w) = &pod.waiting {
        return format!("{phase} for {waited}: the target pod {} is waiting: {w}", pod.name);
    }
    format!(
        "{phase} for {waited}: the target pod {} is {}{} (KubeVirt fails the migration after the target pod has been \
         pending for {PENDING_TARGET_TIMEOUT_S} s)",
        pod.name,
        pod.phase.as_deref().unwrap_or("in no phase yet"),
        pod.node.as_deref().map(|n| format!(" on node {n}")).unwrap_or_default()
    )
}

/// A warning while Running: which one (to say each once) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunningWarning {
    pub kind: RunningWarningKind,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunningWarningKind {
    ProgressTimeout,
    CompletionTimeout,
    DirtyRate,
}

/// Warnings from the latest progress sample: the progress timeout or the completion timeout approaching, the
/// guest dirtying memory faster than it is sent. `guest_memory_bytes` sizes the completion timeout.
pub fn running_warnings(
    view: &ProgressView,
    config: Option<&MigrationConfiguration>,
    guest_memory_bytes: Option<u64>,
) -> Vec<RunningWarning> {
    let mut out = Vec::new();
    let progress_timeout = config.and_then(|c| c.progress_timeout).unwrap_or(DEFAULT_PROGRESS_TIMEOUT_S).max(1);
    if let Some(stalled) = view.seconds_without_progress
        && stalled as i64 * 2 >= progress_timeout
    {
        out.push(RunningWarning {
            kind: RunningWarningKind::ProgressTimeout,
            text: format!(
                "no progress for {stalled} s (the remaining data has not decreased); KubeVirt aborts the migration \
                 after {progress_timeout} s without progress (progressTimeout)"
            ),
        });
    }
    let size = guest_memory_bytes.or(view.sample.memory_total_bytes).or(view.sample.data_total_bytes);
    if let (Some(size), Some(elapsed_ms)) = (size, view.sample.elapsed_ms) {
        out.extend(completion_warning(elapsed_ms / 1000, config, size));
    }
    if let (Some(dirty), Some(rate), Some(iteration)) =
        (view.sample.dirty_rate_bytes_per_second, view.sample.memory_bandwidth_bytes_per_second, view.sample.iteration)
        && iteration >= 3
        && dirty >= rate
        && rate > 0
    {
        out.push(RunningWarning {
            kind: RunningWarningKind::DirtyRate,
            text: format!(
                "the guest dirties memory ({}/s) at least as fast as it is sent ({}/s): pre-copy cannot converge \
                 without auto-converge or post-copy",
                super::progress::bytes(dirty),
                super::progress::bytes(rate)
            ),
        });
    }
    out
}

/// The completion timeout approaching: `elapsed_s` of the libvirt job against `completionTimeoutPerGiB` × the
/// migrated data in decimal GB rounded up (KubeVirt's `acceptableCompletionTime`); from 75 % on.
pub fn completion_warning(
    elapsed_s: u64,
    config: Option<&MigrationConfiguration>,
    data_bytes: u64,
) -> Option<RunningWarning> {
    let per_gib =
        config.and_then(|c| c.completion_timeout_per_gi_b).unwrap_or(DEFAULT_COMPLETION_TIMEOUT_PER_GIB_S).max(1);
    let gb = data_bytes.div_ceil(1_000_000_000).max(1);
    let acceptable = per_gib.saturating_mul(gb as i64);
    let elapsed = elapsed_s as i64;
    (elapsed.saturating_mul(4) >= acceptable.saturating_mul(3)).then(|| RunningWarning {
        kind: RunningWarningKind::CompletionTimeout,
        text: format!(
            "running for {elapsed} s of the {acceptable} s completion timeout ({per_gib} s per GiB × {gb} GB); \
             KubeVirt aborts the migration then unless post-copy or pausing the guest is allowed"
        ),
    })
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs())
}

fn list(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = items.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::progress::{ProgressSample, ProgressView};

    fn slots() -> MigrationSlots {
        MigrationSlots {
            per_cluster_limit: 2,
            in_flight_in_cluster: vec!["a/vmim-1".into()],
            per_node_limit: 2,
            source_node: Some("the-toy-factory".into()),
            outbound_from_source_node: vec![],
            vmi_phase: Some("Running".into()),
            vmi_active_pods: 1,
        }
    }

    #[test]
    fn overdue_rules() {
        let th = StuckThresholds::default();
        assert_eq!(overdue(MigrationPhase::Pending, Duration::from_secs(9), &th), None);
        let secs = Duration::from_secs;
        assert_eq!(overdue(MigrationPhase::Pending, secs(10), &th), Some((FactsQuery::MigrationSlots, secs(10))));
        assert_eq!(overdue(MigrationPhase::Scheduling, secs(25), &th), Some((FactsQuery::TargetPod, secs(20))));
        assert_eq!(overdue(MigrationPhase::TargetReady, secs(31), &th), Some((FactsQuery::TargetPod, secs(30))));
        let zero = StuckThresholds { pending: Duration::ZERO, ..th.clone() };
        assert_eq!(
            overdue(MigrationPhase::Pending, Duration::ZERO, &zero),
            Some((FactsQuery::MigrationSlots, secs(1)))
        );
        assert_eq!(overdue(MigrationPhase::Running, Duration::from_secs(3600), &th), None);
    }

    #[test]
    fn pending_behind_the_cluster_limit_names_the_migrations() {
        let mut s = slots();
        s.in_flight_in_cluster.push("b/vmim-2".into());
        let text = explain_pending(Duration::from_secs(12), &s);
        assert!(text.contains("2 migrations are already in flight"), "{text}");
        assert!(text.contains("parallelMigrationsPerCluster: 2"), "{text}");
        assert!(text.contains("a/vmim-1, b/vmim-2"), "{text}");
    }

    #[test]
    fn pending_behind_the_node_limit_and_other_causes() {
        let mut s = slots();
        s.per_cluster_limit = 5;
        s.outbound_from_source_node = vec!["a/x".into(), "a/y".into()];
        assert!(explain_pending(Duration::from_secs(12), &s).contains("source node the-toy-factory"));
        s.outbound_from_source_node.clear();
        s.vmi_active_pods = 2;
        assert!(explain_pending(Duration::from_secs(12), &s).contains("2 active pods"));
        s.vmi_active_pods = 1;
        s.vmi_phase = Some("Scheduling".into());
        assert!(explain_pending(Duration::from_secs(12), &s).contains("phase Scheduling"));
        s.vmi_phase = Some("Running".into());
        assert!(explain_pending(Duration::from_secs(12), &s).contains("no migration limit is full"));
    }

    #[test]
    fn unschedulable_target_pod_quotes_the_scheduler() {
        let pod = TargetPodFacts {
            name: "virt-launcher-vm-instance-haos-abcde".into(),
            phase: Some("Pending".into()),
            unschedulable: Some("0/4 nodes are available: 1 node(s) were unschedulable.".into()),
            ..Default::default()
        };
        let text = explain_target_pod(MigrationPhase::Scheduling, Duration::from_secs(21), Some(&pod));
        assert!(text.starts_with("Scheduling for 21 s: the target pod virt-launcher-vm-instance-haos-abcde cannot"));
        assert!(text.contains("0/4 nodes are available"), "{text}");
        assert!(text.contains("300 s"), "{text}");
        assert!(explain_target_pod(MigrationPhase::Scheduling, Duration::from_secs(21), None).contains("no target"));
    }

    fn view(elapsed_s: u64, stalled: u64, iteration: u64) -> ProgressView {
        ProgressView {
            sample: ProgressSample {
                elapsed_ms: Some(elapsed_s * 1000),
                memory_total_bytes: Some(4096 * 1024 * 1024),
                memory_bandwidth_bytes_per_second: Some(10_000_000),
                dirty_rate_bytes_per_second: Some(20_000_000),
                iteration: Some(iteration),
                ..Default::default()
            },
            remaining_grew_from: None,
            seconds_without_progress: Some(stalled),
        }
    }

    #[test]
    fn running_warnings_follow_the_kubevirt_timeouts() {
        assert!(running_warnings(&view(10, 10, 1), None, None).is_empty());
        let w = running_warnings(&view(600, 80, 4), None, Some(4 * 1024 * 1024 * 1024));
        let kinds: Vec<_> = w.iter().map(|w| w.kind).collect();
        assert_eq!(
            kinds,
            [RunningWarningKind::ProgressTimeout, RunningWarningKind::CompletionTimeout, RunningWarningKind::DirtyRate]
        );
        assert!(w[0].text.contains("no progress for 80 s"), "{}", w[0].text);
        assert!(w[1].text.contains("600 s of the 750 s completion timeout"), "{}", w[1].text);
        let cfg = MigrationConfiguration { progress_timeout: Some(400), ..Default::default() };
        assert!(running_warnings(&view(10, 150, 1), Some(&cfg), None).is_empty());
    }
}
