//! The JSON validation report: the [`RunRecord`] as a `ValidationReport` document (`apiVersion:
//! vmmigrate.kubevirt.io/v1alpha1`, `schemaVersion: "1"`) with the verdict beside it. The schema is
//! `docs/report.schema.json` (JSON Schema draft 2020-12); a test validates every fixture report against it.

use serde::Serialize;

use super::{ReportError, verdict};
use crate::record::RunRecord;

pub const API_VERSION: &str = "vmmigrate.kubevirt.io/v1alpha1";
pub const KIND: &str = "ValidationReport";
/// Bumped when a field changes meaning or goes away (adding fields keeps it).
pub const SCHEMA_VERSION: &str = "1";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    api_version: &'static str,
    kind: &'static str,
    schema_version: &'static str,
    verdict: VerdictDoc,
    #[serde(flatten)]
    record: &'a RunRecord,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VerdictDoc {
    /// `PASS` or `FAIL`.
    result: &'static str,
    reasons: Vec<String>,
}

/// The report as a JSON value.
pub fn to_value(record: &RunRecord) -> Result<serde_json::Value, ReportError> {
    let v = verdict(record);
    let doc = Document {
        api_version: API_VERSION,
        kind: KIND,
        schema_version: SCHEMA_VERSION,
        verdict: VerdictDoc { result: v.label(), reasons: v.reasons },
        record,
    };
    serde_json::to_value(&doc).map_err(|e| ReportError::Render { format: "JSON", detail: e.to_string() })
}

/// The report as pretty-printed JSON (with a final newline).
pub fn render(record: &RunRecord) -> Result<String, ReportError> {
    let text = serde_json::to_string_pretty(&to_value(record)?)
        .map_err(|e| ReportError::Render { format: "JSON", detail: e.to_string() })?;
    Ok(text + "\n")
}
