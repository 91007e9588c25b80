//! Emulated `ping`: iputils (20221126), BusyBox with `FEATURE_FANCY_PING` (v1.35/1.36) and BusyBox without it,
//! printing byte for byte what they print (checked against the real captures in `testdata/ping/`), on simulated
//! time.
//!
//! iputils: `PING X (X) 56(84) bytes of data.` (IPv6: `PING X(X) 56 data bytes`), per reply
//! `[unix.µs] 64 bytes from X: icmp_seq=N ttl=64 time=0.321 ms` (`[..] ` with `-D`), with `-O`
//! `[unix.µs] no answer yet for icmp_seq=N` when the next request goes out unanswered, and the statistics
//! `--- X ping statistics ---` / `N packets transmitted, M received, L% packet loss, time Tms` (loss as C's `%g` of a
//! float) / `rtt min/avg/max/mdev = a/b/c/d ms` (an empty line instead when nothing came back). Exit 0 when a reply
//! came (and, with `-w` and `-c`, all `-c` did), else 1; usage errors 1 or 2 as iputils.
//!
//! BusyBox: `PING X (X): 56 data bytes`, `64 bytes from X: seq=N ttl=64 time=0.321 ms` (from 0),
//! `N packets transmitted, M packets received, L% packet loss` (integer loss) and
//! `round-trip min/avg/max = a/b/c ms`. BusyBox without FANCY_PING sends one request: `X is alive!` (exit 0) or,
//! after 10 s, `No response from X` (exit 1); it ignores options.
//!
//! Requests go out every `-i` seconds of simulated time from the start; a reply arrives one RTT after its request
//! when the target answers at the request's instant ([`super::model`]); `-w` ends the run at start + deadline, `-c`
//! after that many requests (then ping waits for the last replies: iputils up to `-W`, default 10 s; BusyBox 1 s
//! after a reply came, else `-W`). Timestamps printed are the simulated clock's Unix time.

use super::model::Micros;
use super::program::{Emit, Fixed, Program, Reach};

/// Which ping an image has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// iputils ping (the default; nicolaka/netshoot, Debian's `iputils-ping`).
    Iputils,
    /// BusyBox ping with `FEATURE_FANCY_PING`.
    BusyBox,
    /// BusyBox ping without `FEATURE_FANCY_PING` (`X is alive!`).
    BusyBoxPlain,
}

impl Flavour {
    /// From a scenario's `pingVariant`: `iputils` (or none), `busybox`, `busybox-nofancy`; anything else is iputils.
    pub fn from_variant(variant: Option<&str>) -> Self {
        match variant {
            Some("busybox") => Flavour::BusyBox,
            Some("busybox-nofancy") => Flavour::BusyBoxPlain,
            _ => Flavour::Iputils,
        }
    }

    /// What `ping -V` prints (stdout and stderr merged) and its exit code.
    pub fn version(self) -> (Vec<Emit>, i32) {
        match self {
            Flavour::Iputils => {
                (vec![Emit::Out("ping from iputils 20221126\nlibcap: yes, IDN: yes, NLS: no\n".into())], 0)
            }
            Flavour::BusyBox | Flavour::BusyBoxPlain => {
                (vec![Emit::Err("ping: invalid option -- 'V'\n".into()), Emit::Err(busybox_usage(self))], 1)
            }
        }
    }
}

const BUSYBOX_BANNER: &str = "BusyBox v1.36.1 (2023-05-18 22:34:17 UTC) multi-call binary.\n";

fn busybox_usage(flavour: Flavour) -> String {
    if flavour == Flavour::BusyBoxPlain {
        return format!("{BUSYBOX_BANNER}\nUsage: ping HOST\n\nSend ICMP ECHO_REQUESTs to HOST\n");
    }
    format!(
        "{BUSYBOX_BANNER}\nUsage: ping [OPTIONS] HOST\n\nSend ICMP ECHO_REQUESTs to HOST\n\n\
         \t-4,-6\t\tForce IP or IPv6 name resolution\n\t-c CNT\t\tSend only CNT pings\n\
         \t-s SIZE\t\tSend SIZE data bytes in packets (default 56)\n\t-i SECS\t\tInterval\n\
         \t-A\t\tPing as soon as reply is received\n\t-t TTL\t\tSet TTL\n\
         \t-I IFACE/IP\tSource interface or IP address\n\t-W SEC\t\tSeconds to wait for the first response (default 10)\n\
         \t\t\t(after all -c CNT packets are sent)\n\t-w SEC\t\tSeconds until ping exits (default:infinite)\n\
         \t\t\t(can exit earlier with -c CNT)\n\t-q\t\tQuiet, only display output at start/finish\n\
         \t-p HEXBYTE\tPayload pattern\n"
    )
}

