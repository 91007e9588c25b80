//! The pre-copy memory-transfer model behind libvirt's job info (what `virsh domjobinfo` and virt-launcher's
//! `Migration info for ...` log line show).
//!
//! QEMU sends guest memory in passes. The first pass scans all of it (zero pages cost almost nothing, used pages
//! cost their size); meanwhile the guest dirties pages, which the next dirty-bitmap sync turns into the next pass.
//! Remaining data only decreases inside a pass and can grow again at a sync. Once a pass's data can be sent within
//! the downtime limit, QEMU pauses the guest and sends it: that is the switchover.

use super::behaviour::MemoryModel;

const MIB: f64 = 1024.0 * 1024.0;
/// 4 KiB pages per MiB.
const PAGES_PER_MIB: f64 = 256.0;

/// libvirt's job statistics at one instant (sizes in MiB, rates in MiB/s).
#[derive(Clone, Debug, PartialEq)]
pub struct JobInfo {
    pub time_elapsed_ms: u64,
    pub data_processed_mib: f64,
    pub data_remaining_mib: f64,
    pub data_total_mib: f64,
    pub bandwidth_mib_s: f64,
    pub dirty_rate_mib_s: f64,
    pub iteration: u32,
    pub constant_pages: u64,
    pub normal_pages: u64,
    pub normal_data_mib: f64,
    pub expected_downtime_ms: u64,
}

impl JobInfo {
    /// virt-launcher's `logMigrationInfo` message (MiB truncated, rates as bytes*8/1e6 Mbps).
    pub fn log_message(&self, migration_uid: &str) -> String {
        let mib = |v: f64| v.max(0.0).floor() as u64;
        let mbps = |v: f64| (v.max(0.0) * MIB * 8.0 / 1_000_000.0).floor() as u64;
        format!(
            "Migration info for {migration_uid}: TimeElapsed:{}ms DataProcessed:{}MiB DataRemaining:{}MiB DataTotal:{}MiB \
             MemoryProcessed:{}MiB MemoryRemaining:{}MiB MemoryTotal:{}MiB MemoryBandwidth:{}Mbps DirtyRate:{}Mbps \
             Iteration:{} PostcopyRequests:0 ConstantPages:{} NormalPages:{} NormalData:{}MiB ExpectedDowntime:{}ms \
             DiskMbps:0",
            self.time_elapsed_ms,
            mib(self.data_processed_mib),
            mib(self.data_remaining_mib),
            mib(self.data_total_mib),
            mib(self.data_processed_mib),
            mib(self.data_remaining_mib),
            mib(self.data_total_mib),
            mbps(self.bandwidth_mib_s),
            mbps(self.dirty_rate_mib_s),
            self.iteration,
            self.constant_pages,
            self.normal_pages,
            mib(self.normal_data_mib),
            self.expected_downtime_ms,
        )
    }
}

/// One pre-copy migration in progress.
#[derive(Clone, Debug)]
pub struct PreCopy {
    total_mib: f64,
    used_mib: f64,
    used_fraction: f64,
    bandwidth: f64,
    dirty_rate: f64,
    max_downtime_ms: u64,
    elapsed_s: f64,
    iteration: u32,
    /// Memory still to scan in the current pass.
    pass_remaining: f64,
    /// Cost (transferred MiB) per scanned MiB in the current pass.
    pass_cost: f64,
    dirtied: f64,
    processed: f64,
    constant_pages: f64,
    normal_pages: f64,
    expected_downtime_ms: u64,
    switchover_downtime_ms: Option<u64>,
}

