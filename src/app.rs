//! Dispatch of a parsed command line to the command implementations.
//!
//! Commands that need the cluster get a tokio runtime and a connected [`Cluster`]; `completion` and
//! `resolve-config` (without `--ping`) run without either, so they are fast and never touch the network.

use anyhow::Context as _;

use crate::cli::{Cli, Command, CompletionArgs, OutputFormat, ResolveConfigArgs};
use crate::cluster::{self, Cluster};
use crate::exit::Outcome;
use crate::term::{self, Term};

/// Runs the command; the result maps to the exit code through [`crate::exit::exit_code`].
pub fn run(cli: Cli, term: Term) -> anyhow::Result<Outcome> {
    match &cli.command {
        Command::Completion(args) => completion(args),
        Command::ResolveConfig(args) => resolve_config(&cli, args, &term),
        _ => runtime()?.block_on(async {
            let cluster = Cluster::connect(&cli.global).await?;
            run_cluster_command(&cluster, &cli, &term).await
        }),
    }
}

/// THE seam where the `check`, `run`, `cancel`, `status` and `probe` modules are wired in.
async fn run_cluster_command(cluster: &Cluster, cli: &Cli, term: &Term) -> anyhow::Result<Outcome> {
    match &cli.command {
        Command::Check(args) => crate::check::command::command(cluster, args, term).await,
        Command::Run(args) => crate::migrate::run_command(cluster, args, term).await,
        Command::Cancel(args) => crate::migrate::cancel_command(cluster, args, term).await,
        Command::Status(args) => crate::migrate::status_command(cluster, args, term).await,
        Command::Probe(args) => crate::probe::probe_command::command(cluster, args, term).await,
        Command::Completion(_) | Command::ResolveConfig(_) => {
            anyhow::bail!("internal error: command dispatched to the cluster seam")
        }
    }
}

/// `completion SHELL`: print the script; `completion install-kubectl`: install kubectl's completion helper.
fn completion(args: &CompletionArgs) -> anyhow::Result<Outcome> {
    use crate::kubectl_completion::{self as helper, Installed};
    if let Some(shell) = args.target.shell() {
        let mut out = Vec::new();
        crate::cli::write_completion(shell, &mut out);
        term::write_stdout(&String::from_utf8_lossy(&out)).context("writing the completion script")?;
        return Ok(Outcome::Success);
    }
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => helper::default_dir_for_current_exe()?,
    };
    let line = match helper::install(&dir, args.force)? {
        Installed::Written(path) => format!("installed {}\n", path.display()),
        Installed::Unchanged(path) => format!("{} is already installed\n", path.display()),
    };
    term::write_stdout(&line).context("writing to stdout")?;
    Ok(Outcome::Success)
}

/// `resolve-config`: what the kubeconfig resolves to (and, with `--ping`, the server version).
fn resolve_config(cli: &Cli, args: &ResolveConfigArgs, term: &Term) -> anyhow::Result<Outcome> {
    let resolved = cluster::resolve_args(&cli.global)?;
    let server_version = if args.ping {
        runtime()?.block_on(async {
            let cluster = resolved.cluster(cli.global.request_timeout.0).await?;
            cluster.server_version().await
        })?
    } else {
        None
    };
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct View<'a> {
        #[serde(flatten)]
        resolved: &'a cluster::ResolvedConfig,
        #[serde(skip_serializing_if = "Option::is_none")]
        server_version: Option<String>,
    }
    let view = View { resolved: &resolved, server_version };
    if !term::print_structured(term.format, &view)? {
        let files = resolved.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(":");
        let mut rows = vec![
            vec!["kubeconfig".to_string(), files],
            vec!["context".to_string(), resolved.context.clone().unwrap_or_default()],
            vec!["cluster".to_string(), resolved.cluster.clone()],
            vec!["user".to_string(), resolved.user.clone().unwrap_or_default()],
            vec!["server".to_string(), resolved.server.clone()],
            vec!["namespace".to_string(), resolved.namespace.clone()],
        ];
        if let Some(version) = &view.server_version {
            rows.push(vec!["serverVersion".to_string(), version.clone()]);
        }
        if term.format == OutputFormat::Wide {
            rows.push(vec!["namespaceFrom".to_string(), format!("{:?}", resolved.namespace_source).to_lowercase()]);
        }
        term::print_table(&["FIELD", "VALUE"], rows)?;
    }
    Ok(Outcome::Success)
}

/// Answers a shell completion request (`kubectl-vmmigrate __complete WORD...`, see [`crate::complete`]).
///
/// Lookups that fail (no kubeconfig, unreachable cluster, no permission) just contribute no candidates.
pub fn complete(words: &[String]) -> String {
    use clap::CommandFactory;
    let mut completion = crate::complete::complete(&Cli::command(), words);
    if let Some(dynamic) = completion.dynamic {
        match lookup(dynamic, &completion.global) {
            Ok(values) => completion.add_values(values),
            Err(err) => tracing::debug!("completion lookup failed: {}", crate::exit::chain_message(err.as_ref())),
        }
    }
    completion.render()
}

/// Time budget of one completion lookup against the cluster: a shell must not hang on TAB.
const COMPLETION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

fn lookup(dynamic: crate::complete::Dynamic, global: &crate::cli::GlobalArgs) -> anyhow::Result<Vec<String>> {
    use crate::complete::Dynamic;
    use kube::api::{Api, ListParams};
    let names = |select: fn(cluster::KubeconfigNames) -> Vec<String>| -> anyhow::Result<Vec<String>> {
        let source = cluster::KubeconfigSource::from_env(global.kubeconfig.as_deref())?;
        Ok(select(cluster::names(&source)?))
    };
    match dynamic {
        Dynamic::Contexts => names(|n| n.contexts),
        Dynamic::Clusters => names(|n| n.clusters),
        Dynamic::Users => names(|n| n.users),
        Dynamic::Namespaces | Dynamic::VirtualMachines => {
            let resolved = cluster::resolve_args(global)?;
            runtime()?.block_on(async {
                let cluster = resolved.cluster(Some(COMPLETION_TIMEOUT)).await?;
                let params = ListParams::default();
                let names: Vec<Option<String>> = match dynamic {
                    Dynamic::Namespaces => {
                        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client.clone());
                        cluster
                            .unary(api.list_metadata(&params))
                            .await?
                            .items
                            .into_iter()
                            .map(|m| m.metadata.name)
                            .collect()
                    }
                    _ => {
                        let api: Api<crate::kubevirt::VirtualMachine> =
                            Api::namespaced(cluster.client.clone(), &cluster.namespace);
                        cluster
                            .unary(api.list_metadata(&params))
                            .await?
                            .items
                            .into_iter()
                            .map(|m| m.metadata.name)
                            .collect()
                    }
                };
                Ok(names.into_iter().flatten().collect())
            })
        }
    }
}

/// The tokio runtime, built only for commands that talk to the cluster.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}