/// A parsed ping command line.
#[derive(Clone, Debug, PartialEq)]
pub struct PingArgs {
    pub flavour: Flavour,
    /// `-i`, µs (default 1 s).
    pub interval_us: Micros,
    /// `-w`, µs.
    pub deadline_us: Option<Micros>,
    /// `-c`.
    pub count: Option<u64>,
    /// `-W`, µs (default 10 s).
    pub wait_us: Micros,
    /// `-D` (iputils).
    pub timestamps: bool,
    /// `-O` (iputils).
    pub outstanding: bool,
    /// `-q`.
    pub quiet: bool,
    /// The destination as given.
    pub target: String,
}

/// What a ping command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// A run against `args.target`.
    Run(PingArgs),
    /// `-V`.
    Version,
    /// A usage error: what ping prints and its exit code.
    Usage(Vec<Emit>, i32),
}

fn secs_us(text: &str) -> Option<Micros> {
    let v: f64 = text.parse().ok()?;
    (v.is_finite() && (0.0..1e9).contains(&v)).then(|| (v * 1e6).round() as Micros)
}

/// Parses `argv` (`argv[0]` is `ping`) for `flavour`, as the real tool would. `uid` is the user it runs as
/// (iputils refuses intervals under 2 ms to non-root users).
pub fn parse(flavour: Flavour, argv: &[String], uid: u32) -> Invocation {
    let iputils = flavour == Flavour::Iputils;
    let usage_error = |opt: char| -> Invocation {
        if iputils {
            let text = format!("ping: invalid option -- '{opt}'\n\nUsage\n  ping [options] <destination>\n");
            Invocation::Usage(vec![Emit::Err(text)], 2)
        } else {
            let text = format!("ping: invalid option -- '{opt}'\n");
            Invocation::Usage(vec![Emit::Err(text), Emit::Err(busybox_usage(flavour))], 1)
        }
    };
    let fail = |msg: String, code: i32| Invocation::Usage(vec![Emit::Err(format!("ping: {msg}\n"))], code);
    let mut args = PingArgs {
        flavour,
        interval_us: 1_000_000,
        deadline_us: None,
        count: None,
        wait_us: 10_000_000,
        timestamps: false,
        outstanding: false,
        quiet: false,
        target: String::new(),
    };
    let mut operands = Vec::new();
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        i += 1;
        if flavour == Flavour::BusyBoxPlain || !a.starts_with('-') || a == "-" {
            operands.push(a.clone());
            continue;
        }
        let mut chars = a[1..].chars();
        while let Some(c) = chars.next() {
            let with_value = if iputils { "cisWwtIlpQMmFT" } else { "cswWiItp" };
            let flags = if iputils { "DOnqvaAbBdfLRU46hV" } else { "qA46" };
            if flags.contains(c) {
                match c {
                    'D' => args.timestamps = true,
                    'O' => args.outstanding = true,
                    'q' => args.quiet = true,
                    'V' => return Invocation::Version,
                    _ => {}
                }
                continue;
            }
            if !with_value.contains(c) {
                return usage_error(c);
            }
            let rest: String = chars.by_ref().collect();
            let value = if !rest.is_empty() {
                rest
            } else if i < argv.len() {
                i += 1;
                argv[i - 1].clone()
            } else if iputils {
                let text =
                    format!("ping: option requires an argument -- '{c}'\n\nUsage\n  ping [options] <destination>\n");
                return Invocation::Usage(vec![Emit::Err(text)], 2);
            } else {
                let text = format!("ping: option requires an argument -- '{c}'\n");
                return Invocation::Usage(vec![Emit::Err(text), Emit::Err(busybox_usage(flavour))], 1);
            };
            let bad = |what: &str| {
                if iputils {
                    fail(format!("{what}: '{value}'"), 1)
                } else {
                    fail(format!("invalid number '{value}'"), 1)
                }
            };
            match c {
                'i' => match secs_us(&value) {
                    Some(us) => args.interval_us = us,
                    None if iputils => return fail(format!("bad timing interval: {value}"), 2),
                    None => return bad(""),
                },
                'W' => match secs_us(&value) {
                    Some(us) if iputils || us % 1_000_000 == 0 => args.wait_us = us,
                    _ if iputils => return fail(format!("bad linger time: {value}"), 2),
                    _ => return bad(""),
                },
                'w' => match value.parse::<u32>() {
                    Ok(s) => args.deadline_us = Some(Micros::from(s) * 1_000_000),
                    Err(_) => return bad("invalid argument"),
                },
                'c' => match value.parse::<u64>() {
                    Ok(n) if n > 0 || !iputils => args.count = (n > 0).then_some(n),
                    _ => return bad("invalid argument"),
                },
                _ => {}
            }
            break;
        }
    }
    if flavour == Flavour::BusyBoxPlain {
        // Without FANCY_PING BusyBox takes the last operand as the host and knows no options.
        args.target = operands.pop().unwrap_or_default();
        if args.target.is_empty() {
            return Invocation::Usage(vec![Emit::Err(busybox_usage(flavour))], 1);
        }
        return Invocation::Run(args);
    }
    match operands.as_slice() {
        [] if iputils => fail("usage error: Destination address required".into(), 1),
        [] => Invocation::Usage(vec![Emit::Err(busybox_usage(flavour))], 1),
        [.., last] => {
            if iputils && args.interval_us < 2_000 && uid != 0 {
                return fail("cannot flood; minimal interval allowed for user is 2ms".into(), 2);
            }
            args.target = last.clone();
            Invocation::Run(args)
        }
    }
}

