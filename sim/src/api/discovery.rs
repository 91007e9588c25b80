//! Discovery documents: `/version`, `/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>` and the minimal
//! OpenAPI v3 index kubectl reads to learn that the server validates fields itself.

use serde_json::{Value, json};

use super::resources::{ALL, ResourceType};

/// `/version` of a Kubernetes v1.34 API server.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "34",
        "emulationMajor": "1",
        "emulationMinor": "34",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "33",
        "gitVersion": "v1.34.1",
        "gitCommit": "93248f9ae092f571eb870b7664c534bfc7d00f03",
        "gitTreeState": "clean",
        "buildDate": "2025-09-09T19:44:50Z",
        "goVersion": "go1.24.6",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api`: the core group's versions.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

/// The named groups in the order of [`ALL`], each with its one version.
fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for rt in ALL.iter().filter(|r| !r.group.is_empty()) {
        if !out.iter().any(|(g, _)| *g == rt.group) {
            out.push((rt.group, rt.version));
        }
    }
    out
}

fn group_doc(group: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv})
}

/// `/apis`: every named group.
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups().into_iter().map(|(g, v)| group_doc(g, v)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`.
pub fn group(name: &str) -> Option<Value> {
    let (g, v) = groups().into_iter().find(|(g, _)| *g == name)?;
    let mut doc = group_doc(g, v);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// Kind and verbs of a subresource, as the real server lists them.
fn subresource(
    rt: &ResourceType,
    sub: &str,
) -> (String, &'static [&'static str], Option<(&'static str, &'static str)>) {
    match sub {
        "status" => (rt.kind.to_string(), &["get", "patch", "update"], None),
        "log" => (rt.kind.to_string(), &["get"], None),
        "exec" => ("PodExecOptions".to_string(), &["create", "get"], None),
        "attach" => ("PodAttachOptions".to_string(), &["create", "get"], None),
        "ephemeralcontainers" => (rt.kind.to_string(), &["get", "patch", "update"], None),
        "eviction" => ("Eviction".to_string(), &["create"], Some(("policy", "v1"))),
        _ => (rt.kind.to_string(), &["get"], None),
    }
}

/// `/api/v1` or `/apis/<group>/<version>`: the resources of one group version, with subresources.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = ALL.iter().copied().filter(|r| r.group == group && r.version == version).collect();
    if types.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for rt in &types {
        let mut r = json!({
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": rt.verbs,
        });
        if !rt.short_names.is_empty() {
            r["shortNames"] = json!(rt.short_names);
        }
        if !rt.categories.is_empty() {
            r["categories"] = json!(rt.categories);
        }
        resources.push(r);
        for sub in rt.subresources {
            let (kind, verbs, gv) = subresource(rt, sub);
            let mut s = json!({
                "name": format!("{}/{}", rt.plural, sub),
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if let Some((g, v)) = gv {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            resources.push(s);
        }
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}

/// `/openapi/v3`: the index of group-version documents.
pub fn openapi_v3_index() -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert("api/v1".into(), json!({"serverRelativeURL": "/openapi/v3/api/v1?hash=vmmigrate-sim"}));
    for (g, v) in groups() {
        paths.insert(
            format!("apis/{g}/{v}"),
            json!({"serverRelativeURL": format!("/openapi/v3/apis/{g}/{v}?hash=vmmigrate-sim")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/<g>/<v>`: only what kubectl reads from it, namely that the create
/// and patch operations of each kind accept the `fieldValidation` query parameter (then kubectl leaves
/// validation to the server instead of downloading schemas). No schemas are served.
pub fn openapi_v3_group_version(group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = ALL.iter().copied().filter(|r| r.group == group && r.version == version).collect();
    if types.is_empty() {
        return None;
    }
    let prefix = if group.is_empty() { "/api/v1".to_string() } else { format!("/apis/{group}/{version}") };
    let mut paths = serde_json::Map::new();
    for rt in types {
        let gvk = json!([{"group": rt.group, "version": rt.version, "kind": rt.kind}]);
        let op = |action: &str| {
            json!({
                "operationId": format!("{action}{}", rt.kind),
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}],
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk[0].clone(),
            })
        };
        let base = if rt.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", rt.plural)
        } else {
            format!("{prefix}/{}", rt.plural)
        };
        paths.insert(base.clone(), json!({"post": op("post")}));
        paths.insert(format!("{base}/{{name}}"), json!({"put": op("put"), "patch": op("patch")}));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.34.1"},
        "paths": paths,
        "components": {"schemas": {}}
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_in_the_list_has_a_resource_list() {
        let list = group_list();
        for g in list["groups"].as_array().unwrap() {
            let gv = g["preferredVersion"]["groupVersion"].as_str().unwrap();
            let (group, version) = gv.split_once('/').unwrap();
            let rl = resource_list(group, version).unwrap();
            assert_eq!(rl["groupVersion"], gv);
            assert!(!rl["resources"].as_array().unwrap().is_empty());
        }
        assert!(resource_list("nope.io", "v1").is_none());
    }

    #[test]
    fn core_list_has_pod_subresources_and_short_names() {
        let rl = resource_list("", "v1").unwrap();
        let names: Vec<&str> =
            rl["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        for n in ["pods", "pods/log", "pods/exec", "pods/ephemeralcontainers", "pods/status", "namespaces"] {
            assert!(names.contains(&n), "{n}");
        }
        let pods = &rl["resources"].as_array().unwrap().iter().find(|r| r["name"] == "pods").unwrap().clone();
        assert_eq!(pods["shortNames"], json!(["po"]));
        let exec = rl["resources"].as_array().unwrap().iter().find(|r| r["name"] == "pods/exec").unwrap();
        assert_eq!(exec["kind"], "PodExecOptions");
    }

    #[test]
    fn openapi_declares_field_validation_for_patch_of_each_kind() {
        let doc = openapi_v3_group_version("kubevirt.io", "v1").unwrap();
        let p = &doc["paths"]["/apis/kubevirt.io/v1/namespaces/{namespace}/virtualmachineinstancemigrations/{name}"];
        assert_eq!(p["patch"]["x-kubernetes-group-version-kind"]["kind"], "VirtualMachineInstanceMigration");
        assert_eq!(p["patch"]["parameters"][0]["name"], "fieldValidation");
    }
}
