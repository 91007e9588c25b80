//! Which cluster, as whom, in which namespace: kubeconfig resolution exactly like kubectl, and the kube client.
//!
//! Resolution ([`resolve`], pure apart from reading the kubeconfig files):
//! - the files: `--kubeconfig PATH` (only that file; missing is an error), else `$KUBECONFIG` (a list separated
//!   by `:`; missing files are skipped silently, as kubectl does), else `~/.kube/config`;
//! - merging (kubectl's rules): the first file to set a value or a named entry wins; `current-context` comes
//!   from the first file that sets a non-empty one; an entry of a later file with the same name is ignored whole;
//! - the context: `--context`, else `current-context`; `--cluster` / `--user` replace the context's;
//! - kubectl's overrides: `-s/--server`, `--token`, `--as`/`--as-group`/`--as-uid`, `--certificate-authority`,
//!   `--client-certificate`, `--client-key`, `--insecure-skip-tls-verify`, `--tls-server-name` (see [`Overrides`]);
//!   `--server` alone is enough, without any kubeconfig;
//! - the namespace: `-n`, else the context's namespace, else `default`.
//!
//! [`Cluster::connect`] then builds the kube client and checks that the API server answers (`GET /version`), so
//! an unreachable cluster is one error line naming the server URL.
//!
//! `--request-timeout` bounds the TCP connect and each request write, and [`Cluster::unary`] bounds a whole unary
//! request. It is deliberately not kube's `read_timeout`: that would also cut watches and exec streams, which
//! legitimately stay silent for minutes while a migration runs.
//!
//! No error message of this module contains a token, password or key: kubeconfig parse errors are reduced to
//! their location and kind (see [`parse_error_reason`]).

use std::ffi::OsStr;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{
    AuthInfo, Context, KubeConfigOptions, Kubeconfig, KubeconfigError, NamedAuthInfo, NamedCluster, NamedContext,
};
use serde::Serialize;

use crate::cli::{GlobalArgs, Secret};
use crate::exit::chain_message;

/// A connected cluster: the client, and the namespace and context every command works in.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    /// `-n`, else the context's namespace, else `default`.
    pub namespace: String,
    /// The kubeconfig context in use (`None` when only `--cluster` selected the cluster).
    pub context: Option<String>,
    /// The API server URL, for messages.
    pub server: String,
    /// `--request-timeout`, applied by [`Cluster::unary`]; `None` means no limit.
    pub request_timeout: Option<Duration>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("namespace", &self.namespace)
            .field("context", &self.context)
            .field("server", &self.server)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// Why no cluster could be used. Every message is one line and names the file, context or server concerned.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot load kubeconfig \"{}\": {reason}", path.display())]
    Load { path: PathBuf, reason: String },
    #[error("cannot find the home directory to locate ~/.kube/config; use --kubeconfig or $KUBECONFIG")]
    NoHome,
    #[error("no kubeconfig found: \"{}\" does not exist; use --kubeconfig, $KUBECONFIG or --server", join_paths(.0))]
    NoKubeconfig(Vec<PathBuf>),
    #[error("no context selected: current-context is not set in kubeconfig \"{}\"; use --context", join_paths(.0))]
    NoContext(Vec<PathBuf>),
    #[error("context \"{name}\" does not exist in kubeconfig \"{}\"", join_paths(files))]
    UnknownContext { name: String, files: Vec<PathBuf> },
    #[error("cluster \"{name}\" does not exist in kubeconfig \"{}\"", join_paths(files))]
    UnknownCluster { name: String, files: Vec<PathBuf> },
    #[error("user \"{name}\" does not exist in kubeconfig \"{}\"", join_paths(files))]
    UnknownUser { name: String, files: Vec<PathBuf> },
    #[error("cluster \"{name}\" has no server URL in kubeconfig \"{}\"", join_paths(files))]
    NoServer { name: String, files: Vec<PathBuf> },
    #[error("invalid kubeconfig \"{}\": {reason}", join_paths(files))]
    Invalid { files: Vec<PathBuf>, reason: String },
    #[error("cannot reach the Kubernetes API server at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    #[error("the Kubernetes API server at {server} rejected the credentials: {reason}")]
    Unauthorized { server: String, reason: String },
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":")
}

/// Where the kubeconfig comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeconfigSource {
    /// `--kubeconfig`: exactly this file, which must exist.
    Explicit(PathBuf),
    /// `$KUBECONFIG`: these files merged in order; missing ones are skipped.
    EnvList(Vec<PathBuf>),
    /// `~/.kube/config`.
    Default(PathBuf),
}