/// What ping prints when the destination does not resolve.
pub fn unknown_host(flavour: Flavour, host: &str, at: Micros) -> Fixed {
    match flavour {
        Flavour::Iputils => Fixed::new(at, vec![Emit::Err(format!("ping: {host}: Name or service not known\n"))], 2),
        Flavour::BusyBox | Flavour::BusyBoxPlain => {
            Fixed::new(at, vec![Emit::Err(format!("ping: bad address '{host}'\n"))], 1)
        }
    }
}

/// C's `printf("%g", (double)(float)v)` for a non-negative value.
pub fn c_g(v: f64) -> String {
    let v = f64::from(v as f32);
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    // The exponent after rounding to 6 significant digits.
    let sci = format!("{v:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s.to_string() }
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim(mantissa), exp.abs());
    }
    let decimals = usize::try_from(5 - exp).unwrap_or(0);
    trim(&format!("{v:.decimals$}"))
}

fn isqrt(v: i128) -> i128 {
    if v <= 0 {
        return 0;
    }
    let mut x = (v as f64).sqrt() as i128;
    while x * x > v {
        x -= 1;
    }
    while (x + 1) * (x + 1) <= v {
        x += 1;
    }
    x
}

/// iputils' reply time: three decimals under 1 ms, two under 10 ms, one under 100 ms, none above.
fn iputils_time(us: u32) -> String {
    let t = u64::from(us);
    if t >= 100_000 - 50 {
        format!("{}", (t + 500) / 1000)
    } else if t >= 10_000 - 5 {
        format!("{}.{:01}", (t + 50) / 1000, ((t + 50) % 1000) / 100)
    } else if t >= 1000 {
        format!("{}.{:02}", (t + 5) / 1000, ((t + 5) % 1000) / 10)
    } else {
        format!("{}.{:03}", t / 1000, t % 1000)
    }
}

fn ms3(us: i128) -> String {
    format!("{}.{:03}", us / 1000, us % 1000)
}

fn stamp(at: Micros) -> String {
    format!("[{}.{:06}] ", at.div_euclid(1_000_000), at.rem_euclid(1_000_000))
}

/// A ping run on simulated time (iputils or BusyBox with FANCY_PING).
pub struct PingRun {
    args: PingArgs,
    ip: String,
    start: Micros,
    header_done: bool,
    next_send: Option<Micros>,
    sent: u64,
    received: u64,
    answered: Vec<bool>,
    /// Replies on their way: (arrival, seq, rtt), in arrival order.
    in_flight: std::collections::VecDeque<(Micros, u64, u32)>,
    first_send: Micros,
    last_send: Micros,
    tmin: u32,
    tmax: u32,
    tsum: i128,
    tsum2: i128,
    pipesize: u64,
    end: Option<Micros>,
    done: bool,
}

