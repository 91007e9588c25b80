//! The commands the probe runs inside the prober container, as argv vectors (never one shell string).
//!
//! - [`ping_argv`]: iputils or BusyBox ping, bounded by its own `-w` deadline.
//! - [`http_probe_argv`]: a fixed `sh -c` script (see `http_probe.sh`) looping curl; the URL and the numbers are
//!   positional arguments (`"$1"`…), never part of the script text.
//! - [`tool_check_argv`] and [`ToolReport::parse`]: which tools the container has, and which ping it is.
//!
//! Every probe is bounded in time by itself (ping `-w`, the script's deadline and curl `--max-time`), so it ends on
//! its own even if the plugin that started it is gone; [`PingOptions::bound`] and [`HttpProbeOptions::bound`] give
//! the longest it can run, for the caller's own timeout.
//!
//! Interval limits: recent iputils (iputils #367; verified with 20221126) lets a user without `CAP_NET_ADMIN` go down
//! to 2 ms (`ping: cannot flood; minimal interval allowed for user is 2ms`, captured in `testdata/ping`); older
//! iputils required 200 ms for non-root, and s20190709 had locale bugs parsing `-i` (iputils #273; the interval is
//! always written here in the C form `0.02`). The prober container runs ping with `NET_RAW` (or ping's file
//! capability `cap_net_raw`, as Debian installs it); BusyBox ping needs a raw socket (`ping: permission denied (are
//! you root?)` otherwise, also captured). The smallest interval accepted here is therefore 2 ms. BusyBox ping accepts
//! a fractional `-i` (checked with v1.35.0). Both iputils and BusyBox ping flush every line to a pipe, so the caller
//! can stamp lines as they arrive (BusyBox has no `-D`).

use std::time::Duration;

use serde::Serialize;

use super::ping::MAX_SAMPLES;
use super::target::{Host, HttpUrl};

/// The HTTP probe script, run as `sh -c SCRIPT sh URL INTERVAL_S DEADLINE_S MAX_TIME_S`.
pub const HTTP_PROBE_SCRIPT: &str = include_str!("http_probe.sh");

/// The tool-presence check script, run as `sh -c SCRIPT` (it takes no arguments). Lines it prints:
/// `vmmprobe-tool NAME PATH|-`, `vmmprobe-ping-version LINE` (every line of `ping -V`), `vmmprobe-date S.N`,
/// `vmmprobe-uid N`.
pub const TOOL_CHECK_SCRIPT: &str = r#"for t in ping curl busybox date sleep; do
  if p=$(command -v "$t" 2>/dev/null); then echo "vmmprobe-tool $t $p"; else echo "vmmprobe-tool $t -"; fi
done
if command -v ping >/dev/null 2>&1; then
  ping -V 2>&1 | while read -r l; do echo "vmmprobe-ping-version $l"; done
fi
echo "vmmprobe-date $(date +%s.%N 2>/dev/null)"
echo "vmmprobe-uid $(id -u 2>/dev/null)"
"#;

/// Smallest probe interval accepted (iputils' non-root minimum).
pub const MIN_INTERVAL: Duration = Duration::from_millis(2);
/// Largest probe interval accepted.
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// Longest probe run accepted.
pub const MAX_DEADLINE: Duration = Duration::from_secs(24 * 3600);
/// Seconds ping waits for a reply (`-W`); with `-w` it only matters for the last requests.
const REPLY_WAIT_S: u64 = 1;

/// Which ping implementation the container has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PingFlavour {
    /// iputils ping: `-D` receive timestamps and `-O` outstanding-reply reports.
    Iputils,
    /// BusyBox ping (with `FEATURE_FANCY_PING`): no timestamps, the caller stamps lines as they arrive.
    BusyBox,
}

/// A probe option out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The interval is outside [`MIN_INTERVAL`, `MAX_INTERVAL`].
    #[error("probe interval {0:?} is out of range (2ms to 60s)")]
    Interval(Duration),
    /// The deadline is zero or longer than [`MAX_DEADLINE`].
    #[error("probe duration {0:?} is out of range (1s to 24h)")]
    Deadline(Duration),
    /// The HTTP request timeout is outside 10 ms to 60 s.
    #[error("HTTP request timeout {0:?} is out of range (10ms to 60s)")]
    MaxTime(Duration),
    /// The run would send more requests than the parser keeps ([`MAX_SAMPLES`]).
    #[error("a {deadline:?} probe every {interval:?} sends more than {MAX_SAMPLES} requests; use a longer interval")]
    TooManySamples {
        /// The interval asked for.
        interval: Duration,
        /// The duration asked for.
        deadline: Duration,
    },
}

