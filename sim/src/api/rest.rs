//! The REST verbs on objects: list, create, update, patch, delete, deletecollection and eviction, each passing
//! admission before the store writes.

use std::sync::Arc;

use axum::response::Response;
use serde_json::{Value, json};

use super::error::ApiError;
use super::fields::{self, FieldValidation};
use super::hooks::{AdmissionRequest, Operation};
use super::patch::{self, PatchType};
use super::query::{CONTINUE_EXPIRED, Continue};
use super::resources::{self, ResourceType};
use super::server::{ApiState, Ctx, error_response, json_response};
use super::store::UpdateMode;
use super::table;
use super::{kubelet, pods};

fn meta<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj["metadata"][field].as_str()
}

/// The object a write addresses.
#[derive(Clone, Copy)]
struct Target<'a> {
    rt: &'static ResourceType,
    ns: Option<&'a str>,
    name: &'a str,
    sub: Option<&'a str>,
    dry_run: bool,
}

fn admit(
    st: &ApiState,
    operation: Operation,
    t: &Target<'_>,
    old: Option<&Value>,
    obj: &mut Value,
) -> Result<(), ApiError> {
    let req = AdmissionRequest {
        operation,
        resource: t.rt,
        subresource: t.sub,
        namespace: t.ns,
        name: t.name,
        old,
        dry_run: t.dry_run,
        store: &st.store,
    };
    st.admission.admit(&req, obj)
}

/// `GET` of a collection: selectors, `limit` and `continue`.
pub fn list(st: &ApiState, ctx: &Ctx, rt: &'static ResourceType, ns: Option<&str>) -> Result<Response, ApiError> {
    let q = &ctx.query;
    let sel = q.selectors(rt)?;
    let limit = q.number("limit")?.filter(|l| *l > 0);
    let token = q.get("continue").filter(|c| !c.is_empty()).map(Continue::decode).transpose()?;
    let exact = match (q.get("resourceVersionMatch"), q.number("resourceVersion")?) {
        (Some("Exact"), Some(rv)) if rv > 0 => Some(rv),
        _ => None,
    };
    // Later pages come from the first page's snapshot, as etcd serves them.
    let (at, too_old) = match (&token, exact) {
        (Some(t), _) => (Some(t.rv), CONTINUE_EXPIRED),
        (None, Some(rv)) if rv > st.store.current_rv() => {
            return Err(ApiError::new(
                504,
                "Timeout",
                format!("Timeout: Too large resource version: {rv}, current: {}", st.store.current_rv()),
            ));
        }
        (None, Some(rv)) => (Some(rv), "The resourceVersion for the provided list is too old."),
        (None, None) => (None, ""),
    };
    let start_after = token.as_ref().map(|t| &t.start_after);
    let limit = limit.map(|l| l as usize);
    let page = st.store.list_page(rt, ns, at, start_after, &|o| sel.matches(o), limit).map_err(|_| {
        let mut e = ApiError::expired(too_old);
        if token.is_some() {
            e.details = Some(json!({}));
        }
        e
    })?;
    let mut matching = page.items;
    let mut metadata = json!({"resourceVersion": page.rv.to_string()});
    if page.remaining > 0 {
        let key =
            |o: &Value| (meta(o, "namespace").unwrap_or("").to_string(), meta(o, "name").unwrap_or("").to_string());
        let last = matching.last().map(key).unwrap_or_default();
        metadata["continue"] = json!(Continue { rv: page.rv, start_after: last }.encode());
        // The real server counts the rest only when no selector filters it.
        if sel == Default::default() {
            metadata["remainingItemCount"] = json!(page.remaining);
        }
    }
    if table::wanted(&ctx.headers) {
        let include = table::IncludeObject::parse(q.get("includeObject"));
        return Ok(json_response(200, &table::table(rt, &matching, metadata, include, st.store.clock().now(), true)));
    }
    if rt.is_builtin() {
        // Items of built-in lists carry no apiVersion and kind.
        for o in &mut matching {
            if let Some(m) = o.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
        }
    }
    Ok(json_response(
        200,
        &json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": metadata, "items": matching}),
    ))
}

/// The namespace of a body must be the path's.
fn check_namespace(obj: &Value, ns: Option<&str>) -> Result<(), ApiError> {
    match (meta(obj, "namespace").filter(|n| !n.is_empty()), ns) {
        (Some(body), Some(path)) if body != path => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => Ok(()),
    }
}

