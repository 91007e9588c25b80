//! The HTTP layer: one handler that reads the request, finds the route, checks RBAC, dispatches to the REST,
//! watch, log, exec and access-review handlers, and records the request in the audit log.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::audit::{AuditLog, AuditRecord, now_millis};
use super::discovery;
use super::error::ApiError;
use super::faults::FaultsHandle;
use super::hooks::{Admission, ExecHandler};
use super::query::Query;
use super::resources::{self, ResourceType};
use super::store::Store;
use super::table;
use super::{access, exec, logs, rest, watch as watch_api};

/// The user every request is authenticated as.
pub const USER: &str = "vmmigrate-sim-user";

/// Requests bodies larger than this are refused (the real server's limit is 3 MiB for most writes).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Everything the handlers share.
pub struct ApiState {
    pub store: Store,
    pub admission: Arc<dyn Admission>,
    pub exec: Arc<dyn ExecHandler>,
    pub faults: FaultsHandle,
    pub audit: AuditLog,
    /// `host:port` the server listens on, for `/api`.
    pub address: String,
    /// Turns true when the server shuts down; long-running streams end then.
    pub shutdown: watch::Receiver<bool>,
    /// Whether the emulated kubelet runs plain pods (then their deletion is graceful).
    pub pod_lifecycle: bool,
}

/// One request, read in full.
pub struct Ctx {
    pub method: Method,
    pub path: String,
    pub raw_query: String,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The connection upgrade of a websocket request, taken by the one handler that upgrades.
    upgrade: std::sync::Mutex<Option<hyper::upgrade::OnUpgrade>>,
}

impl Ctx {
    /// Takes the connection upgrade (once).
    pub fn take_upgrade(&self) -> Option<hyper::upgrade::OnUpgrade> {
        self.upgrade.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The request body as a JSON (or YAML) object; 415 for other media types.
    pub fn json_body(&self) -> Result<Value, ApiError> {
        let media = self.header(header::CONTENT_TYPE).unwrap_or("application/json");
        let media = media.split(';').next().unwrap_or("").trim();
        let v: Value = match media {
            "application/json" | "" | "*/*" => serde_json::from_slice(&self.body)
                .map_err(|e| ApiError::bad_request(format!("the body of the request could not be decoded: {e}")))?,
            "application/yaml" => {
                let text = std::str::from_utf8(&self.body).map_err(|e| ApiError::bad_request(e.to_string()))?;
                serde_saphyr::from_str(text).map_err(|e| ApiError::bad_request(e.to_string()))?
            }
            other => {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    format!(
                        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {other})"
                    ),
                ));
            }
        };
        if !v.is_object() {
            return Err(ApiError::bad_request("the body of the request must be a JSON object"));
        }
        Ok(v)
    }
}

/// A JSON response.
pub fn json_response(code: u16, body: &Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    r
}