impl PingRun {
    /// A run of `args` against `ip` (what `args.target` resolved to), started at `start`.
    pub fn new(args: PingArgs, ip: String, start: Micros) -> Self {
        Self {
            ip,
            start,
            header_done: false,
            next_send: Some(start),
            sent: 0,
            received: 0,
            answered: Vec::new(),
            in_flight: Default::default(),
            first_send: start,
            last_send: start,
            tmin: u32::MAX,
            tmax: 0,
            tsum: 0,
            tsum2: 0,
            pipesize: 0,
            end: args.deadline_us.map(|d| start.saturating_add(d)),
            args,
            done: false,
        }
    }

    fn iputils(&self) -> bool {
        self.args.flavour == Flavour::Iputils
    }

    fn header(&self) -> String {
        let t = &self.args.target;
        let ip = &self.ip;
        match (self.iputils(), ip.contains(':')) {
            (true, false) => format!("PING {t} ({ip}) 56(84) bytes of data.\n"),
            (true, true) => format!("PING {t}({ip}) 56 data bytes\n"),
            (false, _) => format!("PING {t} ({ip}): 56 data bytes\n"),
        }
    }

    fn is_answered(&self, seq: u64) -> bool {
        self.answered.get(seq as usize).copied().unwrap_or(false)
    }

