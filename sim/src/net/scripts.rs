//! The plugin's two `sh -c` scripts, recognised by their shape and emulated (the sim runs no shell):
//!
//! - the HTTP probe, `sh -c SCRIPT sh URL INTERVAL_S DEADLINE_S MAX_TIME_S` (the script prints
//!   `vmmprobe-http-end`): while `date +%s` is before start + DEADLINE_S, one curl request, a line
//!   `vmmprobe-http N START CODE TIME_TOTAL EXIT [MESSAGE]`, then `sleep INTERVAL_S`; at the end
//!   `vmmprobe-http-end N`. A request succeeds (`200`, a millisecond or two) when the target answers at its start
//!   or at one of TCP's SYN retransmissions (1, 3, 7, ... s later) within MAX_TIME_S; otherwise curl gives up at
//!   MAX_TIME_S: `000 0.500700 28 Connection timed out after 501 milliseconds`, as in the real capture. A name that
//!   does not resolve gives `000 ... 6 Could not resolve host: NAME`. Every reachable address serves HTTP (ports
//!   are not modelled). Without curl the result is empty, as the script's `$(curl ... 2>/dev/null)` is; without
//!   `sleep` the shell says `sh: sleep: not found` on stderr each round and does not pause;
//! - the tool check (the script prints `vmmprobe-tool`): `vmmprobe-tool NAME PATH|-` for each name of its
//!   `for t in ...; do` list, every line of `ping -V` (as `read -r` leaves it), `vmmprobe-date S.N`,
//!   `vmmprobe-uid N`, answered from the image's declared tools.

use super::model::Micros;
use super::ping::Flavour;
use super::program::{Emit, Program, Reach};

/// What the container has: tools, ping flavour, user.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Tools the image lacks (`ping`, `curl`, `sh`, `sleep`, `date`, `busybox`, ...).
    pub missing: Vec<String>,
    pub ping: Flavour,
    /// The user the container runs as.
    pub uid: u32,
}

impl Default for Image {
    /// A netshoot-like image: everything present, iputils ping, root.
    fn default() -> Self {
        Self { missing: Vec::new(), ping: Flavour::Iputils, uid: 0 }
    }
}

impl Image {
    pub fn has(&self, tool: &str) -> bool {
        !self.missing.iter().any(|m| m == tool)
    }

    /// Where a tool lives in the image.
    pub fn path(&self, tool: &str) -> Option<String> {
        if !self.has(tool) {
            return None;
        }
        Some(match tool {
            "curl" => "/usr/bin/curl".into(),
            "ping" | "busybox" | "sh" | "date" | "sleep" | "echo" | "cat" => format!("/bin/{tool}"),
            other => format!("/usr/bin/{other}"),
        })
    }
}

/// Which of the plugin's scripts a command is.
#[derive(Debug, PartialEq)]
pub enum Script {
    /// The HTTP probe with its positional arguments.
    Http { url: String, interval_us: Micros, deadline_s: i64, max_time_us: Micros },
    /// The tool check with its list of tools.
    ToolCheck { tools: Vec<String> },
    /// The HTTP probe with arguments it cannot use.
    BadArguments,
}

fn secs_us(text: &str) -> Option<Micros> {
    let v: f64 = text.parse().ok()?;
    (v.is_finite() && (0.0..1e9).contains(&v)).then(|| (v * 1e6).round() as Micros)
}

/// Recognises `sh -c SCRIPT [sh ARGS...]` as one of the plugin's scripts.
pub fn recognise(argv: &[String]) -> Option<Script> {
    let [sh, c, script, rest @ ..] = argv else { return None };
    if sh.rsplit('/').next() != Some("sh") || c != "-c" {
        return None;
    }
    if script.contains("vmmprobe-http-end") && script.contains("curl") {
        let [_, url, interval, deadline, max_time] = rest else { return Some(Script::BadArguments) };
        return match (secs_us(interval), deadline.parse::<i64>(), secs_us(max_time)) {
            (Some(interval_us), Ok(deadline_s), Some(max_time_us)) if deadline_s >= 0 => {
                Some(Script::Http { url: url.clone(), interval_us, deadline_s, max_time_us })
            }
            _ => Some(Script::BadArguments),
        };
    }
    if script.contains("vmmprobe-tool") {
        let list = script.split_once("for t in ")?.1.split_once(';')?.0;
        return Some(Script::ToolCheck { tools: list.split_whitespace().map(str::to_string).collect() });
    }
    None
}

