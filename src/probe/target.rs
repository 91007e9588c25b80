//! Probe targets: validation and normalisation of what the user asks the probe to reach.
//!
//! A target is an IPv4 or IPv6 address, an RFC 1123 host name (for ping and HTTP probes) or an `http://` /
//! `https://` URL (for HTTP probes). Everything else — empty strings, spaces, shell metacharacters, option-looking
//! strings such as `-f`, user-info in URLs — is rejected with one line naming the value. A validated target is only
//! ever passed to the probe as one separate argv element (see [`super::command`]); validation is a second line of
//! defence, not the thing that keeps it out of a shell.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::Serialize;

/// Longest value echoed back in an error message (longer values are cut, with an ellipsis).
const MAX_ECHO: usize = 80;
/// RFC 1123 / RFC 1035 limits.
const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;
/// Longest URL accepted (a generous bound, well inside every argv limit).
const MAX_URL: usize = 2048;

/// A rejected target: the value (escaped, cut to a readable length) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid probe target {value}: {reason}")]
pub struct TargetError {
    /// The offending value, quoted and escaped with Rust debug formatting so control characters stay visible.
    pub value: String,
    /// Why it was rejected.
    pub reason: String,
}

impl TargetError {
    fn new(value: &str, reason: impl Into<String>) -> Self {
        let shown: String = value.chars().take(MAX_ECHO).collect();
        let ellipsis = if value.chars().count() > MAX_ECHO { "…" } else { "" };
        TargetError { value: format!("{shown:?}{ellipsis}"), reason: reason.into() }
    }
}

/// A host a ping or HTTP probe can reach: an address or a (lower-cased) RFC 1123 name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "camelCase")]
pub enum Host {
    /// An IPv4 address in dotted-quad form.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (zone indices such as `%eth0` are not accepted).
    Ipv6(Ipv6Addr),
    /// An RFC 1123 host name, lower-cased; a trailing dot (fully-qualified, no search domains) is kept.
    Name(String),
}

impl Host {
    /// Whether this is an IPv6 address (URLs need it in brackets).
    pub fn is_ipv6(&self) -> bool {
        matches!(self, Host::Ipv6(_))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ipv4(a) => a.fmt(f),
            Host::Ipv6(a) => a.fmt(f),
            Host::Name(n) => f.write_str(n),
        }
    }
}

impl FromStr for Host {
    type Err = TargetError;

    /// Parses an address or an RFC 1123 host name.
    fn from_str(s: &str) -> Result<Self, TargetError> {
        reject_common(s)?;
        if let Ok(a) = s.parse::<Ipv4Addr>() {
            return Ok(Host::Ipv4(a));
        }
        if let Ok(a) = s.parse::<Ipv6Addr>() {
            return Ok(Host::Ipv6(a));
        }
        if s.contains(':') {
            return Err(TargetError::new(s, "not a valid IPv6 address (zone indices like %eth0 are not supported)"));
        }
        parse_name(s).map(Host::Name)
    }
}

/// An `http://` or `https://` URL for the HTTP probe, normalised (lower-case scheme and host).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpUrl {
    /// The normalised URL, as passed to curl.
    pub url: String,
    /// The host part.
    pub host: Host,
    /// The explicit port, if any.
    pub port: Option<u16>,
    /// `true` for `https://`.
    pub https: bool,
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl FromStr for HttpUrl {
    type Err = TargetError;

    /// Parses `http(s)://HOST[:PORT][/PATH][?QUERY]`. HOST is an IPv4 address, a bracketed IPv6 address or an
    /// RFC 1123 name. User-info (`user:pass@`), fragments (`#`), shell metacharacters and curl glob characters
    /// (`{}`, `[]` outside the IPv6 host) are rejected.
    fn from_str(s: &str) -> Result<Self, TargetError> {
        reject_common(s)?;
        if s.len() > MAX_URL {
            return Err(TargetError::new(s, format!("URL longer than {MAX_URL} bytes")));
        }
        let lower = s.to_ascii_lowercase();
        let (https, rest) = if lower.starts_with("https://") {
            (true, &s["https://".len()..])
        } else if lower.starts_with("http://") {
            (false, &s["http://".len()..])
        } else {
            return Err(TargetError::new(s, "a URL must start with http:// or https://"));
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        if authority.contains('@') {
            return Err(TargetError::new(s, "user-info (user:password@) is not accepted in probe URLs"));
        }
        if let Some(c) = tail.chars().find(|c| !is_url_tail_char(*c)) {
            return Err(TargetError::new(s, format!("character {c:?} is not accepted in a probe URL")));
        }
        let (host_text, port_text) = split_authority(authority).map_err(|reason| TargetError::new(s, reason))?;
        let host = match host_text.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => match v6.parse::<Ipv6Addr>() {
                Ok(a) => Host::Ipv6(a),
                Err(_) => return Err(TargetError::new(s, "the bracketed host is not a valid IPv6 address")),
            },
            None if host_text.contains(['[', ']', ':']) => {
                return Err(TargetError::new(s, "an IPv6 host must be written in brackets, e.g. http://[fd00::1]/"));
            }
            None => host_text.parse::<Host>().map_err(|e| TargetError::new(s, format!("bad host: {}", e.reason)))?,
        };
        let port = match port_text {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => return Err(TargetError::new(s, "the port must be a number from 1 to 65535")),
            },
        };
        let scheme = if https { "https" } else { "http" };
        let host_part = if host.is_ipv6() { format!("[{host}]") } else { host.to_string() };
        let port_part = port.map(|p| format!(":{p}")).unwrap_or_default();
        let path = if tail.is_empty() { "/" } else { tail };
        let url = format!("{scheme}://{host_part}{port_part}{path}");
        Ok(HttpUrl { url, host, port, https })
    }
}