/// `apiVersion` and `kind` of a body, when set, must be the path's.
fn check_kind(obj: &Value, rt: &ResourceType) -> Result<(), ApiError> {
    if let Some(av) = obj["apiVersion"].as_str().filter(|a| *a != rt.api_version()) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            rt.api_version()
        )));
    }
    if let Some(k) = obj["kind"].as_str().filter(|k| *k != rt.kind) {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            rt.kind
        )));
    }
    Ok(())
}

/// A name must be a DNS-1123 subdomain (lower case alphanumerics, `-` and `.`, at most 253 characters).
fn check_name(rt: &'static ResourceType, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        return Ok(());
    }
    let msg = format!(
        "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    );
    Err(ApiError::invalid(rt, rt.kind, name, &[("metadata.name", &msg)]))
}

/// Checks the fields of a written object (see [`fields::check_write`]).
fn validate_fields(
    ctx: &Ctx,
    rt: &ResourceType,
    obj: &mut Value,
    old: Option<&Value>,
) -> Result<Vec<String>, ApiError> {
    fields::check_write(rt, FieldValidation::parse(ctx.query.get("fieldValidation"))?, obj, old)
}

/// The answer of a write, the object or the error, with the warnings collected on the way as `Warning` headers
/// (`299 - "<text>"`) either way, as the real server's warning recorder sends them.
fn answer(result: Result<(u16, Value), ApiError>, warnings: &[String]) -> Response {
    let mut r = match result {
        Ok((code, body)) => json_response(code, &body),
        Err(e) => error_response(&e),
    };
    for w in warnings {
        let quoted = format!("299 - \"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""));
        if let Ok(v) = axum::http::HeaderValue::from_str(&quoted) {
            r.headers_mut().append(axum::http::header::WARNING, v);
        }
    }
    r
}

/// What the type's registry strategy does to a new object.
fn prepare_create(rt: &'static ResourceType, obj: &mut Value) {
    if rt == &resources::PODS {
        pods::prepare_create(obj);
    } else if rt == &resources::NAMESPACES {
        obj["spec"] = json!({"finalizers": ["kubernetes"]});
        obj["status"] = json!({"phase": "Active"});
        let name = meta(obj, "name").unwrap_or_default().to_string();
        obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
    } else if rt.has_status()
        && rt != &resources::NODES
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
}

/// `POST` of a collection.
pub fn create(st: &ApiState, ctx: &Ctx, rt: &'static ResourceType, ns: Option<&str>) -> Result<Response, ApiError> {
    let mut warnings = Vec::new();
    let result = create_object(st, ctx, rt, ns, &mut warnings).map(|o| (201, o));
    Ok(answer(result, &warnings))
}

fn create_object(
    st: &ApiState,
    ctx: &Ctx,
    rt: &'static ResourceType,
    ns: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Value, ApiError> {
    let dry_run = ctx.query.dry_run()?;
    let mut obj = ctx.json_body()?;
    check_namespace(&obj, ns)?;
    check_kind(&obj, rt)?;
    if let Some(name) = meta(&obj, "name").filter(|n| !n.is_empty()) {
        check_name(rt, name)?;
    }
    if meta(&obj, "resourceVersion").is_some_and(|rv| !rv.is_empty()) {
        return Err(ApiError::bad_request("resourceVersion should not be set on objects to be created"));
    }
    *warnings = validate_fields(ctx, rt, &mut obj, None)?;
    if let Some(e) = st.faults.create_error(rt.plural) {
        return Err(e);
    }
    prepare_create(rt, &mut obj);
    let name = meta(&obj, "name").unwrap_or_default().to_string();
    let t = Target { rt, ns, name: &name, sub: None, dry_run };
    admit(st, Operation::Create, &t, None, &mut obj)?;
    st.store.create(rt, ns, obj, dry_run)
}

fn update_mode(sub: Option<&str>) -> Result<UpdateMode, ApiError> {
    match sub {
        None | Some("ephemeralcontainers") => Ok(UpdateMode::Main),
        Some("status") => Ok(UpdateMode::Status),
        Some(_) => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )),
    }
}

/// Admits and writes the new state of an existing object.
fn write(st: &ApiState, t: &Target<'_>, old: &Value, mut obj: Value) -> Result<Value, ApiError> {
    let mode = update_mode(t.sub)?;
    if t.sub == Some("ephemeralcontainers") {
        obj = pods::ephemeral_update(old, &obj)?;
    }
    admit(st, Operation::Update, t, Some(old), &mut obj)?;
    st.store.update(t.rt, t.ns, t.name, obj, mode, t.dry_run)
}