/// `date +%s.%N` of an instant (nanoseconds made up deterministically below the microsecond).
pub fn date_s_n(at: Micros) -> String {
    let ns = at.rem_euclid(1_000_000) * 1000 + (at.rem_euclid(997) % 1000);
    format!("{}.{ns:09}", at.div_euclid(1_000_000))
}

/// The tool check's output for `image` at `at`.
pub fn tool_check(image: &Image, tools: &[String], at: Micros) -> Vec<Emit> {
    let mut out = String::new();
    for t in tools {
        out.push_str(&format!("vmmprobe-tool {t} {}\n", image.path(t).unwrap_or_else(|| "-".into())));
    }
    if image.has("ping") {
        let (version, _) = image.ping.version();
        for e in version {
            if let Emit::Out(text) | Emit::Err(text) = e {
                for line in text.lines() {
                    out.push_str(&format!("vmmprobe-ping-version {}\n", line.trim_matches([' ', '\t'])));
                }
            }
        }
    }
    let date = if image.has("date") { date_s_n(at) } else { String::new() };
    out.push_str(&format!("vmmprobe-date {date}\n"));
    let uid = if image.has("id") { image.uid.to_string() } else { String::new() };
    out.push_str(&format!("vmmprobe-uid {uid}\n"));
    vec![Emit::Out(out)]
}

/// The host of an `http(s)://` URL (brackets of an IPv6 literal removed).
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host =
        if let Some(v6) = authority.strip_prefix('[') { v6.split_once(']')?.0 } else { authority.split(':').next()? };
    (!host.is_empty()).then(|| host.to_string())
}

/// Pause between the end of a request and the next `date` (the shell forking `sleep`, `date` and `curl`).
const ROUND_OVERHEAD_US: Micros = 2_000;
/// The server's time to answer.
const SERVER_US: Micros = 300;
/// TCP SYN retransmissions after the first, in µs from the start (initial RTO 1 s, doubling).
const SYN_RETRIES_US: [Micros; 6] = [1_000_000, 3_000_000, 7_000_000, 15_000_000, 31_000_000, 63_000_000];

/// The HTTP probe on simulated time.
pub struct HttpRun {
    host: String,
    /// `None` when the host does not resolve.
    resolved: bool,
    interval_us: Micros,
    end_s: i64,
    max_time_us: Micros,
    curl: bool,
    sleep: bool,
    /// Requests made so far.
    n: u64,
    /// When the next round's `date +%s` check happens (or the current request started).
    next: Micros,
    /// The request in progress: its result and length.
    pending: Option<(String, Micros)>,
    done: bool,
}

impl HttpRun {
    pub fn prepare(
        url: &str,
        interval_us: Micros,
        deadline_s: i64,
        max_time_us: Micros,
        image: &Image,
    ) -> HttpRunBuilder {
        HttpRunBuilder {
            host: url_host(url).unwrap_or_default(),
            interval_us,
            deadline_s,
            max_time_us,
            curl: image.has("curl"),
            sleep: image.has("sleep"),
        }
    }

    /// curl's `%{http_code} %{time_total} %{exitcode} %{errormsg}` for a request started at `t`, and its length.
    fn request(&self, t: Micros, reach: &mut Reach<'_>) -> (String, Micros) {
        if !self.curl {
            return (String::new(), 1_000);
        }
        if !self.resolved {
            let total = 120 + t.rem_euclid(40);
            return (format!("000 0.{total:06} 6 Could not resolve host: {}", self.host), total);
        }
        for offset in std::iter::once(0).chain(SYN_RETRIES_US) {
            if offset >= self.max_time_us {
                break;
            }
            if let Some(rtt) = reach(t + offset) {
                let total = offset + 2 * Micros::from(rtt) + SERVER_US;
                if total <= self.max_time_us {
                    return (format!("200 {}.{:06} 0 ", total / 1_000_000, total % 1_000_000), total);
                }
                break;
            }
        }
        let total = self.max_time_us + 700;
        let ms = (total + 999) / 1000;
        (
            format!(
                "000 {}.{:06} 28 Connection timed out after {ms} milliseconds",
                total / 1_000_000,
                total % 1_000_000
            ),
            total,
        )
    }
}