impl KubeconfigSource {
    /// Picks the source from `--kubeconfig`, the value of `$KUBECONFIG` and the home directory (pure).
    pub fn select(
        explicit: Option<&Path>,
        kubeconfig_env: Option<&OsStr>,
        home: Option<&Path>,
    ) -> Result<Self, ClusterError> {
        if let Some(path) = explicit {
            return Ok(KubeconfigSource::Explicit(path.to_path_buf()));
        }
        if let Some(value) = kubeconfig_env {
            let paths: Vec<PathBuf> = std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty()).collect();
            if !paths.is_empty() {
                return Ok(KubeconfigSource::EnvList(paths));
            }
        }
        home.map(|h| KubeconfigSource::Default(h.join(".kube").join("config"))).ok_or(ClusterError::NoHome)
    }

    /// Picks the source from `--kubeconfig` and this process's environment.
    pub fn from_env(explicit: Option<&Path>) -> Result<Self, ClusterError> {
        let env = std::env::var_os("KUBECONFIG");
        Self::select(explicit, env.as_deref(), dirs::home_dir().as_deref())
    }
}

/// What the user selected on the command line (`--context`, `--cluster`, `--user`, `-n`, and overrides).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    pub namespace: Option<String>,
    pub overrides: Overrides,
}

/// kubectl's connection flags that replace parts of the selected cluster and user (client-go `ConfigOverrides`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub server: Option<String>,
    pub token: Option<Secret>,
    pub impersonate: Option<String>,
    pub impersonate_groups: Vec<String>,
    pub impersonate_uid: Option<String>,
    pub certificate_authority: Option<PathBuf>,
    pub client_certificate: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub insecure_skip_tls_verify: bool,
    pub tls_server_name: Option<String>,
}

impl From<&GlobalArgs> for Selection {
    fn from(g: &GlobalArgs) -> Self {
        let path = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
        Selection {
            context: nonempty(g.context.clone()),
            cluster: nonempty(g.cluster.clone()),
            user: nonempty(g.user.clone()),
            namespace: nonempty(g.namespace.clone()),
            overrides: Overrides {
                server: nonempty(g.server.clone()),
                token: g.token.clone().filter(|t| !t.0.is_empty()),
                impersonate: nonempty(g.as_user.clone()),
                impersonate_groups: g.as_group.clone(),
                impersonate_uid: nonempty(g.as_uid.clone()),
                certificate_authority: path(&g.certificate_authority),
                client_certificate: path(&g.client_certificate),
                client_key: path(&g.client_key),
                insecure_skip_tls_verify: g.insecure_skip_tls_verify,
                tls_server_name: nonempty(g.tls_server_name.clone()),
            },
        }
    }
}

impl Overrides {
    /// Applies the cluster flags like client-go: a CA file replaces inline CA data, and
    /// `--insecure-skip-tls-verify` without a CA drops the configured CA.
    fn apply_to_cluster(&self, cluster: &mut kube::config::Cluster) {
        if let Some(server) = &self.server {
            cluster.server = Some(server.clone());
        }
        if let Some(ca) = &self.certificate_authority {
            cluster.certificate_authority = Some(ca.display().to_string());
            cluster.certificate_authority_data = None;
        }
        if self.insecure_skip_tls_verify {
            cluster.insecure_skip_tls_verify = Some(true);
            if self.certificate_authority.is_none() {
                cluster.certificate_authority = None;
                cluster.certificate_authority_data = None;
            }
        }
        if let Some(name) = &self.tls_server_name {
            cluster.tls_server_name = Some(name.clone());
        }
    }

    /// Applies the user flags: `--token` replaces every other token source; client certificate and key files
    /// replace inline data; `--as`, `--as-group`, `--as-uid` set impersonation.
    fn apply_to_user(&self, user: &mut AuthInfo) {
        if let Some(token) = &self.token {
            user.token = Some(secrecy::SecretString::from(token.0.clone()));
            user.token_file = None;
            user.exec = None;
            user.auth_provider = None;
            user.username = None;
            user.password = None;
        }
        if let Some(cert) = &self.client_certificate {
            user.client_certificate = Some(cert.display().to_string());
            user.client_certificate_data = None;
        }
        if let Some(key) = &self.client_key {
            user.client_key = Some(key.display().to_string());
            user.client_key_data = None;
        }
        if let Some(name) = &self.impersonate {
            user.impersonate = Some(name.clone());
        }
        if !self.impersonate_groups.is_empty() {
            user.impersonate_groups = Some(self.impersonate_groups.clone());
        }
        if let Some(uid) = &self.impersonate_uid {
            user.impersonate_uid = Some(uid.clone());
        }
    }
}