impl PreCopy {
    /// A migration of `total_bytes` of guest memory; `bandwidth_limit_mib_s` > 0 caps the model's bandwidth
    /// (`bandwidthPerMigration`).
    pub fn new(total_bytes: f64, model: &MemoryModel, bandwidth_limit_mib_s: f64) -> Self {
        let total_mib = (total_bytes / MIB).max(1.0);
        let used_fraction = model.used_fraction.clamp(0.0, 1.0);
        let mut bandwidth = model.bandwidth_mib_s.max(0.0);
        if bandwidth_limit_mib_s > 0.0 {
            bandwidth = bandwidth.min(bandwidth_limit_mib_s);
        }
        Self {
            total_mib,
            used_mib: total_mib * used_fraction,
            used_fraction,
            bandwidth,
            dirty_rate: model.dirty_rate_mib_s.max(0.0),
            max_downtime_ms: model.max_downtime_ms,
            elapsed_s: 0.0,
            iteration: 1,
            pass_remaining: total_mib,
            pass_cost: used_fraction.max(0.001),
            dirtied: 0.0,
            processed: 0.0,
            constant_pages: 0.0,
            normal_pages: 0.0,
            expected_downtime_ms: model.max_downtime_ms,
            switchover_downtime_ms: None,
        }
    }

    /// Stops (or resumes) the transfer: a stalled migration makes no progress.
    pub fn set_stalled(&mut self, stalled: bool, model: &MemoryModel) {
        self.bandwidth = if stalled { 0.0 } else { model.bandwidth_mib_s.max(0.0) };
    }

    /// The guest is paused (KubeVirt's `Paused` mode): it stops dirtying memory.
    pub fn pause_guest(&mut self) {
        self.dirty_rate = 0.0;
    }

    pub fn elapsed_s(&self) -> f64 {
        self.elapsed_s
    }

    /// The guest pause of the switchover, once the migration converged.
    pub fn switchover_downtime_ms(&self) -> Option<u64> {
        self.switchover_downtime_ms
    }

    /// Remaining data as libvirt reports it.
    pub fn remaining_mib(&self) -> f64 {
        self.pass_remaining
    }

    /// Switches to post-copy: the guest runs on the target from now on and the rest is pulled on demand.
    pub fn start_post_copy(&mut self) {
        if self.switchover_downtime_ms.is_none() {
            // Only the CPU and device state travel while the guest is paused.
            self.switchover_downtime_ms = Some(self.max_downtime_ms.min(50));
        }
    }

    /// Advances the model by `dt` seconds.
    pub fn step(&mut self, dt: f64) {
        if self.switchover_downtime_ms.is_some() || dt <= 0.0 {
            return;
        }
        self.elapsed_s += dt;
        self.dirtied = (self.dirtied + self.dirty_rate * dt).min(self.used_mib);
        let mut budget = self.bandwidth * dt;
        while budget > 0.0 {
            let scan = self.pass_remaining.min(budget / self.pass_cost);
            self.pass_remaining -= scan;
            budget -= scan * self.pass_cost;
            self.processed += scan * self.pass_cost;
            self.normal_pages += scan * self.pass_cost * PAGES_PER_MIB;
            self.constant_pages += scan * (1.0 - self.pass_cost).max(0.0) * PAGES_PER_MIB;
            if self.pass_remaining > 1e-9 {
                break;
            }
            self.sync();
            if self.switchover_downtime_ms.is_some() {
                break;
            }
        }
    }

    /// The dirty-bitmap sync at the end of a pass, and QEMU's convergence test.
    fn sync(&mut self) {
        self.iteration += 1;
        self.pass_remaining = self.dirtied;
        self.dirtied = 0.0;
        self.pass_cost = 1.0;
        let downtime_ms = if self.bandwidth > 0.0 { self.pass_remaining / self.bandwidth * 1000.0 } else { f64::MAX };
        self.expected_downtime_ms = downtime_ms.min(u64::MAX as f64 / 2.0).round() as u64;
        if downtime_ms <= self.max_downtime_ms as f64 {
            self.processed += self.pass_remaining;
            self.normal_pages += self.pass_remaining * PAGES_PER_MIB;
            self.pass_remaining = 0.0;
            self.switchover_downtime_ms = Some(self.expected_downtime_ms);
        }
    }

