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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::fixture;
    use super::*;

    const SCHEMA: &str = include_str!("../../docs/report.schema.json");

    fn validator() -> jsonschema::Validator {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        jsonschema::draft202012::new(&schema).unwrap_or_else(|e| panic!("the schema is not valid draft 2020-12: {e}"))
    }

    fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
        v.iter_errors(doc).map(|e| format!("{}: {e}", e.instance_path())).collect()
    }

    #[test]
    fn every_kind_of_run_validates_against_the_documented_schema() {
        let v = validator();
        let mut no_environment = fixture::failed();
        no_environment.environment = None;
        no_environment.check = None;
        no_environment.hops.clear();
        no_environment.error = Some("cannot reach the API server".into());
        no_environment.exit_code = 1;
        for (name, record) in [
            ("success", fixture::success_with_probe()),
            ("success without probe", fixture::success_without_probe()),
            ("failure", fixture::failed()),
            ("aborted", fixture::aborted()),
            ("gate failed", fixture::gate_failed()),
            ("five hops", fixture::repeated(5)),
            ("nothing read", no_environment),
        ] {
            let doc: Value = serde_json::from_str(&render(&record).unwrap()).unwrap();
            assert_eq!(doc["apiVersion"], API_VERSION);
            assert_eq!(doc["kind"], KIND);
            assert_eq!(doc["schemaVersion"], SCHEMA_VERSION);
            let errs = errors(&v, &doc);
            assert!(errs.is_empty(), "{name}: {errs:#?}");
        }
    }

    #[test]
    fn the_json_carries_the_verdict_and_the_measurements() {
        let doc = to_value(&fixture::gate_failed()).unwrap();
        assert_eq!(doc["verdict"]["result"], "FAIL");
        assert_eq!(doc["exitCode"], 7);
        let downtime = &doc["hops"][0]["targets"][0]["analysis"]["downtime"];
        assert_eq!(downtime["status"], "measured");
        assert!((downtime["ms"].as_f64().unwrap() - 730.0).abs() < 30.0, "{downtime}");
        assert_eq!(doc["hops"][0]["targets"][1]["analysis"]["downtime"]["status"], "belowResolution");
        assert_eq!(doc["environment"]["kubevirtVersion"], "v1.5.2");
    }

    #[test]
    fn the_schema_rejects_broken_reports() {
        let v = validator();
        let good = to_value(&fixture::success_with_probe()).unwrap();
        type Breakage = (&'static str, fn(&mut Value));
        let breakages: [Breakage; 7] = [
            ("no schemaVersion", |d| {
                d.as_object_mut().unwrap().remove("schemaVersion");
            }),
            ("wrong kind", |d| d["kind"] = json!("CheckReport")),
            ("unknown verdict", |d| d["verdict"]["result"] = json!("MAYBE")),
            ("measured downtime without its value", |d| {
                d["hops"][0]["targets"][0]["analysis"]["downtime"].as_object_mut().unwrap().remove("ms");
            }),
            ("loss ratio above 1", |d| d["hops"][0]["targets"][0]["analysis"]["lossRatio"] = json!(1.5)),
            ("undocumented field", |d| d["hops"][0]["surprise"] = json!(true)),
            ("no analysis and no reason", |d| {
                d["hops"][0]["targets"][0]["analysis"] = Value::Null;
                d["hops"][0]["targets"][0]["notMeasured"] = Value::Null;
            }),
        ];
        assert!(errors(&v, &good).is_empty());
        for (name, breaking) in breakages {
            let mut doc = good.clone();
            breaking(&mut doc);
            assert!(!v.is_valid(&doc), "the schema accepted a report with {name}");
        }
    }
}
