//! What both sim benchmarks share: running the real plugin binary as a child process with its peak memory and CPU
//! time, and when the sim answered each request.
#![allow(dead_code)] // each bench uses a different subset

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vmmigrate_sim::api::audit::{AuditLog, AuditRecord};

/// One finished run of the plugin.
pub struct PluginRun {
    pub exit_code: Option<i32>,
    /// From spawn to reaping.
    pub wall: Duration,
    /// User + system CPU time of the child.
    pub cpu: Duration,
    /// Peak resident set size of the child, in KiB: its `VmHWM`, read every 5 ms while it runs (the last few ms
    /// before it exits are missed). Not `ru_maxrss`: Linux carries the parent's high-water mark into a child
    /// spawned with vfork/posix_spawn at its exec, so `ru_maxrss` would report the bench's own (the sim's) peak.
    pub max_rss_kib: u64,
    pub stdout: Vec<u8>,
    /// Each stderr line with the moment it was read.
    pub stderr_lines: Vec<(Instant, String)>,
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec.max(0) as u64) + Duration::from_micros(tv.tv_usec.max(0) as u64)
}

/// CPU time (user + system) of this process so far: the in-process sim's share of a run.
pub fn own_cpu() -> Duration {
    // SAFETY: getrusage only writes into the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return Duration::ZERO;
    }
    timeval(ru.ru_utime) + timeval(ru.ru_stime)
}

/// Runs `kubectl-vmmigrate ARGS` against `kubeconfig` (HOME in `home`, no colour, no RUST_LOG) to its end, in
/// the calling (blocking) thread; stdout and stderr are drained by their own threads.
#[allow(clippy::zombie_processes, reason = "reaped by libc::wait4, which also yields its rusage")]
pub fn run_plugin(home: &Path, kubeconfig: &Path, args: &[&str]) -> PluginRun {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-vmmigrate"));
    cmd.env("HOME", home).env("KUBECONFIG", kubeconfig).env_remove("RUST_LOG").env("NO_COLOR", "1").args(args);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn kubectl-vmmigrate");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_thread = std::thread::spawn(move || {
        BufReader::new(stderr).lines().map_while(Result::ok).map(|l| (Instant::now(), l)).collect::<Vec<_>>()
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 writes the status and the child's rusage into locals; the pid is our own child's.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let mut peak_kib = 0;
    loop {
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        assert!(reaped >= 0, "wait4 failed: {}", std::io::Error::last_os_error());
        if reaped == pid {
            break;
        }
        peak_kib = peak_kib.max(vm_hwm_kib(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(5));
    }
    let wall = start.elapsed();
    let exit_code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    PluginRun {
        exit_code,
        wall,
        cpu: timeval(ru.ru_utime) + timeval(ru.ru_stime),
        max_rss_kib: peak_kib,
        stdout: out_thread.join().expect("stdout reader"),
        stderr_lines: err_thread.join().expect("stderr reader"),
    }
}

/// `VmHWM` of a live process, in KiB.
fn vm_hwm_kib(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Notes when the sim answered each request: the audit log records a request (with its arrival time) once its
/// answer is built, so a thread polling the log's length every millisecond sees each answer to within ~1 ms.
pub struct AnswerClock {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<jiff::Timestamp>>,
}

impl AnswerClock {
    pub fn start(log: &AuditLog) -> Self {
        let log = log.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut answered = vec![jiff::Timestamp::now(); log.count()];
            while !flag.load(Ordering::Relaxed) {
                let n = log.count();
                if n > answered.len() {
                    answered.resize(n, jiff::Timestamp::now());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            answered
        });
        Self { stop, thread }
    }

    /// Time during which the sim was serving at least one of `records[from..]` (the union of the intervals from
    /// arrival to answer).
    pub fn serving_time(self, records: &[AuditRecord], from: usize) -> Duration {
        self.stop.store(true, Ordering::Relaxed);
        let answered = self.thread.join().expect("answer clock");
        let mut spans: Vec<(jiff::Timestamp, jiff::Timestamp)> = records
            .iter()
            .zip(&answered)
            .skip(from)
            .filter_map(|(r, done)| r.time.parse::<jiff::Timestamp>().ok().map(|t| (t, *done)))
            .collect();
        spans.sort();
        let mut total = Duration::ZERO;
        let mut current: Option<(jiff::Timestamp, jiff::Timestamp)> = None;
        for (a, b) in spans {
            current = match current {
                Some((s, e)) if a <= e => Some((s, e.max(b))),
                Some((s, e)) => {
                    total += span(s, e);
                    Some((a, b))
                }
                None => Some((a, b)),
            };
        }
        if let Some((s, e)) = current {
            total += span(s, e);
        }
        total
    }
}

fn span(a: jiff::Timestamp, b: jiff::Timestamp) -> Duration {
    Duration::try_from(b.duration_since(a)).unwrap_or(Duration::ZERO)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