/// How a ping probe runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingOptions {
    /// Time between echo requests (`-i`).
    pub interval: Duration,
    /// How long ping runs before it exits by itself (`-w`, rounded up to whole seconds).
    pub deadline: Duration,
}

impl PingOptions {
    /// The longest the ping process can live: its deadline plus the reply wait plus a second of slack.
    pub fn bound(&self) -> Duration {
        Duration::from_secs(whole_seconds(self.deadline) + REPLY_WAIT_S + 1)
    }

    fn check(&self) -> Result<(), CommandError> {
        check_interval(self.interval)?;
        check_deadline(self.deadline, self.interval)
    }
}

/// How the HTTP probe runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpProbeOptions {
    /// Pause between the end of one request and the start of the next.
    pub interval: Duration,
    /// No request starts after this (rounded up to whole seconds).
    pub deadline: Duration,
    /// Each request is cut after this (curl `--max-time`); it bounds how late a recovery can be seen.
    pub max_time: Duration,
}

impl HttpProbeOptions {
    /// The longest the script can live: deadline + one request + one pause + a second of slack.
    pub fn bound(&self) -> Duration {
        Duration::from_secs(whole_seconds(self.deadline) + 1) + self.max_time + self.interval
    }

    fn check(&self) -> Result<(), CommandError> {
        check_interval(self.interval)?;
        check_deadline(self.deadline, self.interval)?;
        if self.max_time < Duration::from_millis(10) || self.max_time > MAX_INTERVAL {
            return Err(CommandError::MaxTime(self.max_time));
        }
        Ok(())
    }
}

/// The ping command line for `flavour`, with the target as its own last element.
///
/// iputils: `ping -D -O -n -i I -W 1 -w D TARGET`; BusyBox: `ping -i I -W 1 -w D TARGET` (BusyBox has no `-D`, `-O`
/// or `-n`; checked against BusyBox v1.35.0's `ping --help`).
pub fn ping_argv(flavour: PingFlavour, target: &Host, options: &PingOptions) -> Result<Vec<String>, CommandError> {
    options.check()?;
    let mut argv: Vec<String> = vec!["ping".into()];
    if flavour == PingFlavour::Iputils {
        argv.extend(["-D", "-O", "-n"].map(String::from));
    }
    argv.extend([
        "-i".into(),
        seconds(options.interval),
        "-W".into(),
        REPLY_WAIT_S.to_string(),
        "-w".into(),
        whole_seconds(options.deadline).to_string(),
        target.to_string(),
    ]);
    Ok(argv)
}

/// The HTTP probe command line: `sh -c HTTP_PROBE_SCRIPT sh URL INTERVAL DEADLINE MAX_TIME`.
pub fn http_probe_argv(url: &HttpUrl, options: &HttpProbeOptions) -> Result<Vec<String>, CommandError> {
    options.check()?;
    Ok(vec![
        "sh".into(),
        "-c".into(),
        HTTP_PROBE_SCRIPT.into(),
        "sh".into(),
        url.url.clone(),
        seconds(options.interval),
        whole_seconds(options.deadline).to_string(),
        seconds(options.max_time),
    ])
}

/// The tool-presence check command line: `sh -c TOOL_CHECK_SCRIPT`.
pub fn tool_check_argv() -> Vec<String> {
    vec!["sh".into(), "-c".into(), TOOL_CHECK_SCRIPT.into()]
}

/// What the tool check found in the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolReport {
    /// Path of `ping`, if present.
    pub ping: Option<String>,
    /// The ping implementation, if it could be told from `ping -V`.
    pub ping_flavour: Option<PingFlavour>,
    /// The first line of `ping -V` naming a version, if any.
    pub ping_version: Option<String>,
    /// Path of `curl`, if present.
    pub curl: Option<String>,
    /// Path of `busybox`, if present.
    pub busybox: Option<String>,
    /// Whether `sleep` is present (the HTTP probe needs it).
    pub sleep: bool,
    /// Whether `date +%s.%N` gives sub-second times (BusyBox builds without `FEATURE_DATE_NANO` print `%N`).
    pub date_subsecond: bool,
    /// The user id the probe runs as.
    pub uid: Option<u32>,
}