/// Where the namespace came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceSource {
    /// `-n/--namespace`.
    Flag,
    /// The context's `namespace`.
    Context,
    /// Neither: `default`.
    Default,
}

/// The outcome of kubeconfig resolution (no network access). Serializes and debug-prints without credentials.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedConfig {
    /// The files that were read, in merge order (missing `$KUBECONFIG` entries are not listed).
    pub files: Vec<PathBuf>,
    pub context: Option<String>,
    pub cluster: String,
    pub user: Option<String>,
    pub server: String,
    pub namespace: String,
    pub namespace_source: NamespaceSource,
    /// The one cluster, user and context selected, as a self-contained kubeconfig for kube.
    #[serde(skip)]
    selected: Kubeconfig,
}

impl std::fmt::Debug for ResolvedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedConfig")
            .field("files", &self.files)
            .field("context", &self.context)
            .field("cluster", &self.cluster)
            .field("user", &self.user)
            .field("server", &self.server)
            .field("namespace", &self.namespace)
            .field("namespace_source", &self.namespace_source)
            .finish_non_exhaustive()
    }
}

/// Resolves the kubeconfig exactly like kubectl (see the module documentation).
pub fn resolve(source: &KubeconfigSource, selection: &Selection) -> Result<ResolvedConfig, ClusterError> {
    let loaded = load(source)?;
    let (merged, files) = (loaded.config, loaded.read);
    let overrides = &selection.overrides;
    let context_name = selection.context.clone().or_else(|| nonempty(merged.current_context.clone()));
    let context: Option<Context> = match &context_name {
        Some(name) => Some(
            merged
                .contexts
                .iter()
                .find(|c| &c.name == name)
                .map(|c| c.context.clone().unwrap_or_default())
                .ok_or_else(|| ClusterError::UnknownContext { name: name.clone(), files: files.clone() })?,
        ),
        None => None,
    };
    let cluster_name =
        selection.cluster.clone().or_else(|| context.as_ref().and_then(|c| nonempty(Some(c.cluster.clone()))));
    let mut cluster = match (&cluster_name, &overrides.server) {
        (Some(name), _) => merged
            .clusters
            .iter()
            .find(|c| &c.name == name)
            .map(|c| c.cluster.clone().unwrap_or_default())
            .ok_or_else(|| ClusterError::UnknownCluster { name: name.clone(), files: files.clone() })?,
        // Like kubectl, --server alone is enough to name a cluster.
        (None, Some(_)) => kube::config::Cluster::default(),
        (None, None) if files.is_empty() => return Err(ClusterError::NoKubeconfig(loaded.considered)),
        (None, None) => return Err(ClusterError::NoContext(files)),
    };
    overrides.apply_to_cluster(&mut cluster);
    let cluster_name = cluster_name.unwrap_or_default();
    let server = nonempty(cluster.server.clone())
        .ok_or_else(|| ClusterError::NoServer { name: cluster_name.clone(), files: files.clone() })?;
    let user_name = selection.user.clone().or_else(|| context.as_ref().and_then(|c| nonempty(c.user.clone())));
    let found_user = user_name.as_ref().and_then(|name| merged.auth_infos.iter().find(|u| &u.name == name));
    if let (Some(name), None) = (&selection.user, found_user) {
        return Err(ClusterError::UnknownUser { name: name.clone(), files });
    }
    // Like client-go, a context whose user does not exist means "no credentials", not an error.
    let mut user = found_user.and_then(|u| u.auth_info.clone()).unwrap_or_default();
    overrides.apply_to_user(&mut user);
    let (namespace, namespace_source) = match (&selection.namespace, context.as_ref().and_then(|c| c.namespace.clone()))
    {
        (Some(ns), _) => (ns.clone(), NamespaceSource::Flag),
        (None, Some(ns)) if !ns.is_empty() => (ns, NamespaceSource::Context),
        _ => ("default".to_string(), NamespaceSource::Default),
    };
    const SELECTED: &str = "selected";
    let selected = Kubeconfig {
        clusters: vec![NamedCluster { name: SELECTED.into(), cluster: Some(cluster), ..Default::default() }],
        auth_infos: vec![NamedAuthInfo { name: SELECTED.into(), auth_info: Some(user), ..Default::default() }],
        contexts: vec![NamedContext {
            name: SELECTED.into(),
            context: Some(Context {
                cluster: SELECTED.into(),
                user: Some(SELECTED.into()),
                namespace: Some(namespace.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        current_context: Some(SELECTED.into()),
        ..Default::default()
    };
    Ok(ResolvedConfig {
        files,
        context: context_name,
        cluster: cluster_name,
        user: user_name,
        server,
        namespace,
        namespace_source,
        selected,
    })
}

/// Resolves from the global flags and this process's environment.
pub fn resolve_args(global: &GlobalArgs) -> Result<ResolvedConfig, ClusterError> {
    let source = KubeconfigSource::from_env(global.kubeconfig.as_deref())?;
    resolve(&source, &Selection::from(global))
}

/// The names defined in the kubeconfig (for shell completion).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeconfigNames {
    pub contexts: Vec<String>,
    pub clusters: Vec<String>,
    pub users: Vec<String>,
}

/// Lists the context, cluster and user names of the (merged) kubeconfig.
pub fn names(source: &KubeconfigSource) -> Result<KubeconfigNames, ClusterError> {
    let merged = load(source)?.config;
    Ok(KubeconfigNames {
        contexts: merged.contexts.into_iter().map(|c| c.name).collect(),
        clusters: merged.clusters.into_iter().map(|c| c.name).collect(),
        users: merged.auth_infos.into_iter().map(|u| u.name).collect(),
    })
}

/// The merged kubeconfig, the files read, and the files looked for.
struct Loaded {
    config: Kubeconfig,
    read: Vec<PathBuf>,
    considered: Vec<PathBuf>,
}

/// Reads and merges the kubeconfig files. Like kubectl, missing `$KUBECONFIG` entries and a missing
/// `~/.kube/config` count as empty (resolution fails later unless `--server` names the cluster); a missing
/// `--kubeconfig` file is an error.
fn load(source: &KubeconfigSource) -> Result<Loaded, ClusterError> {
    let (paths, must_exist) = match source {
        KubeconfigSource::Explicit(path) => (std::slice::from_ref(path), true),
        KubeconfigSource::Default(path) => (std::slice::from_ref(path), false),
        KubeconfigSource::EnvList(paths) => (paths.as_slice(), false),
    };
    let mut loaded = Loaded { config: Kubeconfig::default(), read: Vec::new(), considered: paths.to_vec() };
    for path in paths {
        if !must_exist && !path.exists() {
            tracing::debug!(path = %path.display(), "skipping missing kubeconfig file");
            continue;
        }
        let next = read_file(path)?;
        loaded.config = std::mem::take(&mut loaded.config)
            .merge(next)
            .map_err(|e| ClusterError::Load { path: path.clone(), reason: e.to_string() })?;
        loaded.read.push(path.clone());
    }
    Ok(loaded)
}

/// Reads one kubeconfig file, normalised for kubectl's merge rules (empty values count as unset; `kind` and
/// `apiVersion` are not compared, kubectl ignores them).
fn read_file(path: &Path) -> Result<Kubeconfig, ClusterError> {
    let mut config = Kubeconfig::read_from(path).map_err(|e| ClusterError::Load {
        path: path.to_path_buf(),
        reason: match e {
            KubeconfigError::ReadConfig(io, _) => io.to_string(),
            KubeconfigError::Parse(parse) => parse_error_reason(&parse.to_string()),
            other => other.to_string(),
        },
    })?;
    config.current_context = nonempty(config.current_context.take());
    config.kind = None;
    config.api_version = None;
    Ok(config)
}

/// A YAML parse error reduced to one line without any quoted text from the file (which could be a token or
/// key): the text inside quotes and backticks is replaced by `…`, and only the first line is kept.
pub fn parse_error_reason(message: &str) -> String {
    let first = message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("invalid YAML");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let mut out = String::with_capacity(first.len());
    let mut open: Option<char> = None;
    for c in first.chars() {
        match open {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                open = None;
            }
            Some(_) => {}
            None => {
                out.push(c);
                if matches!(c, '"' | '`' | '\'') {
                    open = Some(c);
                }
            }
        }
    }
    if open.is_some() {
        out.push('…');
    }
    format!("invalid YAML: {out}")
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// Timeout of the reachability check when `--request-timeout` is not set.
const PING_TIMEOUT: Duration = Duration::from_secs(30);

impl ResolvedConfig {
    /// The kube client configuration: credentials from the selected user, the namespace resolved above, and
    /// `request_timeout` as connect and write timeout (never as read timeout, which would cut watches).
    pub async fn kube_config(&self, request_timeout: Option<Duration>) -> Result<kube::Config, ClusterError> {
        let mut config = kube::Config::from_custom_kubeconfig(self.selected.clone(), &KubeConfigOptions::default())
            .await
            .map_err(|e| ClusterError::Invalid { files: self.files.clone(), reason: chain_message(&e) })?;
        config.default_namespace = self.namespace.clone();
        if let Some(timeout) = request_timeout {
            config.connect_timeout = Some(timeout);
            config.write_timeout = Some(timeout);
        }
        Ok(config)
    }

    /// Builds the client (no request is sent).
    pub async fn cluster(&self, request_timeout: Option<Duration>) -> Result<Cluster, ClusterError> {
        let config = self.kube_config(request_timeout).await?;
        let client = kube::Client::try_from(config).map_err(|e| ClusterError::Invalid {
            files: self.files.clone(),
            reason: format!("cannot build a client for {}: {}", self.server, chain_message(&e)),
        })?;
        Ok(Cluster {
            client,
            namespace: self.namespace.clone(),
            context: self.context.clone(),
            server: self.server.clone(),
            request_timeout,
        })
    }
}

impl Cluster {
    /// Resolves the kubeconfig from the global flags, builds the client and checks that the API server answers.
    pub async fn connect(global: &GlobalArgs) -> Result<Cluster, ClusterError> {
        let resolved = resolve_args(global)?;
        let cluster = resolved.cluster(global.request_timeout.0).await?;
        cluster.server_version().await?;
        Ok(cluster)
    }

    /// `GET /version`: the server's `gitVersion`. Transport failures and timeouts are [`ClusterError::Unreachable`],
    /// 401 is [`ClusterError::Unauthorized`]; another API status (a server that hides /version) gives `None`.
    pub async fn server_version(&self) -> Result<Option<String>, ClusterError> {
        let timeout = self.request_timeout.unwrap_or(PING_TIMEOUT);
        let result = tokio::time::timeout(timeout, self.client.apiserver_version()).await;
        match result {
            Err(_) => Err(ClusterError::Unreachable {
                server: self.server.clone(),
                reason: format!("no answer within {}", crate::duration::format(timeout)),
            }),
            Ok(Ok(info)) => Ok(Some(info.git_version)),
            Ok(Err(kube::Error::Api(status))) if status.code == 401 => Err(ClusterError::Unauthorized {
                server: self.server.clone(),
                reason: chain_message(&kube::Error::Api(status)),
            }),
            Ok(Err(kube::Error::Api(status))) => {
                tracing::debug!(code = status.code, "GET /version returned an API error; assuming the server is up");
                Ok(None)
            }
            Ok(Err(e)) => Err(ClusterError::Unreachable { server: self.server.clone(), reason: chain_message(&e) }),
        }
    }

    /// Runs one unary request (get, list, create, patch, delete) within `--request-timeout`. Do not use it for
    /// watches, log follows or exec streams. A timeout becomes a `kube::Error::Service` saying so.
    pub async fn unary<T, F>(&self, request: F) -> Result<T, kube::Error>
    where
        F: Future<Output = Result<T, kube::Error>>,
    {
        match self.request_timeout {
            None => request.await,
            Some(limit) => tokio::time::timeout(limit, request)
                .await
                .map_err(|_| kube::Error::Service(Box::new(RequestTimedOut(limit))))?,
        }
    }
}

/// A unary request exceeded `--request-timeout`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("request timed out after {} (--request-timeout)", crate::duration::format(*.0))]
pub struct RequestTimedOut(pub Duration);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_follows_kubectl_precedence() {
        let home = Path::new("/home/u");
        let env = OsStr::new("/a:/b");
        assert_eq!(
            KubeconfigSource::select(Some(Path::new("/x")), Some(env), Some(home)).unwrap(),
            KubeconfigSource::Explicit("/x".into())
        );
        assert_eq!(
            KubeconfigSource::select(None, Some(env), Some(home)).unwrap(),
            KubeconfigSource::EnvList(vec!["/a".into(), "/b".into()])
        );
        assert_eq!(
            KubeconfigSource::select(None, Some(OsStr::new("::")), Some(home)).unwrap(),
            KubeconfigSource::Default("/home/u/.kube/config".into())
        );
        assert_eq!(
            KubeconfigSource::select(None, None, Some(home)).unwrap(),
            KubeconfigSource::Default("/home/u/.kube/config".into())
        );
        assert!(matches!(KubeconfigSource::select(None, None, None), Err(ClusterError::NoHome)));
    }

    #[test]
    fn parse_errors_never_quote_the_file() {
        let reason =
            parse_error_reason("invalid type: string \"sk-secret-token\", expected a map at line 3\n  3 | token");
        assert_eq!(reason, "invalid YAML: invalid type: string \"…\", expected a map at line 3");
        assert_eq!(parse_error_reason("unterminated `abc"), "invalid YAML: unterminated `…");
        assert_eq!(parse_error_reason("error: line 1 column 9: x"), "invalid YAML: line 1 column 9: x");
    }
}