/// An [`HttpRun`] waiting for its start instant and whether its host resolved.
pub struct HttpRunBuilder {
    host: String,
    interval_us: Micros,
    deadline_s: i64,
    max_time_us: Micros,
    curl: bool,
    sleep: bool,
}

impl HttpRunBuilder {
    /// The host to resolve.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn start(self, at: Micros, resolved: bool) -> HttpRun {
        HttpRun {
            resolved,
            end_s: at.div_euclid(1_000_000) + self.deadline_s,
            interval_us: self.interval_us,
            max_time_us: self.max_time_us,
            curl: self.curl,
            sleep: self.sleep,
            host: self.host,
            n: 0,
            next: at,
            pending: None,
            done: false,
        }
    }
}

impl Program for HttpRun {
    fn advance(&mut self, upto: Micros, reach: &mut Reach<'_>) -> Vec<Emit> {
        let mut out = Vec::new();
        while !self.done && self.next <= upto {
            let t = self.next;
            if self.pending.is_none() {
                if t.div_euclid(1_000_000) >= self.end_s {
                    self.done = true;
                    out.push(Emit::Out(format!("vmmprobe-http-end {}\n", self.n)));
                    out.push(Emit::Exit(0));
                    break;
                }
                self.pending = Some(self.request(t, reach));
            }
            let Some((result, total)) = self.pending.take_if(|(_, total)| t + *total <= upto) else {
                // The line is printed when curl returns; come back then.
                break;
            };
            self.n += 1;
            out.push(Emit::Out(format!("vmmprobe-http {} {} {result}\n", self.n, date_s_n(t))));
            let pause = if self.sleep {
                self.interval_us
            } else {
                out.push(Emit::Err("sh: sleep: not found\n".into()));
                0
            };
            self.next = t + total + pause + ROUND_OVERHEAD_US;
        }
        out
    }

    fn next_due(&self) -> Option<Micros> {
        let pending = self.pending.as_ref().map_or(0, |(_, total)| *total);
        (!self.done).then_some(self.next + pending)
    }
}

#[cfg(test)]
mod tests {
    use super::super::program::{collect, run_to_end};
    use super::*;

    const T0: Micros = 1_795_789_894_482_432;

    fn argv(script: &str, rest: &[&str]) -> Vec<String> {
        ["sh", "-c", script].iter().chain(rest).map(|s| s.to_string()).collect()
    }

    const HTTP: &str = "end=$(( $(date +%s) + $3 ))\nr=$(curl -gs ...)\necho \"vmmprobe-http $n $t $r\"\necho \"vmmprobe-http-end $n\"";

    #[test]
    fn scripts_are_recognised_by_shape() {
        assert_eq!(
            recognise(&argv(HTTP, &["sh", "http://10.0.0.5:8080/x", "0.05", "4", "0.5"])),
            Some(Script::Http {
                url: "http://10.0.0.5:8080/x".into(),
                interval_us: 50_000,
                deadline_s: 4,
                max_time_us: 500_000
            })
        );
        assert_eq!(recognise(&argv(HTTP, &["sh", "http://x/", "fast", "4", "0.5"])), Some(Script::BadArguments));
        let check = "for t in ping curl busybox date sleep; do\n  echo \"vmmprobe-tool $t -\"\ndone";
        assert_eq!(
            recognise(&argv(check, &[])),
            Some(Script::ToolCheck { tools: ["ping", "curl", "busybox", "date", "sleep"].map(String::from).to_vec() })
        );
        assert_eq!(recognise(&argv("echo hi", &[])), None);
        assert_eq!(recognise(&["ping".to_string()]), None);
    }

    #[test]
    fn url_hosts() {
        assert_eq!(url_host("http://10.0.0.5:8080/health?a=1").as_deref(), Some("10.0.0.5"));
        assert_eq!(url_host("https://[fd00::5]:443/").as_deref(), Some("fd00::5"));
        assert_eq!(url_host("http://u:p@vm.ns.svc/").as_deref(), Some("vm.ns.svc"));
        assert_eq!(url_host("ftp://x/"), None);
    }

    fn http(outage: Option<(Micros, Micros)>, image: &Image, resolved: bool) -> (String, Option<i32>) {
        let mut run =
            HttpRun::prepare("http://10.213.9.2:8080/README.md", 50_000, 4, 500_000, image).start(T0, resolved);
        let mut reach = |at: Micros| match outage {
            Some((a, b)) if at >= a && at < b => None,
            _ => Some(400),
        };
        collect(&run_to_end(&mut run, &mut reach), true)
    }