impl ToolReport {
    /// Parses the output of [`tool_check_argv`]; unknown lines are ignored, so it never fails.
    pub fn parse(output: &str) -> ToolReport {
        let mut report = ToolReport::default();
        for line in output.lines() {
            let mut words = line.trim_end().splitn(2, ' ');
            let (key, rest) = (words.next().unwrap_or(""), words.next().unwrap_or("").trim());
            match key {
                "vmmprobe-tool" => {
                    let (name, path) = rest.split_once(' ').unwrap_or((rest, "-"));
                    let path = (path != "-" && !path.is_empty()).then(|| path.to_string());
                    match name {
                        "ping" => report.ping = path,
                        "curl" => report.curl = path,
                        "busybox" => report.busybox = path,
                        "sleep" => report.sleep = path.is_some(),
                        _ => {}
                    }
                }
                "vmmprobe-ping-version" => {
                    let flavour = if rest.contains("iputils") {
                        Some(PingFlavour::Iputils)
                    } else if rest.contains("BusyBox") {
                        Some(PingFlavour::BusyBox)
                    } else {
                        None
                    };
                    if flavour.is_some() && report.ping_flavour.is_none() {
                        report.ping_flavour = flavour;
                        report.ping_version = Some(rest.to_string());
                    }
                }
                "vmmprobe-date" => {
                    report.date_subsecond =
                        rest.split_once('.').is_some_and(|(s, n)| is_digits(s) && is_digits(n) && n.len() >= 3);
                }
                "vmmprobe-uid" => report.uid = rest.parse().ok(),
                _ => {}
            }
        }
        report
    }

    /// Why a ping probe cannot run here, if it cannot.
    pub fn ping_problem(&self) -> Option<String> {
        match (&self.ping, self.ping_flavour) {
            (None, _) => Some("the probe container has no ping".into()),
            (Some(p), None) => Some(format!("{p} is neither iputils nor BusyBox ping (ping -V did not say)")),
            _ => None,
        }
    }