/// Any probe target: a host (ping or HTTP to `/`) or a URL (HTTP only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ProbeTarget {
    /// An address or host name.
    Host {
        /// The host.
        host: Host,
    },
    /// An HTTP(S) URL.
    Url {
        /// The URL.
        url: HttpUrl,
    },
}

impl FromStr for ProbeTarget {
    type Err = TargetError;

    /// A value with `://` is parsed as a URL, anything else as a host.
    fn from_str(s: &str) -> Result<Self, TargetError> {
        if s.contains("://") {
            s.parse().map(|url| ProbeTarget::Url { url })
        } else {
            s.parse().map(|host| ProbeTarget::Host { host })
        }
    }
}

impl fmt::Display for ProbeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeTarget::Host { host } => host.fmt(f),
            ProbeTarget::Url { url } => url.fmt(f),
        }
    }
}

/// Rejections shared by hosts and URLs, checked first so the reason is the most useful one.
fn reject_common(s: &str) -> Result<(), TargetError> {
    if s.is_empty() {
        return Err(TargetError::new(s, "empty"));
    }
    if s.starts_with('-') {
        return Err(TargetError::new(s, "looks like a command-line option"));
    }
    if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(TargetError::new(s, format!("contains whitespace or a control character ({c:?})")));
    }
    if let Some(c) = s.chars().find(|c| "`$;|&<>(){}\\\"'*!^~\u{7f}".contains(*c) && !is_url_query_char(s, *c)) {
        return Err(TargetError::new(s, format!("contains the shell metacharacter {c:?}")));
    }
    if !s.is_ascii() {
        return Err(TargetError::new(s, "contains non-ASCII characters (use the punycode form of the name)"));
    }
    Ok(())
}

/// `&` and `~` are ordinary in a URL's query and path; nowhere else.
fn is_url_query_char(s: &str, c: char) -> bool {
    s.contains("://") && (c == '&' || c == '~')
}

/// Characters accepted in a URL's path and query: RFC 3986 unreserved, `%`, and the delimiters that are not shell
/// or curl-glob metacharacters.
fn is_url_tail_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~%/?:@&=+,".contains(c)
}

/// Splits `host[:port]` or `[v6][:port]`.
fn split_authority(authority: &str) -> Result<(&str, Option<&str>), &'static str> {
    if authority.is_empty() {
        return Err("the URL has no host");
    }
    if authority.starts_with('[') {
        let close = authority.find(']').ok_or("unclosed '[' in the host")?;
        let (host, after) = authority.split_at(close + 1);
        return match after.strip_prefix(':') {
            Some(p) => Ok((host, Some(p))),
            None if after.is_empty() => Ok((host, None)),
            None => Err("unexpected text after the bracketed host"),
        };
    }
    if authority.matches(':').count() > 1 {
        return Err("an IPv6 host must be written in brackets, e.g. http://[fd00::1]/");
    }
    match authority.split_once(':') {
        Some((h, p)) => Ok((h, Some(p))),
        None => Ok((authority, None)),
    }
}