    /// The job statistics now.
    pub fn info(&self) -> JobInfo {
        JobInfo {
            time_elapsed_ms: (self.elapsed_s * 1000.0).round() as u64,
            data_processed_mib: self.processed,
            data_remaining_mib: self.pass_remaining,
            data_total_mib: self.total_mib,
            bandwidth_mib_s: self.bandwidth,
            dirty_rate_mib_s: self.dirty_rate,
            iteration: self.iteration,
            constant_pages: self.constant_pages.floor() as u64,
            normal_pages: self.normal_pages.floor() as u64,
            normal_data_mib: self.normal_pages / PAGES_PER_MIB,
            expected_downtime_ms: self.expected_downtime_ms,
        }
    }

    /// Share of the guest memory in use.
    pub fn used_fraction(&self) -> f64 {
        self.used_fraction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GI4: f64 = 4.0 * 1024.0 * MIB;

    fn run(p: &mut PreCopy, seconds: f64) -> Vec<JobInfo> {
        let mut out = Vec::new();
        let steps = (seconds / 0.4).round() as usize;
        for _ in 0..steps {
            p.step(0.4);
            out.push(p.info());
            if p.switchover_downtime_ms().is_some() {
                break;
            }
        }
        out
    }

    #[test]
    fn default_model_converges_with_a_short_pause() {
        let m = MemoryModel::default();
        let mut p = PreCopy::new(GI4, &m, 0.0);
        let infos = run(&mut p, 60.0);
        let d = p.switchover_downtime_ms().expect("converges");
        assert!(d <= m.max_downtime_ms, "{d}");
        let last = infos.last().unwrap();
        assert_eq!(last.data_remaining_mib, 0.0);
        assert!(last.iteration >= 2);
        assert!(last.constant_pages > 0 && last.normal_pages > 0);
        // Data actually sent is about the used memory plus what was dirtied.
        assert!(last.data_processed_mib >= 1024.0 && last.data_processed_mib < 4096.0, "{}", last.data_processed_mib);
        // The first pass takes about used/bandwidth = 1 s.
        assert!(p.elapsed_s() >= 0.8 && p.elapsed_s() < 3.0, "{}", p.elapsed_s());
    }

    #[test]
    fn remaining_grows_again_at_a_new_pass() {
        let m =
            MemoryModel { bandwidth_mib_s: 100.0, dirty_rate_mib_s: 60.0, used_fraction: 0.5, max_downtime_ms: 300 };
        let mut p = PreCopy::new(GI4, &m, 0.0);
        let infos = run(&mut p, 600.0);
        let grew = infos.windows(2).any(|w| w[1].data_remaining_mib > w[0].data_remaining_mib);
        assert!(grew, "a sync should bring remaining data back");
        assert!(p.switchover_downtime_ms().is_some(), "dirty < bandwidth converges eventually");
    }

    #[test]
    fn dirty_rate_at_bandwidth_never_converges() {
        let m =
            MemoryModel { bandwidth_mib_s: 100.0, dirty_rate_mib_s: 100.0, used_fraction: 0.5, max_downtime_ms: 300 };
        let mut p = PreCopy::new(GI4, &m, 0.0);
        run(&mut p, 2000.0);
        assert_eq!(p.switchover_downtime_ms(), None);
        assert!(p.remaining_mib() > 0.0);
    }

    #[test]
    fn bandwidth_limit_and_stall() {
        let m = MemoryModel::default();
        let mut p = PreCopy::new(GI4, &m, 64.0);
        p.step(1.0);
        assert!((p.info().data_processed_mib - 64.0).abs() < 1e-6);
        p.set_stalled(true, &m);
        let before = p.info().data_processed_mib;
        p.step(10.0);
        assert_eq!(p.info().data_processed_mib, before);
    }

    #[test]
    fn log_message_has_kubevirts_shape() {
        let m = MemoryModel::default();
        let mut p = PreCopy::new(GI4, &m, 0.0);
        p.step(0.4);
        let line = p.info().log_message("uid-1");
        assert!(line.starts_with("Migration info for uid-1: TimeElapsed:400ms DataProcessed:409MiB "), "{line}");
        assert!(
            line.contains(" MemoryTotal:4096MiB MemoryBandwidth:8589Mbps DirtyRate:335Mbps Iteration:1 "),
            "{line}"
        );
        assert!(line.ends_with(" ExpectedDowntime:300ms DiskMbps:0"), "{line}");
    }
}
