//! Query parameters of list and watch: label and field selectors, `limit`/`continue` tokens.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::ApiError;
use super::resources::{EVENTS, NAMESPACES, NODES, PODS, ResourceType};

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl LabelReq {
    fn matches(&self, labels: &BTreeMap<&str, &str>) -> bool {
        match self {
            Self::Eq(k, v) => labels.get(k.as_str()) == Some(&v.as_str()),
            // As in Kubernetes, `!=` and `notin` also match objects without the label.
            Self::NotEq(k, v) => labels.get(k.as_str()) != Some(&v.as_str()),
            Self::In(k, vs) => labels.get(k.as_str()).is_some_and(|l| vs.iter().any(|v| v == l)),
            Self::NotIn(k, vs) => labels.get(k.as_str()).is_none_or(|l| vs.iter().all(|v| v != l)),
            Self::Exists(k) => labels.contains_key(k.as_str()),
            Self::NotExists(k) => !labels.contains_key(k.as_str()),
        }
    }
}

/// A parsed `labelSelector`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector(pub Vec<LabelReq>);

fn bad_selector(s: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("unable to parse requirement: {why}: \"{s}\""))
}

/// Splits at commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

fn set_values(rest: &str, whole: &str) -> Result<Vec<String>, ApiError> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| bad_selector(whole, "found '', expected: '('"))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

impl LabelSelector {
    /// Parses the selector syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let req = if let Some(k) = part.strip_prefix('!') {
                LabelReq::NotExists(k.trim().to_string())
            } else if let Some((k, v)) = part.split_once("!=") {
                LabelReq::NotEq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                LabelReq::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                LabelReq::NotIn(k.trim().to_string(), set_values(rest, part)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                LabelReq::In(k.trim().to_string(), set_values(rest, part)?)
            } else {
                LabelReq::Exists(part.to_string())
            };
            let key = match &req {
                LabelReq::Eq(k, _)
                | LabelReq::NotEq(k, _)
                | LabelReq::In(k, _)
                | LabelReq::NotIn(k, _)
                | LabelReq::Exists(k)
                | LabelReq::NotExists(k) => k,
            };
            if !valid_key(key) {
                return Err(bad_selector(part, "invalid label key"));
            }
            reqs.push(req);
        }
        Ok(Self(reqs))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels: BTreeMap<&str, &str> = obj
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.as_str(), v.as_str()?))).collect())
            .unwrap_or_default();
        self.0.iter().all(|r| r.matches(&labels))
    }
}

/// A parsed `fieldSelector`: `(path, wanted value, negated)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector(pub Vec<(String, String, bool)>);

impl FieldSelector {
    /// Parses `f=v`, `f==v`, `f!=v` terms; only fields the real server supports for `rt` are accepted.
    pub fn parse(s: &str, rt: &ResourceType) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for part in split_top(s) {
            let (f, v, neg) = match part.split_once("!=") {
                Some((f, v)) => (f, v, true),
                None => match part.split_once("==").or_else(|| part.split_once('=')) {
                    Some((f, v)) => (f, v, false),
                    None => {
                        return Err(ApiError::bad_request(format!(
                            "invalid selector: '{s}'; can't understand '{part}'"
                        )));
                    }
                },
            };
            let f = f.trim();
            if !supported_field(rt, f) {
                return Err(ApiError::bad_request(format!("field label not supported: {f}")));
            }
            terms.push((f.to_string(), v.trim().to_string(), neg));
        }
        Ok(Self(terms))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(f, want, neg)| {
            // An event's `source` selects on its source component.
            let path =
                if f == "source" { "/source/component".to_string() } else { format!("/{}", f.replace('.', "/")) };
            let have = match obj.pointer(&path) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            (have == *want) != *neg
        })
    }
}

fn supported_field(rt: &ResourceType, f: &str) -> bool {
    matches!(f, "metadata.name" | "metadata.namespace")
        || (rt == &PODS
            && matches!(
                f,
                "spec.nodeName" | "status.phase" | "spec.restartPolicy" | "status.podIP" | "spec.schedulerName"
            ))
        || (rt == &EVENTS
            && (f.starts_with("involvedObject.") || matches!(f, "reason" | "reportingComponent" | "source" | "type")))
        || (rt == &NAMESPACES && f == "status.phase")
        || (rt == &NODES && f == "spec.unschedulable")
}

/// Both selectors of a request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