    #[test]
    fn http_probe_lines_have_the_real_shape_and_show_the_outage() {
        let (out, code) = http(Some((T0 + 1_500_000, T0 + 2_230_000)), &Image::default(), true);
        assert_eq!(code, Some(0));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("vmmprobe-http 1 1795789894.482432"), "{}", lines[0]);
        assert!(lines[0].ends_with(" 200 0.001100 0 "), "{}", lines[0]);
        let failed: Vec<&&str> = lines.iter().filter(|l| l.contains(" 000 ")).collect();
        assert!(!failed.is_empty() && failed.len() <= 2, "{failed:?}");
        assert!(failed[0].ends_with(" 000 0.500700 28 Connection timed out after 501 milliseconds"), "{}", failed[0]);
        let last = lines.last().unwrap();
        assert!(last.starts_with("vmmprobe-http-end "), "{last}");
        let n: usize = last["vmmprobe-http-end ".len()..].parse().unwrap();
        assert_eq!(n, lines.len() - 1);
        // Every line's start time is after the previous one's plus the pause.
        let starts: Vec<f64> = lines[..n].iter().map(|l| l.split(' ').nth(2).unwrap().parse().unwrap()).collect();
        assert!(starts.windows(2).all(|w| w[1] - w[0] >= 0.05), "{starts:?}");
        // It stops once `date +%s` reaches start + 4 s (whole seconds).
        assert!(*starts.last().unwrap() < 1_795_789_898.0);
    }

    #[test]
    fn http_probe_without_curl_or_sleep_or_name() {
        let no_curl = Image { missing: vec!["curl".into()], ..Image::default() };
        let (out, _) = http(None, &no_curl, true);
        assert!(out.lines().next().unwrap().ends_with(".482432153 "), "{out}");
        let (out, _) = http(None, &Image::default(), false);
        assert!(
            out.lines().next().unwrap().contains(" 000 0.0001")
                && out.contains(" 6 Could not resolve host: 10.213.9.2\n"),
            "{out}"
        );
        let no_sleep = Image { missing: vec!["sleep".into()], ..Image::default() };
        let mut run = HttpRun::prepare("http://x/", 50_000, 1, 500_000, &no_sleep).start(T0, true);
        let emits = run_to_end(&mut run, &mut |_| Some(400));
        assert!(emits.contains(&Emit::Err("sh: sleep: not found\n".into())));
    }

    #[test]
    fn tool_check_reports_the_image() {
        let tools: Vec<String> = ["ping", "curl", "busybox", "date", "sleep"].map(String::from).to_vec();
        let (out, _) = collect(&tool_check(&Image::default(), &tools, T0), false);
        assert_eq!(
            out,
            "vmmprobe-tool ping /bin/ping\nvmmprobe-tool curl /usr/bin/curl\nvmmprobe-tool busybox /bin/busybox\n\
             vmmprobe-tool date /bin/date\nvmmprobe-tool sleep /bin/sleep\n\
             vmmprobe-ping-version ping from iputils 20221126\nvmmprobe-ping-version libcap: yes, IDN: yes, NLS: no\n\
             vmmprobe-date 1795789894.482432153\nvmmprobe-uid 0\n"
        );
        let bb = Image { missing: vec!["curl".into()], ping: Flavour::BusyBox, uid: 1000 };
        let (out, _) = collect(&tool_check(&bb, &tools, T0), false);
        assert!(out.contains("vmmprobe-tool curl -\n"));
        assert!(
            out.contains("vmmprobe-ping-version ping: invalid option -- 'V'\nvmmprobe-ping-version BusyBox v1.36.1")
        );
        assert!(out.contains("vmmprobe-ping-version -c CNT\t\tSend only CNT pings\n"), "read -r trims: {out}");
        assert!(out.ends_with("vmmprobe-uid 1000\n"));
        let none = Image { missing: vec!["ping".into(), "date".into()], ..Image::default() };
        let (out, _) = collect(&tool_check(&none, &tools, T0), false);
        assert!(!out.contains("vmmprobe-ping-version") && out.contains("vmmprobe-date \n"), "{out}");
    }
}