    /// Why an HTTP probe cannot run here, if it cannot.
    pub fn http_problem(&self) -> Option<String> {
        if self.curl.is_none() {
            Some("the probe container has no curl".into())
        } else if !self.sleep {
            Some("the probe container has no sleep".into())
        } else {
            None
        }
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn check_interval(interval: Duration) -> Result<(), CommandError> {
    if interval < MIN_INTERVAL || interval > MAX_INTERVAL {
        return Err(CommandError::Interval(interval));
    }
    Ok(())
}

/// The deadline is in range and, at `interval`, sends no more than [`MAX_SAMPLES`] requests.
fn check_deadline(deadline: Duration, interval: Duration) -> Result<(), CommandError> {
    if deadline.is_zero() || deadline > MAX_DEADLINE {
        return Err(CommandError::Deadline(deadline));
    }
    if deadline.as_micros() / interval.as_micros().max(1) > u128::from(MAX_SAMPLES) {
        return Err(CommandError::TooManySamples { interval, deadline });
    }
    Ok(())
}

/// Whole seconds, rounded up.
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Seconds with at most millisecond precision and no trailing zeros, in the C locale form (`0.02`, `1`, `1.5`).
fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    let (s, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        return s.to_string();
    }
    let text = format!("{s}.{frac:03}");
    text.trim_end_matches('0').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn iputils_argv_has_timestamps_outstanding_and_target_last() {
        let host: Host = "10.213.9.2".parse().unwrap();
        let argv =
            ping_argv(PingFlavour::Iputils, &host, &PingOptions { interval: ms(20), deadline: ms(4000) }).unwrap();
        assert_eq!(argv, ["ping", "-D", "-O", "-n", "-i", "0.02", "-W", "1", "-w", "4", "10.213.9.2"]);
    }

    #[test]
    fn busybox_argv_has_only_busybox_options() {
        let host: Host = "fd00::1".parse().unwrap();
        let argv =
            ping_argv(PingFlavour::BusyBox, &host, &PingOptions { interval: ms(1500), deadline: ms(2500) }).unwrap();
        assert_eq!(argv, ["ping", "-i", "1.5", "-W", "1", "-w", "3", "fd00::1"]);
    }

    #[test]
    fn out_of_range_options_are_refused() {
        let host: Host = "vm".parse().unwrap();
        let bad = |interval, deadline| ping_argv(PingFlavour::Iputils, &host, &PingOptions { interval, deadline });
        assert_eq!(bad(ms(1), ms(1000)), Err(CommandError::Interval(ms(1))));
        assert_eq!(bad(ms(61_000), ms(1000)), Err(CommandError::Interval(ms(61_000))));
        assert_eq!(bad(ms(10), ms(0)), Err(CommandError::Deadline(ms(0))));
        assert!(bad(ms(10), Duration::from_secs(90_000)).is_err());
        assert_eq!(
            bad(ms(2), Duration::from_secs(24 * 3600)),
            Err(CommandError::TooManySamples { interval: ms(2), deadline: Duration::from_secs(24 * 3600) })
        );
        assert!(bad(ms(50), Duration::from_secs(24 * 3600)).is_ok());
    }

    #[test]
    fn http_argv_passes_the_url_as_a_positional_argument() {
        let url: HttpUrl = "http://10.213.9.2:8080/health?a=1&b=2".parse().unwrap();
        let opts = HttpProbeOptions { interval: ms(50), deadline: ms(4000), max_time: ms(500) };
        let argv = http_probe_argv(&url, &opts).unwrap();
        assert_eq!(argv[..2], ["sh", "-c"]);
        assert_eq!(argv[3..], ["sh", "http://10.213.9.2:8080/health?a=1&b=2", "0.05", "4", "0.5"]);
        assert!(!argv[2].contains("10.213.9.2"), "the script text must not contain the target");
        assert!(argv[2].contains(r#"-- "$1""#));
        assert_eq!(opts.bound(), ms(5550));
        let slow = HttpProbeOptions { max_time: ms(5), ..opts };
        assert_eq!(http_probe_argv(&url, &slow), Err(CommandError::MaxTime(ms(5))));
    }

    #[test]
    fn ping_bound_covers_deadline_and_reply_wait() {
        assert_eq!(PingOptions { interval: ms(20), deadline: ms(4200) }.bound(), Duration::from_secs(7));
    }

    #[test]
    fn seconds_are_formatted_in_c_locale() {
        assert_eq!(seconds(ms(2)), "0.002");
        assert_eq!(seconds(ms(20)), "0.02");
        assert_eq!(seconds(ms(100)), "0.1");
        assert_eq!(seconds(ms(1000)), "1");
        assert_eq!(seconds(ms(12_340)), "12.34");
    }

    #[test]
    fn tool_report_from_an_iputils_container() {
        let out = "vmmprobe-tool ping /usr/bin/ping\nvmmprobe-tool curl /usr/bin/curl\nvmmprobe-tool busybox -\n\
                   vmmprobe-tool date /usr/bin/date\nvmmprobe-tool sleep /usr/bin/sleep\n\
                   vmmprobe-ping-version ping from iputils 20221126\n\
                   vmmprobe-ping-version libcap: yes, IDN: yes, NLS: no\n\
                   vmmprobe-date 1795789445.702720524\nvmmprobe-uid 0\n";
        let r = ToolReport::parse(out);
        assert_eq!(r.ping.as_deref(), Some("/usr/bin/ping"));
        assert_eq!(r.ping_flavour, Some(PingFlavour::Iputils));
        assert_eq!(r.ping_version.as_deref(), Some("ping from iputils 20221126"));
        assert_eq!(r.busybox, None);
        assert!(r.sleep && r.date_subsecond);
        assert_eq!(r.uid, Some(0));
        assert_eq!(r.ping_problem(), None);
        assert_eq!(r.http_problem(), None);
    }

    #[test]
    fn tool_report_from_a_busybox_container_without_curl() {
        // `ping -V` on BusyBox v1.35.0 prints an error and then the banner; its date lacks %N.
        let out = "vmmprobe-tool ping /bin/ping\nvmmprobe-tool curl -\nvmmprobe-tool busybox /bin/busybox\n\
                   vmmprobe-tool sleep /bin/sleep\n\
                   vmmprobe-ping-version ping: invalid option -- 'V'\n\
                   vmmprobe-ping-version BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.\n\
                   vmmprobe-date 1795789445.%N\nvmmprobe-uid 1000\n";
        let r = ToolReport::parse(out);
        assert_eq!(r.ping_flavour, Some(PingFlavour::BusyBox));
        assert!(r.ping_version.as_deref().is_some_and(|v| v.starts_with("BusyBox v1.35.0")));
        assert!(!r.date_subsecond);
        assert_eq!(r.http_problem().as_deref(), Some("the probe container has no curl"));
        assert_eq!(ToolReport::parse("").ping_problem().as_deref(), Some("the probe container has no ping"));
        let unknown = ToolReport::parse("vmmprobe-tool ping /x/ping\nvmmprobe-ping-version ping 1.0\n");
        assert!(unknown.ping_problem().is_some_and(|p| p.contains("/x/ping")));
    }
}