/// Validates an RFC 1123 name and lower-cases it.
fn parse_name(s: &str) -> Result<String, TargetError> {
    let body = s.strip_suffix('.').unwrap_or(s);
    if body.is_empty() {
        return Err(TargetError::new(s, "not an address or host name"));
    }
    if body.len() > MAX_NAME {
        return Err(TargetError::new(s, format!("host name longer than {MAX_NAME} characters")));
    }
    let labels: Vec<&str> = body.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(TargetError::new(s, "empty label in host name (two dots in a row?)"));
        }
        if label.len() > MAX_LABEL {
            return Err(TargetError::new(s, format!("host name label longer than {MAX_LABEL} characters")));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(TargetError::new(s, format!("character {c:?} is not allowed in a host name")));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(TargetError::new(s, "a host name label cannot start or end with '-'"));
        }
    }
    // ping resolves numeric forms with inet_aton ("10.1" is 10.0.0.1, "0x7f000001" is 127.0.0.1): refuse names that
    // are not dotted quads but would still be read as an address, and all-numeric top-level labels (RFC 3696).
    let numeric = |l: &str| l.bytes().all(|b| b.is_ascii_digit());
    let hex =
        |l: &str| l.len() > 2 && l[..2].eq_ignore_ascii_case("0x") && l[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if labels.iter().all(|l| numeric(l) || hex(l)) || labels.last().is_some_and(|l| numeric(l)) {
        return Err(TargetError::new(s, "looks like an incomplete or non-standard IPv4 address"));
    }
    Ok(s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str) -> Host {
        s.parse().unwrap()
    }

    fn err(s: &str) -> String {
        s.parse::<ProbeTarget>().unwrap_err().to_string()
    }

    #[test]
    fn addresses_are_normalised() {
        assert_eq!(host("10.0.0.5"), Host::Ipv4(Ipv4Addr::new(10, 0, 0, 5)));
        assert_eq!(host("FD00:0:0::0001").to_string(), "fd00::1");
        assert_eq!(host("::1").to_string(), "::1");
    }

    #[test]
    fn names_are_lower_cased_and_keep_a_trailing_dot() {
        assert_eq!(host("VM-1.Tenant-Root.svc.cluster.local.").to_string(), "vm-1.tenant-root.svc.cluster.local.");
        assert_eq!(host("haos"), Host::Name("haos".into()));
    }

    #[test]
    fn option_looking_and_shell_values_are_rejected_naming_the_value() {
        assert_eq!(err("-f"), "invalid probe target \"-f\": looks like a command-line option");
        assert!(err("").contains("\"\": empty"));
        assert!(err("10.0.0.1; rm -rf /").contains("whitespace"));
        assert!(err("a;b").contains("metacharacter ';'"));
        assert!(err("$(id)").contains("metacharacter '$'"));
        assert!(err("`id`").contains("metacharacter '`'"));
        assert!(err("a|b").contains("metacharacter"));
        assert!(err("host\n").contains("'\\n'"));
        assert!(err("hôst").contains("non-ASCII"));
    }

    #[test]
    fn bad_names_are_rejected() {
        assert!(err("a..b").contains("empty label"));
        assert!(err("-a.b").contains("option"));
        assert!(err("a-.b").contains("start or end"));
        assert!(err("a_b").contains("'_'"));
        assert!(err(&"a".repeat(64)).contains("label longer"));
        assert!(err(&["a"; 130].join(".")).contains("longer than 253"));
        assert!(err("10.1").contains("IPv4"));
        assert!(err("0x7f000001").contains("IPv4"));
        assert!(err("010.0.0.1").contains("IPv4"));
        assert!(err("host.123").contains("IPv4"));
        assert!(err("fe80::1%eth0").contains("metacharacter") || err("fe80::1%eth0").contains("IPv6"));
        assert!(err("1:2").contains("IPv6"));
    }

    #[test]
    fn long_values_are_cut_in_the_message() {
        let e = err(&format!("{}!", "a".repeat(500)));
        assert!(e.len() < 200, "{e}");
        assert!(e.contains('…'));
    }

    #[test]
    fn urls_are_normalised() {
        let u: HttpUrl = "HTTP://VM.Example:8080".parse().unwrap();
        assert_eq!(u.url, "http://vm.example:8080/");
        assert_eq!(u.port, Some(8080));
        assert!(!u.https);
        let u: HttpUrl = "https://[FD00::1]/health?x=1&y=2".parse().unwrap();
        assert_eq!(u.url, "https://[fd00::1]/health?x=1&y=2");
        assert!(u.https);
        assert_eq!(u.host, Host::Ipv6("fd00::1".parse().unwrap()));
        let t: ProbeTarget = "http://10.0.0.5/~user/".parse().unwrap();
        assert_eq!(t.to_string(), "http://10.0.0.5/~user/");
    }

    #[test]
    fn bad_urls_are_rejected() {
        assert!(err("ftp://x/").contains("http:// or https://"));
        assert!(err("http://user:pw@x/").contains("user-info"));
        assert!(err("http:///path").contains("no host"));
        assert!(err("http://x:0/").contains("port"));
        assert!(err("http://x:99999/").contains("port"));
        assert!(err("http://x:+80/").contains("port"));
        assert!(err("http://x/#frag").contains("'#'"));
        assert!(err("http://x/{a,b}").contains("metacharacter"));
        assert!(err("http://x/[1-2]").contains("'['"));
        assert!(err("http://fd00::1/").contains("brackets"));
        assert!(err("http://[zz::1]/").contains("IPv6"));
        assert!(err("http://[::1]x/").contains("after the bracketed host"));
        assert!(err("http://a_b/").contains("bad host"));
        assert!(err(&format!("http://x/{}", "a".repeat(3000))).contains("longer than"));
    }

    #[test]
    fn serialises_in_camel_case() {
        let t: ProbeTarget = "10.0.0.5".parse().unwrap();
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            serde_json::json!({"kind": "host", "host": {"kind": "ipv4", "value": "10.0.0.5"}})
        );
    }
}