/// An error as a `metav1.Status` response, with `Retry-After` where the error carries one.
pub fn error_response(e: &ApiError) -> Response {
    let mut r = json_response(e.code, &e.to_status());
    if let Some(s) = e.retry_after
        && let Ok(v) = header::HeaderValue::from_str(&s.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn not_found() -> ApiError {
    let mut e = ApiError::new(404, "NotFound", "the server could not find the requested resource");
    e.details = Some(json!({}));
    e
}

fn method_not_allowed() -> ApiError {
    let mut e =
        ApiError::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    e.details = Some(json!({}));
    e
}

/// What a path names.
#[derive(Debug, PartialEq)]
pub enum Route {
    Version,
    CoreVersions,
    Groups,
    Group(String),
    ResourceList(String, String),
    OpenApiV3Index,
    OpenApiV3(String, String),
    Resource(ResourcePath),
    NotFound,
}

/// A path to a collection, an object or a subresource.
#[derive(Debug, PartialEq)]
pub struct ResourcePath {
    pub rt: &'static ResourceType,
    /// The namespace of the path; `None` for cluster-scoped types and all-namespaces lists.
    pub ns: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
}

/// Parses a request path.
pub fn route(path: &str) -> Route {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", g] => Route::Group(g.to_string()),
        ["openapi", "v3"] => Route::OpenApiV3Index,
        ["openapi", "v3", "api", "v1"] => Route::OpenApiV3(String::new(), "v1".into()),
        ["openapi", "v3", "apis", g, v] => Route::OpenApiV3(g.to_string(), v.to_string()),
        ["api", "v1", rest @ ..] => resource_route("", "v1", rest),
        ["apis", g, v, rest @ ..] => resource_route(g, v, rest),
        _ => Route::NotFound,
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Route {
    let find = |plural: &str| resources::find(group, version, plural);
    let path = |rt, ns: Option<&str>, name: Option<&&str>, sub: Option<&&str>| {
        if sub.is_some_and(|s| !rt_has_sub(rt, s)) {
            return Route::NotFound;
        }
        Route::Resource(ResourcePath {
            rt,
            ns: ns.map(str::to_string),
            name: name.map(|n| n.to_string()),
            sub: sub.map(|s| s.to_string()),
        })
    };
    match rest {
        [] => {
            if resources::ALL.iter().any(|r| r.group == group && r.version == version) {
                Route::ResourceList(group.to_string(), version.to_string())
            } else {
                Route::NotFound
            }
        }
        ["namespaces", ns, plural, tail @ ..] if !(tail.is_empty() && matches!(*plural, "status" | "finalize")) => {
            match find(plural) {
                Some(rt) if rt.namespaced && tail.len() <= 2 => path(rt, Some(ns), tail.first(), tail.get(1)),
                _ => Route::NotFound,
            }
        }
        [plural, tail @ ..] if tail.len() <= 2 => match find(plural) {
            Some(rt) if rt.namespaced && tail.is_empty() => path(rt, None, None, None),
            Some(rt) if !rt.namespaced => path(rt, None, tail.first(), tail.get(1)),
            _ => Route::NotFound,
        },
        _ => Route::NotFound,
    }
}

fn rt_has_sub(rt: &ResourceType, sub: &str) -> bool {
    rt.subresources.contains(&sub) || (rt.plural == "namespaces" && sub == "finalize")
}

/// The RBAC verb of a request.
fn verb(method: &Method, p: &ResourcePath, q: &Query) -> &'static str {
    match *method {
        Method::GET | Method::HEAD if p.name.is_none() => {
            if q.flag("watch") {
                "watch"
            } else {
                "list"
            }
        }
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if p.name.is_none() => "deletecollection",
        Method::DELETE => "delete",
        _ => "",
    }
}

/// The axum router of the API server.
pub fn router(state: Arc<ApiState>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(state)
}

async fn handle(State(st): State<Arc<ApiState>>, req: Request) -> Response {
    let time = now_millis();
    let (mut parts, body) = req.into_parts();
    let upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    let (body, too_large) = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => (b, false),
        Err(_) => (Bytes::new(), true),
    };
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let ctx = Ctx {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: Query::parse(Some(&raw_query)),
        raw_query,
        headers: parts.headers,
        body,
        upgrade: std::sync::Mutex::new(upgrade),
    };
    let answer = if too_large {
        Err(ApiError::new(413, "RequestEntityTooLarge", format!("Request entity too large: limit is {MAX_BODY}")))
    } else {
        dispatch(&st, &ctx).await
    };
    let resp = match answer {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    st.audit.record(AuditRecord {
        time,
        method: ctx.method.to_string(),
        path: ctx.path.clone(),
        query: ctx.raw_query.clone(),
        content_type: ctx.header(header::CONTENT_TYPE).map(str::to_string),
        request_body: AuditRecord::body_value(&ctx.body),
        response_status: resp.status().as_u16(),
        user_agent: ctx.header(header::USER_AGENT).map(str::to_string),
    });
    resp
}

async fn dispatch(st: &Arc<ApiState>, ctx: &Ctx) -> Result<Response, ApiError> {
    let get = ctx.method == Method::GET || ctx.method == Method::HEAD;
    let doc = |v: Option<Value>| v.map(|v| json_response(200, &v)).ok_or_else(not_found);
    match route(&ctx.path) {
        Route::Version if get => Ok(json_response(200, &discovery::version())),
        Route::CoreVersions if get => Ok(json_response(200, &discovery::core_versions(&st.address))),
        Route::Groups if get => Ok(json_response(200, &discovery::group_list())),
        Route::Group(g) if get => doc(discovery::group(&g)),
        Route::ResourceList(g, v) if get => doc(discovery::resource_list(&g, &v)),
        Route::OpenApiV3Index if get => Ok(json_response(200, &discovery::openapi_v3_index())),
        Route::OpenApiV3(g, v) if get => doc(discovery::openapi_v3_group_version(&g, &v)),
        Route::Resource(p) => resource(st, ctx, &p).await,
        Route::NotFound => Err(not_found()),
        _ => Err(method_not_allowed()),
    }
}

async fn resource(st: &Arc<ApiState>, ctx: &Ctx, p: &ResourcePath) -> Result<Response, ApiError> {
    let verb = verb(&ctx.method, p, &ctx.query);
    let sub = p.sub.as_deref();
    // A subresource has its own verbs; the main resource those discovery lists.
    if sub.is_none() && !p.rt.verbs.contains(&verb) {
        return Err(method_not_allowed());
    }
    if st.faults.denies(verb, p.rt.group, p.rt.plural, sub, p.ns.as_deref()) {
        return Err(ApiError::forbidden(USER, verb, p.rt, sub, p.ns.as_deref(), p.name.as_deref().unwrap_or("")));
    }
    let ns = p.ns.as_deref();
    match (&ctx.method, p.name.as_deref(), sub) {
        (&Method::GET, None, None) if ctx.query.flag("watch") => watch_api::watch(st, ctx, p.rt, ns),
        (&Method::GET, None, None) => rest::list(st, ctx, p.rt, ns),
        (&Method::POST, None, None) if p.rt == &resources::SSAR => access::review(st, ctx),
        (&Method::POST, None, None) => rest::create(st, ctx, p.rt, ns),
        (&Method::DELETE, None, None) => rest::delete_collection(st, ctx, p.rt, ns),
        (&Method::GET, Some(name), None | Some("status" | "ephemeralcontainers")) => {
            let obj = st.store.get(p.rt, ns, name)?;
            if table::wanted(&ctx.headers) {
                let include = table::IncludeObject::parse(ctx.query.get("includeObject"));
                let rv = obj["metadata"]["resourceVersion"].clone();
                let t =
                    table::table(p.rt, &[obj], json!({"resourceVersion": rv}), include, st.store.clock().now(), true);
                return Ok(json_response(200, &t));
            }
            Ok(json_response(200, &obj))
        }
        (&Method::PUT, Some(name), sub) => rest::update(st, ctx, p.rt, ns, name, sub),
        (&Method::PATCH, Some(name), sub) => rest::patch(st, ctx, p.rt, ns, name, sub).await,
        (&Method::DELETE, Some(name), None) => rest::delete(st, ctx, p.rt, ns, name),
        (&Method::GET, Some(name), Some("log")) => logs::logs(st, ctx, ns.unwrap_or_default(), name),
        (&Method::GET | &Method::POST, Some(name), Some("exec")) => exec::exec(st, ctx, ns.unwrap_or_default(), name),
        (&Method::POST, Some(_), Some("attach")) => Err(ApiError::bad_request("Upgrade request required")),
        (&Method::POST, Some(name), Some("eviction")) => rest::evict(st, ctx, ns, name),
        _ => Err(method_not_allowed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::{NAMESPACES, NODES, PODS, VMIMS};

    fn res(rt: &'static ResourceType, ns: Option<&str>, name: Option<&str>, sub: Option<&str>) -> Route {
        Route::Resource(ResourcePath {
            rt,
            ns: ns.map(Into::into),
            name: name.map(Into::into),
            sub: sub.map(Into::into),
        })
    }

    #[test]
    fn routes_cover_namespaced_cluster_and_subresource_paths() {
        assert_eq!(route("/api/v1/namespaces/a/pods"), res(&PODS, Some("a"), None, None));
        assert_eq!(route("/api/v1/namespaces/a/pods/p/log"), res(&PODS, Some("a"), Some("p"), Some("log")));
        assert_eq!(route("/api/v1/pods"), res(&PODS, None, None, None));
        assert_eq!(route("/api/v1/pods/p"), Route::NotFound);
        assert_eq!(route("/api/v1/namespaces/a/pods/p/nope"), Route::NotFound);
        assert_eq!(route("/api/v1/namespaces"), res(&NAMESPACES, None, None, None));
        assert_eq!(route("/api/v1/namespaces/a"), res(&NAMESPACES, None, Some("a"), None));
        assert_eq!(route("/api/v1/namespaces/a/status"), res(&NAMESPACES, None, Some("a"), Some("status")));
        assert_eq!(route("/api/v1/nodes/n1/status"), res(&NODES, None, Some("n1"), Some("status")));
        assert_eq!(
            route("/apis/kubevirt.io/v1/namespaces/x/virtualmachineinstancemigrations/m/status"),
            res(&VMIMS, Some("x"), Some("m"), Some("status"))
        );
        assert_eq!(route("/apis/kubevirt.io/v1"), Route::ResourceList("kubevirt.io".into(), "v1".into()));
        assert_eq!(route("/apis/kubevirt.io/v2"), Route::NotFound);
        assert_eq!(route("/version"), Route::Version);
        assert_eq!(route("/healthz/x"), Route::NotFound);
    }
}