/// `PUT` of an object or its `status` / `ephemeralcontainers` subresource.
pub fn update(
    st: &ApiState,
    ctx: &Ctx,
    rt: &'static ResourceType,
    ns: Option<&str>,
    name: &str,
    sub: Option<&str>,
) -> Result<Response, ApiError> {
    let mut warnings = Vec::new();
    let t = Target { rt, ns, name, sub, dry_run: false };
    let result = update_object(st, ctx, t, &mut warnings).map(|o| (200, o));
    Ok(answer(result, &warnings))
}

fn update_object(st: &ApiState, ctx: &Ctx, t: Target<'_>, warnings: &mut Vec<String>) -> Result<Value, ApiError> {
    let t = Target { dry_run: ctx.query.dry_run()?, ..t };
    let mut obj = ctx.json_body()?;
    check_namespace(&obj, t.ns)?;
    check_kind(&obj, t.rt)?;
    let old = st.store.get(t.rt, t.ns, t.name)?;
    *warnings = validate_fields(ctx, t.rt, &mut obj, Some(&old))?;
    write(st, &t, &old, obj)
}

/// `PATCH`: applies the patch to the stored object and writes it as an update; retried on a conflict unless
/// the patch itself asked for a resourceVersion.
pub async fn patch(
    st: &Arc<ApiState>,
    ctx: &Ctx,
    rt: &'static ResourceType,
    ns: Option<&str>,
    name: &str,
    sub: Option<&str>,
) -> Result<Response, ApiError> {
    let mut warnings = Vec::new();
    let t = Target { rt, ns, name, sub, dry_run: false };
    let result = patch_object(st, ctx, t, &mut warnings).await;
    Ok(answer(result, &warnings))
}

async fn patch_object(
    st: &ApiState,
    ctx: &Ctx,
    t: Target<'_>,
    warnings: &mut Vec<String>,
) -> Result<(u16, Value), ApiError> {
    let Target { rt, ns, name, sub, .. } = t;
    let dry_run = ctx.query.dry_run()?;
    let t = Target { dry_run, ..t };
    let kind = PatchType::from_content_type(ctx.header(axum::http::header::CONTENT_TYPE), rt)?;
    if kind == PatchType::Apply && ctx.query.get("fieldManager").is_none_or(str::is_empty) {
        return Err(ApiError::invalid(
            &resources::NAMESPACES,
            "PatchOptions.meta.k8s.io",
            "",
            &[("fieldManager", "Required value: is required for apply patch")],
        ));
    }
    for _ in 0..8 {
        let old = match st.store.get(rt, ns, name) {
            Err(e) if e.code == 404 && kind == PatchType::Apply && sub.is_none() => {
                // Server-side apply creates what does not exist.
                let mut obj = patch::apply(kind, &json!({"metadata": {}}), &ctx.body)?;
                obj["metadata"]["name"] = json!(name);
                check_namespace(&obj, ns)?;
                *warnings = validate_fields(ctx, rt, &mut obj, None)?;
                prepare_create(rt, &mut obj);
                admit(st, Operation::Create, &Target { sub: None, ..t }, None, &mut obj)?;
                return Ok((201, st.store.create(rt, ns, obj, dry_run)?));
            }
            r => r?,
        };
        let mut new = patch::apply(kind, &old, &ctx.body)?;
        *warnings = validate_fields(ctx, rt, &mut new, Some(&old))?;
        let asked_rv = meta(&new, "resourceVersion") != meta(&old, "resourceVersion");
        match write(st, &t, &old, new) {
            Err(e) if e.code == 409 && e.reason == "Conflict" && !asked_rv => tokio::task::yield_now().await,
            r => return Ok((200, r?)),
        }
    }
    Err(ApiError::conflict(rt, name))
}

/// Whether DELETE answers with the object (as pods, namespaces and custom resources do) rather than a Status.
fn returns_deleted_object(rt: &ResourceType) -> bool {
    !rt.is_builtin() || rt == &resources::PODS || rt == &resources::NAMESPACES || rt == &resources::SERVICES
}

fn delete_options(ctx: &Ctx) -> Result<Value, ApiError> {
    if ctx.body.is_empty() {
        return Ok(json!({}));
    }
    ctx.json_body()
}