    /// The instant the run ends, if known now.
    fn end_at(&self) -> Option<Micros> {
        let count_end = match self.args.count {
            Some(n) if self.sent >= n && self.in_flight.is_empty() => {
                let wait = if self.iputils() || self.received == 0 { self.args.wait_us } else { 1_000_000 };
                Some(self.last_send.saturating_add(wait))
            }
            _ => None,
        };
        match (self.end, count_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn send(&mut self, at: Micros, reach: &mut Reach<'_>, out: &mut Vec<Emit>) {
        if self.iputils() && self.args.outstanding && self.sent > 0 && !self.is_answered(self.sent) {
            let ts = if self.args.timestamps { stamp(at) } else { String::new() };
            out.push(Emit::Out(format!("{ts}no answer yet for icmp_seq={}\n", self.sent)));
        }
        if self.sent == 0 {
            self.first_send = at;
        }
        self.sent += 1;
        self.last_send = at;
        // iputils numbers from 1, BusyBox from 0.
        let seq = if self.iputils() { self.sent } else { self.sent - 1 };
        if let Some(rtt) = reach(at) {
            let arrival = at + Micros::from(rtt);
            let pos = self.in_flight.iter().position(|(t, _, _)| *t > arrival).unwrap_or(self.in_flight.len());
            self.in_flight.insert(pos, (arrival, seq, rtt));
        }
        let more = self.args.count.is_none_or(|n| self.sent < n);
        self.next_send = more.then(|| at.saturating_add(self.args.interval_us.max(1)));
    }

    fn reply(&mut self, at: Micros, seq: u64, rtt: u32, out: &mut Vec<Emit>) {
        self.received += 1;
        let idx = if self.iputils() { seq } else { seq + 1 } as usize;
        if self.answered.len() <= idx {
            self.answered.resize(idx + 1, false);
        }
        self.answered[idx] = true;
        self.pipesize = self.pipesize.max(self.sent + 1 - idx as u64);
        self.tmin = self.tmin.min(rtt);
        self.tmax = self.tmax.max(rtt);
        self.tsum += i128::from(rtt);
        self.tsum2 += i128::from(rtt) * i128::from(rtt);
        if self.args.quiet {
            return;
        }
        let ip = &self.ip;
        out.push(Emit::Out(if self.iputils() {
            let ts = if self.args.timestamps { stamp(at) } else { String::new() };
            format!("{ts}64 bytes from {ip}: icmp_seq={seq} ttl=64 time={} ms\n", iputils_time(rtt))
        } else {
            format!("64 bytes from {ip}: seq={seq} ttl=64 time={} ms\n", ms3(i128::from(rtt)))
        }));
    }

    fn finish(&mut self, out: &mut Vec<Emit>) {
        self.done = true;
        let (n, m) = (self.sent, self.received);
        let target = &self.args.target;
        let mut text = format!("\n--- {target} ping statistics ---\n");
        if self.iputils() {
            text.push_str(&format!("{n} packets transmitted, {m} received"));
            if n > 0 {
                let loss = ((n - m) as f64 * 100.0) / n as f64;
                let time = (self.last_send - self.first_send + 500) / 1000;
                text.push_str(&format!(", {}% packet loss, time {time}ms", c_g(loss)));
            }
            text.push('\n');
            let mut comma = "";
            if m > 0 {
                let total = i128::from(m);
                let avg = self.tsum / total;
                let var = if self.tsum < i128::from(i32::MAX) {
                    (self.tsum2 - (self.tsum * self.tsum) / total) / total
                } else {
                    self.tsum2 / total - avg * avg
                };
                let mdev = isqrt(var);
                text.push_str(&format!(
                    "rtt min/avg/max/mdev = {}/{}/{}/{} ms",
                    ms3(i128::from(self.tmin)),
                    ms3(avg),
                    ms3(i128::from(self.tmax)),
                    ms3(mdev)
                ));
                comma = ", ";
            }
            if self.pipesize > 1 {
                text.push_str(&format!("{comma}pipe {}", self.pipesize));
            }
            text.push('\n');
        } else {
            let loss = ((n - m) * 100).checked_div(n).unwrap_or(0);
            text.push_str(&format!("{n} packets transmitted, {m} packets received, {loss}% packet loss\n"));
            if m > 0 {
                let avg = self.tsum / i128::from(m);
                text.push_str(&format!(
                    "round-trip min/avg/max = {}/{}/{} ms\n",
                    ms3(i128::from(self.tmin)),
                    ms3(avg),
                    ms3(i128::from(self.tmax))
                ));
            }
        }
        let code = i32::from(m == 0 || (self.args.deadline_us.is_some() && self.args.count.is_some_and(|c| m < c)));
        out.push(Emit::Out(text));
        out.push(Emit::Exit(code));
    }

    fn count_complete(&self) -> bool {
        self.args.count.is_some_and(|c| self.received >= c)
    }
}

impl Program for PingRun {
    fn advance(&mut self, upto: Micros, reach: &mut Reach<'_>) -> Vec<Emit> {
        let mut out = Vec::new();
        if self.done || upto < self.start {
            return out;
        }
        if !self.header_done {
            self.header_done = true;
            out.push(Emit::Out(self.header()));
        }
        loop {
            let end = self.end_at();
            let reply = self.in_flight.front().map(|r| r.0);
            let before_end = |t: Micros| end.is_none_or(|e| t < e);
            match (reply.filter(|t| before_end(*t)), self.next_send.filter(|t| before_end(*t))) {
                (Some(r), s) if s.is_none_or(|s| r <= s) => {
                    if r > upto {
                        break;
                    }
                    let Some((at, seq, rtt)) = self.in_flight.pop_front() else { break };
                    self.reply(at, seq, rtt, &mut out);
                    if self.count_complete() {
                        self.finish(&mut out);
                        break;
                    }
                }
                (_, Some(s)) => {
                    if s > upto {
                        break;
                    }
                    // BusyBox checks its deadline when it is about to send.
                    self.send(s, reach, &mut out);
                }
                (_, None) => {
                    let Some(e) = end else { break };
                    if e > upto {
                        break;
                    }
                    self.finish(&mut out);
                    break;
                }
            }
        }
        out
    }

    fn next_due(&self) -> Option<Micros> {
        if self.done {
            return None;
        }
        if !self.header_done {
            return Some(self.start);
        }
        let end = self.end_at();
        let before_end = |t: &Micros| end.is_none_or(|e| *t < e);
        [self.in_flight.front().map(|r| r.0).filter(before_end), self.next_send.filter(before_end), end]
            .into_iter()
            .flatten()
            .min()
    }
}

/// BusyBox ping without FANCY_PING: one request, `X is alive!` or, after 10 s, `No response from X`.
pub struct PlainRun {
    host: String,
    start: Micros,
    verdict: Option<Option<Micros>>,
    done: bool,
}

/// How long BusyBox without FANCY_PING waits for its reply.
const PLAIN_WAIT_US: Micros = 10_000_000;

impl PlainRun {
    pub fn new(host: String, start: Micros) -> Self {
        Self { host, start, verdict: None, done: false }
    }

    fn due(&self) -> Micros {
        match self.verdict {
            Some(Some(arrival)) => arrival,
            _ => self.start + PLAIN_WAIT_US,
        }
    }
}

impl Program for PlainRun {
    fn advance(&mut self, upto: Micros, reach: &mut Reach<'_>) -> Vec<Emit> {
        if self.done || upto < self.start {
            return Vec::new();
        }
        if self.verdict.is_none() {
            self.verdict = Some(reach(self.start).map(|rtt| self.start + Micros::from(rtt)));
        }
        if upto < self.due() {
            return Vec::new();
        }
        self.done = true;
        match self.verdict {
            Some(Some(_)) => vec![Emit::Out(format!("{} is alive!\n", self.host)), Emit::Exit(0)],
            _ => vec![Emit::Out(format!("No response from {}\n", self.host)), Emit::Exit(1)],
        }
    }

    fn next_due(&self) -> Option<Micros> {
        if self.done {
            None
        } else if self.verdict.is_none() {
            Some(self.start)
        } else {
            Some(self.due())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::program::{collect, run_to_end};
    use super::*;

    const T0: Micros = 1_795_789_858_273_700;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn run(flavour: Flavour, cmd: &str, outage: Option<(Micros, Micros)>) -> (String, Option<i32>) {
        let Invocation::Run(args) = parse(flavour, &argv(cmd), 0) else { panic!("not a run: {cmd}") };
        let ip = args.target.clone();
        let mut reach = |at: Micros| match outage {
            Some((from, to)) if at >= from && at < to => None,
            _ => Some(37 + ((at - T0) / 1000 % 7) as u32),
        };
        let mut p: Box<dyn Program> = if flavour == Flavour::BusyBoxPlain {
            Box::new(PlainRun::new(ip, T0))
        } else {
            Box::new(PingRun::new(args, ip, T0))
        };
        collect(&run_to_end(p.as_mut(), &mut reach), true)
    }

    #[test]
    fn c_g_matches_printf() {
        assert_eq!(c_g(8.0 * 100.0 / 123.0), "6.50407");
        assert_eq!(c_g(125.0 * 100.0 / 167.0), "74.8503");
        assert_eq!(c_g(50.0), "50");
        assert_eq!(c_g(100.0), "100");
        assert_eq!(c_g(0.0), "0");
        assert_eq!(c_g(100.0 / 2_000_000.0), "5e-05");
        assert_eq!(c_g(1.0 / 3.0), "0.333333");
    }

    #[test]
    fn iputils_time_precision_follows_magnitude() {
        assert_eq!(iputils_time(21), "0.021");
        assert_eq!(iputils_time(999), "0.999");
        assert_eq!(iputils_time(1234), "1.23");
        assert_eq!(iputils_time(12_345), "12.3");
        assert_eq!(iputils_time(123_456), "123");
    }

    #[test]
    fn iputils_normal_run_has_the_real_shape() {
        let (out, code) = run(Flavour::Iputils, "ping -D -O -n -i 0.02 -W 1 -w 2 10.213.9.2", None);
        assert_eq!(code, Some(0));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "PING 10.213.9.2 (10.213.9.2) 56(84) bytes of data.");
        assert!(lines[1].starts_with("[1795789858.27"), "{}", lines[1]);
        assert!(lines[1].ends_with("] 64 bytes from 10.213.9.2: icmp_seq=1 ttl=64 time=0.037 ms"), "{}", lines[1]);
        assert_eq!(lines.len(), 1 + 100 + 4);
        assert_eq!(lines[101], "");
        assert_eq!(lines[102], "--- 10.213.9.2 ping statistics ---");
        assert_eq!(lines[103], "100 packets transmitted, 100 received, 0% packet loss, time 1980ms");
        assert!(lines[104].starts_with("rtt min/avg/max/mdev = 0.037/0.0"), "{}", lines[104]);
        assert!(out.ends_with(" ms\n"));
    }

    #[test]
    fn iputils_outage_prints_no_answer_yet_and_loss() {
        // Requests at T0 + k·20 ms; the target is dark for 180 ms from T0 + 1 s.
        let (out, code) =
            run(Flavour::Iputils, "ping -D -O -n -i 0.02 -W 1 -w 3 10.213.9.2", Some((T0 + 1_000_000, T0 + 1_180_000)));
        assert_eq!(code, Some(0));
        let missing: Vec<&str> = out.lines().filter(|l| l.contains("no answer yet")).collect();
        assert_eq!(missing.len(), 9, "{out}");
        // Sequence 51 went out at T0 + 1 s and was the first one lost; its report comes with the next request.
        assert_eq!(missing[0], "[1795789859.293700] no answer yet for icmp_seq=51");
        assert!(out.contains("150 packets transmitted, 141 received, 6% packet loss, time 2980ms\n"), "{out}");
    }

    #[test]
    fn iputils_unknown_target_has_no_replies_and_an_empty_last_line() {
        let (out, code) = run(Flavour::Iputils, "ping -D -O -n -i 0.2 -W 1 -w 1 10.9.9.9", Some((0, i64::MAX)));
        assert_eq!(code, Some(1));
        assert!(out.ends_with("\n--- 10.9.9.9 ping statistics ---\n5 packets transmitted, 0 received, 100% packet loss, time 800ms\n\n"), "{out}");
        assert_eq!(out.lines().filter(|l| l.contains("no answer yet")).count(), 4);
    }

    #[test]
    fn iputils_ipv6_header_has_no_space() {
        let (out, _) = run(Flavour::Iputils, "ping -n -i 0.2 -w 1 ::1", None);
        assert!(out.starts_with("PING ::1(::1) 56 data bytes\n64 bytes from ::1: icmp_seq=1 ttl=64 time="), "{out}");
    }

    #[test]
    fn count_ends_after_the_last_reply_and_with_deadline_needs_all() {
        let (out, code) = run(Flavour::Iputils, "ping -c 3 -i 0.2 10.0.0.1", None);
        assert_eq!(code, Some(0));
        assert!(out.contains("3 packets transmitted, 3 received, 0% packet loss, time 400ms"), "{out}");
        let (_, code) = run(Flavour::Iputils, "ping -c 30 -i 0.2 -w 1 10.0.0.1", None);
        assert_eq!(code, Some(1), "-w and -c: fewer replies than -c by the deadline");
    }

    #[test]
    fn busybox_run_has_the_real_shape() {
        let (out, code) =
            run(Flavour::BusyBox, "ping -i 0.02 -W 1 -w 2 10.213.9.2", Some((T0 + 1_000_000, T0 + 1_730_000)));
        assert_eq!(code, Some(0));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "PING 10.213.9.2 (10.213.9.2): 56 data bytes");
        assert!(lines[1].starts_with("64 bytes from 10.213.9.2: seq=0 ttl=64 time=0.0"), "{}", lines[1]);
        assert!(out.contains("\n\n--- 10.213.9.2 ping statistics ---\n100 packets transmitted, 63 packets received, 37% packet loss\nround-trip min/avg/max = 0.037/0.0"), "{out}");
        assert!(!out.contains("no answer"));
    }

    #[test]
    fn busybox_plain_says_alive_or_no_response() {
        assert_eq!(
            run(Flavour::BusyBoxPlain, "ping -i 0.02 -w 4 10.0.0.5", None),
            ("10.0.0.5 is alive!\n".into(), Some(0))
        );
        assert_eq!(
            run(Flavour::BusyBoxPlain, "ping 10.0.0.5", Some((0, i64::MAX))),
            ("No response from 10.0.0.5\n".into(), Some(1))
        );
    }

    #[test]
    fn usage_errors_are_the_tools_own() {
        let err = |f, cmd: &str, uid| match parse(f, &argv(cmd), uid) {
            Invocation::Usage(e, code) => (collect(&e, true).0, code),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            err(Flavour::Iputils, "ping -i 0.001 -w 1 10.0.0.1", 1000),
            ("ping: cannot flood; minimal interval allowed for user is 2ms\n".into(), 2)
        );
        assert!(matches!(parse(Flavour::Iputils, &argv("ping -i 0.001 -w 1 10.0.0.1"), 0), Invocation::Run(_)));
        assert_eq!(
            err(Flavour::Iputils, "ping -D", 0),
            ("ping: usage error: Destination address required\n".into(), 1)
        );
        let (text, code) = err(Flavour::BusyBox, "ping -D -O -n -i 0.02 10.0.0.1", 0);
        assert!(text.starts_with("ping: invalid option -- 'D'\nBusyBox v1.36.1"), "{text}");
        assert_eq!(code, 1);
        assert!(matches!(parse(Flavour::Iputils, &argv("ping -V"), 0), Invocation::Version));
        let Invocation::Run(a) = parse(Flavour::Iputils, &argv("ping -DOn -i0.05 -W 1 -w 4 -c 9 10.0.0.1"), 0) else {
            panic!()
        };
        assert_eq!(
            (a.interval_us, a.deadline_us, a.count, a.wait_us, a.timestamps, a.outstanding),
            (50_000, Some(4_000_000), Some(9), 1_000_000, true, true)
        );
    }
}
