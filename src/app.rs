//! Dispatch of a parsed command line to the command implementations.
//!
//! Commands that need the cluster get a tokio runtime and a connected [`Cluster`]; `completion` and
//! `resolve-config` (without `--ping`) run without either, so they are fast and never touch the network.

use anyhow::Context as _;

use crate::cli::{Cli, Command, OutputFormat, ResolveConfigArgs};
use crate::cluster::{self, Cluster};
use crate::exit::{Message, Outcome};
use crate::term::{self, Term};

/// Runs the command; the result maps to the exit code through [`crate::exit::exit_code`].
pub fn run(cli: Cli, term: Term) -> anyhow::Result<Outcome> {
    match &cli.command {
        Command::Completion(args) => {
            let mut out = Vec::new();
            crate::cli::write_completion(args.shell, &mut out);
            term::write_stdout(&String::from_utf8_lossy(&out)).context("writing the completion script")?;
            Ok(Outcome::Success)
        }
        Command::ResolveConfig(args) => resolve_config(&cli, args, &term),
        _ => runtime()?.block_on(async {
            let cluster = Cluster::connect(&cli.global).await?;
            run_cluster_command(&cluster, &cli, &term).await
        }),
    }
}

/// THE seam where the `check`, `run`, `cancel`, `status` and `probe` modules are wired in.
///
/// Until a module is integrated its command reports that it is not available in this build (exit 1).
async fn run_cluster_command(cluster: &Cluster, cli: &Cli, term: &Term) -> anyhow::Result<Outcome> {
    let _ = (cluster, term);
    let name = match &cli.command {
        Command::Check(_) => "check",
        Command::Run(_) => "run",
        Command::Cancel(_) => "cancel",
        Command::Status(_) => "status",
        Command::Probe(_) => "probe",
        Command::Completion(_) | Command::ResolveConfig(_) => {
            return Err(Message("internal error: command dispatched to the cluster seam".into()).into());
        }
    };
    Err(Message(format!("'{name}' is not available in this build")).into())
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

/// The tokio runtime, built only for commands that talk to the cluster.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}