/// The decoded query string (repeated keys kept in order).
#[derive(Clone, Debug, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Self(pairs)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }

    /// A boolean parameter: `true`/`1` are true.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | "True"))
    }

    /// `dryRun=All` (the only value the real server accepts besides none).
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(v) => Err(ApiError::bad_request(format!("Invalid dry run value: [{v}]: supported values: \"All\""))),
        }
    }

    pub fn selectors(&self, rt: &ResourceType) -> Result<Selectors, ApiError> {
        Ok(Selectors {
            labels: LabelSelector::parse(self.get("labelSelector").unwrap_or(""))?,
            fields: FieldSelector::parse(self.get("fieldSelector").unwrap_or(""), rt)?,
        })
    }

    /// A non-negative integer parameter.
    pub fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v}"))),
        }
    }
}

/// Decodes `%XX` and `+` of a query component.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The position a paginated list continues from: the snapshot's resourceVersion and the last key served.
#[derive(Clone, Debug, PartialEq)]
pub struct Continue {
    pub rv: u64,
    /// `(namespace, name)` of the last item of the previous page (namespace `""` at cluster scope).
    pub start_after: (String, String),
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Continue {
    /// An opaque token (hex of a small JSON document, as opaque to clients as the real base64).
    pub fn encode(&self) -> String {
        let doc = serde_json::json!({"v": "meta.k8s.io/v1", "rv": self.rv, "ns": self.start_after.0, "name": self.start_after.1}).to_string();
        doc.bytes().flat_map(|b| [HEX[(b >> 4) as usize] as char, HEX[(b & 15) as usize] as char]).collect()
    }

    pub fn decode(token: &str) -> Result<Self, ApiError> {
        let bad = || {
            ApiError::bad_request(
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            )
        };
        if !token.len().is_multiple_of(2) {
            return Err(bad());
        }
        let bytes = (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(token.get(i..i + 2).unwrap_or("zz"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| bad())?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        match (v["rv"].as_u64(), v["ns"].as_str(), v["name"].as_str()) {
            (Some(rv), Some(ns), Some(name)) => Ok(Self { rv, start_after: (ns.to_string(), name.to_string()) }),
            _ => Err(bad()),
        }
    }
}

/// The real server's message when a continue token's snapshot was compacted.
pub const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(labels: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "ns", "labels": labels}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})
    }

    #[test]
    fn label_selector_operators() {
        let o = pod(json!({"app": "web", "tier": "fe"}));
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app in (db, web)", true),
            ("app notin (web)", false),
            ("missing notin (web)", true),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("app=web,tier in (fe),!x", true),
            ("app=web,tier=be", false),
            ("", true),
        ] {
            assert_eq!(LabelSelector::parse(sel).unwrap().matches(&o), want, "{sel}");
        }
        assert!(LabelSelector::parse("app in web").is_err());
        assert!(LabelSelector::parse("a b c").is_err());
    }

    #[test]
    fn field_selector_fields_per_type() {
        let o = pod(json!({}));
        let f = FieldSelector::parse("spec.nodeName=n1,status.phase!=Pending,metadata.name==p", &PODS).unwrap();
        assert!(f.matches(&o));
        assert!(!FieldSelector::parse("metadata.namespace=other", &PODS).unwrap().matches(&o));
        let node = json!({"spec": {"unschedulable": true}});
        assert!(FieldSelector::parse("spec.unschedulable=true", &NODES).unwrap().matches(&node));
        let ev = json!({"involvedObject": {"name": "p", "uid": "u"}, "source": {"component": "kubelet"}});
        let f = FieldSelector::parse("involvedObject.name=p,involvedObject.uid=u,source=kubelet", &EVENTS).unwrap();
        assert!(f.matches(&ev));
        let err = FieldSelector::parse("spec.nodeName=n1", &super::super::resources::CONFIGMAPS).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (400, "field label not supported: spec.nodeName"));
    }

    #[test]
    fn query_decodes_repeated_and_escaped_params() {
        let q = Query::parse(Some("command=echo&command=hi+there&labelSelector=a%3Db%2Cc&watch=1"));
        assert_eq!(q.all("command"), ["echo", "hi there"]);
        assert_eq!(q.get("labelSelector"), Some("a=b,c"));
        assert!(q.flag("watch"));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn continue_token_round_trips_and_rejects_garbage() {
        let c = Continue { rv: 1234, start_after: ("ns".into(), "p-7".into()) };
        assert_eq!(Continue::decode(&c.encode()).unwrap(), c);
        assert_eq!(Continue::decode("xyz").unwrap_err().code, 400);
        assert_eq!(Continue::decode("abcd").unwrap_err().code, 400);
    }
}
