//! `kubectl vmmigrate check` on the command line: arguments → request → report → stdout → outcome.

use crate::cli::{CheckArgs, OutputFormat};
use crate::cluster::Cluster;
use crate::exit::Outcome;
use crate::term::{self, Term};

use super::render::{Format, render};
use super::{CheckRequest, EXIT_NOT_MIGRATABLE, run};

/// The request for parsed arguments; the namespace comes from the cluster (`-n`, else the context's).
pub fn request(args: &CheckArgs, cluster: &Cluster) -> CheckRequest {
    CheckRequest {
        vms: args.vms.clone(),
        all: args.all,
        selector: args.selector.clone(),
        namespace: None,
        all_namespaces: args.all_namespaces,
        strict: args.strict,
        server_dry_run: args.server_dry_run,
        probe: args.probe,
        server: Some(cluster.server.clone()),
    }
}

fn format(f: OutputFormat) -> Format {
    match f {
        OutputFormat::Table => Format::Table,
        OutputFormat::Wide => Format::Wide,
        OutputFormat::Json => Format::Json,
        OutputFormat::Yaml => Format::Yaml,
    }
}

/// Runs `check`: the report goes to stdout; errors (exit 1) are returned for the one `error:` line on stderr.
pub async fn command(cluster: &Cluster, args: &CheckArgs, term: &Term) -> anyhow::Result<Outcome> {
    let req = request(args, cluster);
    let report = run(&cluster.client, &cluster.namespace, &req).await?;
    let summary = args.all || args.selector.is_some();
    term::write_stdout(&render(&report, format(term.format), term.color_stdout, summary))?;
    Ok(if report.exit_code(args.strict) == EXIT_NOT_MIGRATABLE { Outcome::NotMigratable } else { Outcome::Success })
}
