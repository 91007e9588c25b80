//! The audit log: one JSON object per request, kept in memory for tests and optionally appended to a file,
//! one object per line. Authorization headers and tokens are never recorded.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

/// One request as the audit log records it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Wall-clock time the request arrived, RFC 3339 with milliseconds.
    pub time: String,
    pub method: String,
    pub path: String,
    /// The raw query string, `""` when there is none.
    pub query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The body, parsed when it is JSON, else as text; absent when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<Value>,
    pub response_status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl AuditRecord {
    /// The body as the log keeps it: JSON when it parses, else text.
    pub fn body_value(body: &[u8]) -> Option<Value> {
        if body.is_empty() {
            return None;
        }
        Some(serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned())))
    }
}

/// The server's audit log. Cheap to clone.
#[derive(Clone, Default)]
pub struct AuditLog {
    records: Arc<Mutex<Vec<AuditRecord>>>,
    file: Option<Arc<Mutex<File>>>,
}

impl AuditLog {
    /// An audit log kept in memory and, with `path`, appended to that file (created or truncated).
    pub fn new(path: Option<&Path>) -> std::io::Result<Self> {
        let file = path.map(File::create).transpose()?.map(|f| Arc::new(Mutex::new(f)));
        Ok(Self { records: Arc::default(), file })
    }

    pub fn record(&self, rec: AuditRecord) {
        if let Some(f) = &self.file
            && let Ok(line) = serde_json::to_string(&rec)
        {
            let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
            // The audit file is best effort: a full disk must not fail the request.
            let _ = writeln!(f, "{line}");
        }
        self.records.lock().unwrap_or_else(|e| e.into_inner()).push(rec);
    }

    /// Every request so far, in arrival order of their answers.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many requests were answered so far.
    pub fn count(&self) -> usize {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Now, as the audit log writes times.
pub fn now_millis() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_go_to_memory_and_file_as_json_lines() {
        let dir = std::env::temp_dir().join(format!("vmmigrate-sim-audit-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log");
        let log = AuditLog::new(Some(&path)).unwrap();
        let rec = AuditRecord {
            time: now_millis(),
            method: "POST".into(),
            path: "/api/v1/namespaces/default/pods".into(),
            query: "dryRun=All".into(),
            content_type: Some("application/json".into()),
            request_body: AuditRecord::body_value(br#"{"a":1}"#),
            response_status: 201,
            user_agent: None,
        };
        log.record(rec.clone());
        log.record(AuditRecord { request_body: AuditRecord::body_value(b"not json"), ..rec });
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["requestBody"]["a"], 1);
        assert_eq!(lines[0]["responseStatus"], 201);
        assert_eq!(lines[1]["requestBody"], "not json");
        assert_eq!(log.count(), 2);
        assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