fn delete_one(st: &ApiState, t: &Target<'_>, opts: &Value) -> Result<Value, ApiError> {
    let Target { rt, ns, name, dry_run, .. } = *t;
    let mut old = st.store.get(rt, ns, name)?;
    let pre = &opts["preconditions"];
    if let Some(uid) = pre["uid"].as_str().filter(|u| Some(*u) != meta(&old, "uid")) {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                rt.qualified(),
                meta(&old, "uid").unwrap_or("")
            ),
        ));
    }
    if let Some(rv) = pre["resourceVersion"].as_str().filter(|r| Some(*r) != meta(&old, "resourceVersion")) {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                rt.qualified(),
                meta(&old, "resourceVersion").unwrap_or("")
            ),
        ));
    }
    let snapshot = old.clone();
    admit(st, Operation::Delete, t, Some(&snapshot), &mut old)?;
    if rt == &resources::NAMESPACES && !dry_run {
        // The namespace controller's work, done at once: everything in the namespace goes first.
        for t in resources::ALL.iter().copied().filter(|t| t.namespaced) {
            for o in st.store.list(t, Some(name)).0 {
                let _ = st.store.delete(t, Some(name), meta(&o, "name").unwrap_or_default(), false);
            }
        }
    }
    // Pods the emulated kubelet runs go gracefully: it removes them once their containers stopped.
    let grace = (rt == &resources::PODS && st.pod_lifecycle && !kubelet::managed_elsewhere(&old))
        .then(|| pods::grace_period(&old, opts))
        .flatten();
    match grace {
        Some(g) => st.store.delete_gracefully(rt, ns, name, g, dry_run),
        None => st.store.delete(rt, ns, name, dry_run),
    }
}

fn deleted_answer(rt: &ResourceType, obj: Value) -> (u16, Value) {
    if obj["metadata"].get("deletionTimestamp").is_some() || returns_deleted_object(rt) {
        return (200, obj);
    }
    let mut details = json!({"name": meta(&obj, "name"), "kind": rt.plural, "uid": meta(&obj, "uid")});
    if !rt.group.is_empty() {
        details["group"] = json!(rt.group);
    }
    (200, json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}))
}

/// `DELETE` of an object.
pub fn delete(
    st: &ApiState,
    ctx: &Ctx,
    rt: &'static ResourceType,
    ns: Option<&str>,
    name: &str,
) -> Result<Response, ApiError> {
    let opts = delete_options(ctx)?;
    let dry_run = ctx.query.dry_run()? || opts["dryRun"].as_array().is_some_and(|a| a.iter().any(|v| v == "All"));
    let obj = delete_one(st, &Target { rt, ns, name, sub: None, dry_run }, &opts)?;
    let (code, body) = deleted_answer(rt, obj);
    Ok(json_response(code, &body))
}

/// `DELETE` of a collection (with selectors): answers the list of what was deleted.
pub fn delete_collection(
    st: &ApiState,
    ctx: &Ctx,
    rt: &'static ResourceType,
    ns: Option<&str>,
) -> Result<Response, ApiError> {
    let opts = delete_options(ctx)?;
    let dry_run = ctx.query.dry_run()?;
    let sel = ctx.query.selectors(rt)?;
    let (items, rv) = st.store.list(rt, ns);
    let mut deleted = Vec::new();
    for o in items.iter().filter(|o| sel.matches(o)) {
        let (ons, name) = (meta(o, "namespace"), meta(o, "name").unwrap_or_default());
        match delete_one(st, &Target { rt, ns: ons, name, sub: None, dry_run }, &opts) {
            Ok(d) => deleted.push(d),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(json_response(
        200,
        &json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": {"resourceVersion": rv.to_string()}, "items": deleted}),
    ))
}

/// `POST pods/{name}/eviction`: deletes the pod (no PodDisruptionBudgets are simulated).
pub fn evict(st: &ApiState, ctx: &Ctx, ns: Option<&str>, name: &str) -> Result<Response, ApiError> {
    let body = ctx.json_body()?;
    let opts = body.get("deleteOptions").cloned().unwrap_or_else(|| json!({}));
    let dry_run = ctx.query.dry_run()? || opts["dryRun"].as_array().is_some_and(|a| a.iter().any(|v| v == "All"));
    delete_one(st, &Target { rt: &resources::PODS, ns, name, sub: None, dry_run }, &opts)?;
    Ok(json_response(
        201,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}
