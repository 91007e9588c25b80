//! Command-line arguments: kubectl's global flags, the subcommands and their flags.
//!
//! kubectl passes everything after `kubectl vmmigrate` to the plugin verbatim, so the global flags are parsed
//! here and may appear before or after the subcommand. All validation happens in clap (exit code 2 with clap's
//! message), including the cross-flag rules in [`Cli::validate`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::duration;
use crate::exit::HELP_TABLE;

/// Name of the standalone binary (and of the completion scripts).
pub const BIN_NAME: &str = "kubectl-vmmigrate";
/// How the plugin is invoked through kubectl; used in usage lines when argv[0] starts with `kubectl-`.
pub const PLUGIN_USAGE_NAME: &str = "kubectl vmmigrate";

/// Check, run and measure KubeVirt live migrations.
#[derive(Debug, Clone, Parser)]
#[command(
    name = BIN_NAME,
    version,
    about = "Check, run and measure KubeVirt live migrations",
    long_about = "Check, run and measure KubeVirt live migrations.\n\n\
        `check` reports every live-migration prerequisite of a VM at once, per VM and per candidate node. \
        `run` creates a VirtualMachineInstanceMigration and follows it to its end; `cancel` aborts one, \
        `status` shows the latest one, `probe` measures network downtime while a VM moves.\n\n\
        The cluster is chosen like kubectl does: --kubeconfig, else $KUBECONFIG (a ':'-separated list, merged), \
        else ~/.kube/config; --context, else the current context; -n, else the context's namespace, else \"default\".",
    after_help = HELP_TABLE,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// kubectl's global flags (k8s.io/cli-runtime `ConfigFlags`) that this plugin honours, plus output settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Path to the kubeconfig file to use (only this file; it must exist). Default: $KUBECONFIG, else ~/.kube/config
    #[arg(long, global = true, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current-context)
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The kubeconfig cluster to use instead of the context's
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The kubeconfig user to use instead of the context's
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,
    /// Namespace of the VMs (default: the context's namespace, else "default")
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// The address and port of the Kubernetes API server (instead of the cluster's)
    #[arg(short = 's', long, global = true, value_name = "URL", value_hint = clap::ValueHint::Url)]
    pub server: Option<String>,
    /// Bearer token for authentication to the API server (instead of the user's credentials)
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<Secret>,
    /// Username to impersonate for the operation
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,
    /// Group to impersonate for the operation (repeatable)
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub as_group: Vec<String>,
    /// UID to impersonate for the operation
    #[arg(long = "as-uid", global = true, value_name = "UID")]
    pub as_uid: Option<String>,
    /// Path to a certificate file for the certificate authority
    #[arg(long, global = true, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub certificate_authority: Option<PathBuf>,
    /// Path to a client certificate file for TLS
    #[arg(long, global = true, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub client_certificate: Option<PathBuf>,
    /// Path to a client key file for TLS
    #[arg(long, global = true, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub client_key: Option<PathBuf>,
    /// Do not verify the server's certificate (insecure)
    #[arg(long, global = true)]
    pub insecure_skip_tls_verify: bool,
    /// Server name to use for server certificate validation
    #[arg(long, global = true, value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// Timeout of a single API request, e.g. 30s, 1m or 10 (seconds); 0 means none. Watches are not cut
    #[arg(long, global = true, value_name = "DURATION", default_value = "0", value_parser = parse_request_timeout)]
    pub request_timeout: RequestTimeout,
    /// Output format of results on stdout
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table, value_name = "FORMAT")]
    pub output: OutputFormat,
    /// Disable colours (also when the NO_COLOR environment variable is set and not empty)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Log verbosity on stderr: 0 warnings, 2 info, 4 debug, 6 and above trace (kubectl's -v scale)
    #[arg(short = 'v', long = "v", global = true, value_name = "LEVEL", default_value_t = 0)]
    pub verbosity: u8,
}

/// A secret flag value (`--token`): its `Debug` output is redacted so that logging arguments cannot leak it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

/// `--request-timeout`: `None` means no timeout (kubectl's "0").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestTimeout(pub Option<Duration>);

/// kubectl's `--request-timeout` syntax: "0" = none, a plain integer = seconds, else a duration (`30s`, `1m`).
pub fn parse_request_timeout(value: &str) -> Result<RequestTimeout, duration::DurationError> {
    let value = value.trim();
    let d = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => duration::parse(value)?,
    };
    Ok(RequestTimeout(if d.is_zero() { None } else { Some(d) }))
}

/// Value parser for duration flags (`--timeout 5m`).
pub fn parse_duration(value: &str) -> Result<Duration, duration::DurationError> {
    duration::parse(value)
}

/// `-o/--output`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable table
    #[default]
    Table,
    /// Table with more columns
    Wide,
    /// JSON (a stable, documented schema)
    Json,
    /// YAML (same schema as JSON)
    Yaml,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Report every live-migration prerequisite of VMs: all blockers at once, per VM and per candidate node
    #[command(after_help = "Exit codes: 0 every VM is migratable (warnings allowed), 3 a VM is not migratable \
        (with --strict: or has a warning), 1 the check could not be evaluated, 2 usage.")]
    Check(CheckArgs),
    /// Live-migrate a VM: create a VirtualMachineInstanceMigration and follow it to its end
    #[command(after_help = "Exit codes: 0 migrated, 1 error, 2 usage, 3 refused (the VM is not migratable, or a \
        --probe baseline target did not answer), 4 migration failed, 5 migration aborted, 6 --timeout reached, 7 --max-downtime/--max-duration exceeded, \
        130 interrupted (the migration is aborted first unless it already finished).")]
    Run(RunArgs),
    /// Abort the VM's running migration and wait until the abort is confirmed
    #[command(after_help = "Exit codes: 0 aborted (or nothing to abort), 1 error, 2 usage, \
        4 the abort failed (the migration completed or failed first), 6 --timeout reached.")]
    Cancel(CancelArgs),
    /// Show the VM's latest migration: phase, nodes, timestamps and progress
    #[command(after_help = "Exit codes: 0 shown, 1 error (VM or migration not found), 2 usage.")]
    Status(StatusArgs),
    /// Measure network downtime of a VM without migrating it, until Ctrl-C or --duration (e.g. while another tool
    /// moves it)
    #[command(after_help = "Exit codes: 0 measured, 1 error (the probe could not be placed or run), 2 usage, \
        3 the baseline found a target unreachable (use --force to probe anyway), 130 interrupted before the \
        probes ran (Ctrl-C while they run ends them and prints the results, exit 0).")]
    Probe(ProbeCmdArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell), or install kubectl's completion helper
    #[command(long_about = "Print a shell completion script for the standalone kubectl-vmmigrate binary, or install \
        the helper that makes `kubectl vmmigrate <TAB>` complete.\n\n\
        Example: kubectl-vmmigrate completion bash > /etc/bash_completion.d/kubectl-vmmigrate\n\n\
        `kubectl vmmigrate completion install-kubectl` writes the executable kubectl_complete-vmmigrate next to the \
        plugin (default: the directory of this executable; under krew, ${KREW_ROOT:-~/.krew}/bin), where kubectl \
        1.26 and later finds it on PATH. It is a shell script that runs:\n\n\
        exec kubectl-vmmigrate __complete \"$@\"\n\n\
        It completes subcommands, flags, flag values, contexts from the kubeconfig, and namespaces and VM names \
        from the cluster.")]
    Completion(CompletionArgs),
    /// Print the kubeconfig files, context, cluster, server and namespace that would be used (no network access)
    ///
    /// For troubleshooting and tests: shows how --kubeconfig, $KUBECONFIG, --context, --cluster, --user and -n
    /// resolve, exactly as the other commands resolve them. With --ping it also contacts the API server.
    #[command(hide = true, name = "resolve-config")]
    ResolveConfig(ResolveConfigArgs),
}

/// `check` arguments.
#[derive(Debug, Clone, Default, Args)]
#[command(group = clap::ArgGroup::new("selection").required(true).multiple(false).args(["vms", "all", "selector"]))]
pub struct CheckArgs {
    /// Names of the VirtualMachines to check (in the namespace from -n)
    #[arg(value_name = "VM")]
    pub vms: Vec<String>,
    /// Check every VM in the namespace (every namespace with -A)
    #[arg(long)]
    pub all: bool,
    /// Check the VMs matching this label selector, e.g. app=db,tier!=test
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// With --all or -l: look in every namespace
    #[arg(short = 'A', long, conflicts_with = "vms")]
    pub all_namespaces: bool,
    /// Treat warnings as blockers (exit 3 when any check warns)
    #[arg(long)]
    pub strict: bool,
    /// Also submit the migration with dryRun=All so the API server's admission webhooks judge it (nothing is created)
    #[arg(long)]
    pub server_dry_run: bool,
    /// Also check that the downtime probe can be placed (image, permissions, probe pod or ephemeral container)
    #[arg(long)]
    pub probe: bool,
}

/// `run` arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Name of the VirtualMachine (or VirtualMachineInstance) to migrate
    #[arg(value_name = "VM")]
    pub vm: String,
    /// Node to migrate to (sets spec.addedNodeSelector on the migration); default: the scheduler picks one
    #[arg(long, value_name = "NODE")]
    pub target_node: Option<String>,
    /// Give up after this long (e.g. 10m); the migration is aborted unless --no-abort-on-timeout. Default: none
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Do not run the prerequisite check before creating the migration
    #[arg(long)]
    pub skip_check: bool,
    /// Follow the VM's migration that is already in progress instead of creating a new one
    #[arg(long, conflicts_with_all = ["target_node", "dry_run"])]
    pub attach: bool,
    /// "server": submit the migration with dryRun=All (admission runs, nothing is created), then stop
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, require_equals = true, default_missing_value = "server", default_value_t = DryRun::None)]
    pub dry_run: DryRun,
    /// On --timeout, leave the migration running instead of aborting it
    #[arg(long, requires = "timeout")]
    pub no_abort_on_timeout: bool,
    /// Measure network downtime during the migration with the downtime probe (see the --probe-* flags; not with
    /// --attach: a probe placed after the migration started cannot see all of it)
    #[arg(long, conflicts_with_all = ["dry_run", "attach"])]
    pub probe: bool,
    /// Write a validation report to this file (repeatable); format from --report-format, else from the extension
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath, value_parser = parse_output_path,
        conflicts_with = "dry_run")]
    pub report: Vec<PathBuf>,
    /// Format of every --report file (default: by extension .md, .json, .xml; else markdown)
    #[arg(long, value_enum, value_name = "FORMAT", requires = "report")]
    pub report_format: Option<ReportFormat>,
    /// Exit 7 when the measured downtime exceeds this (needs --probe), e.g. 500ms
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "probe")]
    pub max_downtime: Option<Duration>,
    /// Exit 7 when the migration takes longer than this, e.g. 2m (the migration is not aborted)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_duration: Option<Duration>,
    /// After migrating, migrate the VM back to its original node
    #[arg(long, conflicts_with_all = ["attach", "dry_run"])]
    pub round_trip: bool,
    /// Migrate N times in a row and report every run (with --round-trip, N round trips)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "dry_run")]
    pub repeat: u32,
    /// Write the results as OpenMetrics text to this file (for node_exporter's textfile collector)
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath, value_parser = parse_output_path,
        conflicts_with = "dry_run")]
    pub metrics_file: Option<PathBuf>,
    /// Push the results as metrics to this Prometheus Pushgateway URL (job kubectl_vmmigrate), e.g. http://pushgateway:9091
    #[arg(long, value_name = "URL", value_hint = clap::ValueHint::Url, value_parser = parse_pushgateway_url,
        conflicts_with = "dry_run")]
    pub pushgateway: Option<String>,
    /// Settings of the downtime probe (last, so that their help heading does not swallow the flags above).
    #[command(flatten)]
    pub probe_args: ProbeArgs,
}

/// `--dry-run` modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    /// Create the migration for real
    #[default]
    None,
    /// Submit the migration with dryRun=All and stop
    Server,
}

/// Formats of `--report` files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Json,
    Junit,
}

impl RunArgs {
    /// Each `--report` path with its format: `--report-format`, else by extension (`.json`, `.xml`), else Markdown.
    pub fn report_targets(&self) -> Vec<(PathBuf, ReportFormat)> {
        self.report
            .iter()
            .map(|path| {
                let by_extension = match path.extension().and_then(|e| e.to_str()) {
                    Some("json") => ReportFormat::Json,
                    Some("xml") => ReportFormat::Junit,
                    _ => ReportFormat::Markdown,
                };
                (path.clone(), self.report_format.unwrap_or(by_extension))
            })
            .collect()
    }
}

/// Flags of the downtime probe, shared by `run --probe` and `probe`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Probe options")]
pub struct ProbeArgs {
    /// Where the probe runs: pod/NAME[:CONTAINER] (an ephemeral container in that pod) or node/NAME (a short-lived
    /// prober pod on that node). Default: a short-lived prober pod on another node, deleted afterwards
    #[arg(long, value_name = "pod/NAME[:CONTAINER]|node/NAME", value_parser = parse_probe_from)]
    pub probe_from: Option<ProbeFrom>,
    /// Image of the prober pod or ephemeral container (needs ping; curl for --probe-http)
    #[arg(long, value_name = "IMAGE")]
    pub probe_image: Option<String>,
    /// Address or host name to ping, besides the VM's interface addresses and the external IPs of the Services
    /// selecting it (repeatable)
    #[arg(long, value_name = "ADDR", value_parser = parse_probe_host)]
    pub probe_target: Vec<String>,
    /// http(s) URL to request over HTTP, e.g. a health endpoint (repeatable)
    #[arg(long, value_name = "URL", value_parser = parse_probe_url)]
    pub probe_http: Vec<String>,
    /// Interval between probe packets/requests (2ms to 60s); it bounds the downtime resolution
    #[arg(long, value_name = "DURATION", value_parser = parse_probe_interval, default_value = "20ms")]
    pub probe_interval: Duration,
    /// Keep probing this long after the migration ended, to catch late outages
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    pub probe_tail: Duration,
    /// Go on although the probe's baseline (a few seconds of probing before anything moves) found a target
    /// unreachable; that target is then reported as not answering. Without it, run does not migrate and probe
    /// does not start
    #[arg(long)]
    pub force: bool,
}

impl Default for ProbeArgs {
    fn default() -> Self {
        ProbeArgs {
            probe_from: None,
            probe_image: None,
            probe_target: Vec::new(),
            probe_http: Vec::new(),
            probe_interval: Duration::from_millis(20),
            probe_tail: Duration::from_secs(5),
            force: false,
        }
    }
}

impl ProbeArgs {
    /// Whether any probe flag differs from its default (used to reject probe flags on `run` without `--probe`).
    pub fn is_customised(&self) -> bool {
        let d = ProbeArgs::default();
        self.probe_from.is_some()
            || self.probe_image.is_some()
            || !self.probe_target.is_empty()
            || !self.probe_http.is_empty()
            || self.probe_interval != d.probe_interval
            || self.probe_tail != d.probe_tail
            || self.force
    }
}

/// `--probe-target`: an IP address or RFC 1123 host name, normalised.
/// `--report`, `--metrics-file`: a file in an existing directory, checked before anything is migrated so that a
/// typo does not cost the report of a migration that already ran.
pub fn parse_output_path(value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    if value.is_empty() || value.ends_with('/') || path.is_dir() {
        return Err(format!("'{value}' is not a file path"));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!("directory '{}' does not exist", dir.display()));
    }
    Ok(path)
}

/// `--pushgateway`: an http(s) URL with a host (the push path is appended to it). Credentials in the URL are
/// refused: the URL is printed in messages and logs, and they would be sent nowhere anyway. No query or fragment.
pub fn parse_pushgateway_url(value: &str) -> Result<String, String> {
    let rest = value.strip_prefix("http://").or_else(|| value.strip_prefix("https://"));
    let Some(rest) = rest.filter(|r| !r.is_empty() && !r.starts_with('/')) else {
        return Err(format!("'{value}' is not an http:// or https:// URL"));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err("the Pushgateway URL must not contain credentials (user:password@)".into());
    }
    if value.contains(char::is_whitespace) || value.contains(['?', '#']) {
        return Err(format!("'{value}' is not a Pushgateway base URL (no spaces, query or fragment)"));
    }
    Ok(value.trim_end_matches('/').to_string())
}

pub fn parse_probe_host(value: &str) -> Result<String, String> {
    value.parse::<crate::probe::target::Host>().map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// `--probe-http`: an http(s) URL, normalised.
pub fn parse_probe_url(value: &str) -> Result<String, String> {
    value.parse::<crate::probe::target::HttpUrl>().map(|u| u.url).map_err(|e| e.to_string())
}

/// `--probe-interval`: a duration from 2ms to 60s.
pub fn parse_probe_interval(value: &str) -> Result<Duration, String> {
    use crate::probe::command::{MAX_INTERVAL, MIN_INTERVAL};
    let d = duration::parse(value).map_err(|e| e.to_string())?;
    if d < MIN_INTERVAL || d > MAX_INTERVAL {
        return Err(format!("{value} is out of range (2ms to 60s)"));
    }
    Ok(d)
}

/// `--probe-from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeFrom {
    /// An ephemeral container in an existing pod (in the VM's namespace), optionally targeting one container.
    Pod { name: String, container: Option<String> },
    /// A short-lived prober pod pinned to this node.
    Node { name: String },
}

/// Parses `pod/NAME[:CONTAINER]` or `node/NAME`.
pub fn parse_probe_from(value: &str) -> Result<ProbeFrom, String> {
    let bad = || format!("expected pod/NAME[:CONTAINER] or node/NAME, got \"{value}\"");
    let (kind, rest) = value.split_once('/').ok_or_else(bad)?;
    match kind {
        "pod" | "pods" | "po" => {
            let (name, container) = match rest.split_once(':') {
                Some((name, container)) if !container.is_empty() => (name, Some(container.to_string())),
                Some(_) => return Err(bad()),
                None => (rest, None),
            };
            if name.is_empty() || name.contains('/') {
                return Err(bad());
            }
            Ok(ProbeFrom::Pod { name: name.to_string(), container })
        }
        "node" | "nodes" | "no" if !rest.is_empty() && !rest.contains(['/', ':']) => {
            Ok(ProbeFrom::Node { name: rest.to_string() })
        }
        _ => Err(bad()),
    }
}

/// `cancel` arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct CancelArgs {
    /// Name of the VirtualMachine whose running migration to abort
    #[arg(value_name = "VM")]
    pub vm: String,
    /// How long to wait for the abort to be confirmed (e.g. 1m). Default: no limit
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

/// `status` arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct StatusArgs {
    /// Name of the VirtualMachine
    #[arg(value_name = "VM")]
    pub vm: String,
}

/// `probe` arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct ProbeCmdArgs {
    /// Name of the VirtualMachine whose network to probe
    #[arg(value_name = "VM")]
    pub vm: String,
    /// How long to probe (e.g. 2m); without it, until Ctrl-C, at most 1h. Each probe is bounded by it inside the
    /// probe container too
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    #[command(flatten)]
    pub probe: ProbeArgs,
}

/// `completion` arguments.
#[derive(Debug, Clone, Args)]
pub struct CompletionArgs {
    /// The shell to print the script for, or install-kubectl to install kubectl's completion helper
    #[arg(value_enum, value_name = "SHELL|install-kubectl")]
    pub target: CompletionTarget,
    /// With install-kubectl: the directory to write kubectl_complete-vmmigrate into (default: next to the plugin)
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: Option<PathBuf>,
    /// With install-kubectl: replace a different existing kubectl_complete-vmmigrate
    #[arg(long)]
    pub force: bool,
}

/// What `completion` produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionTarget {
    /// Bash script
    Bash,
    /// Zsh script
    Zsh,
    /// Fish script
    Fish,
    /// PowerShell script
    Powershell,
    /// Install kubectl_complete-vmmigrate for `kubectl vmmigrate <TAB>`
    InstallKubectl,
}

impl CompletionTarget {
    /// The shell whose script to print, or `None` for `install-kubectl`.
    pub fn shell(self) -> Option<clap_complete::Shell> {
        match self {
            CompletionTarget::Bash => Some(clap_complete::Shell::Bash),
            CompletionTarget::Zsh => Some(clap_complete::Shell::Zsh),
            CompletionTarget::Fish => Some(clap_complete::Shell::Fish),
            CompletionTarget::Powershell => Some(clap_complete::Shell::PowerShell),
            CompletionTarget::InstallKubectl => None,
        }
    }
}

/// `resolve-config` arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct ResolveConfigArgs {
    /// Also contact the API server (GET /version) and print its version
    #[arg(long)]
    pub ping: bool,
}

impl Cli {
    /// The clap command with the usage name adapted to how the binary was invoked.
    pub fn command_for(argv0: Option<&std::ffi::OsStr>) -> clap::Command {
        let cmd = <Cli as CommandFactory>::command();
        cmd.bin_name(usage_name(argv0))
    }

    /// Parses the arguments (argv[0] first) and applies [`Cli::validate`]. Help, version and usage errors come
    /// back as a `clap::Error`; call `.exit()` on it to print it and exit with clap's code (0 or 2).
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let mut cmd = Cli::command_for(args.first().map(OsString::as_os_str));
        let matches = cmd.try_get_matches_from_mut(args)?;
        let cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
        cli.validate().map_err(|e| e.format(&mut cmd))?;
        Ok(cli)
    }

    /// Cross-flag rules clap's attributes cannot express.
    pub fn validate(&self) -> Result<(), clap::Error> {
        if let Command::Completion(c) = &self.command
            && c.target != CompletionTarget::InstallKubectl
            && (c.dir.is_some() || c.force)
        {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::ArgumentConflict,
                "--dir and --force only apply to 'completion install-kubectl'\n",
            ));
        }
        if let Command::Run(run) = &self.command
            && !run.probe
            && run.probe_args.is_customised()
        {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::MissingRequiredArgument,
                "the --probe-* and --force flags of 'run' need --probe\n",
            ));
        }
        Ok(())
    }
}

/// `kubectl vmmigrate` when argv[0]'s file name starts with `kubectl-` (krew's best practice), else the
/// file name itself.
pub fn usage_name(argv0: Option<&std::ffi::OsStr>) -> String {
    let file_name = argv0
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| BIN_NAME.to_string());
    if file_name.starts_with("kubectl-") { PLUGIN_USAGE_NAME.to_string() } else { file_name }
}

/// Writes the completion script for `shell` (for the standalone binary name `kubectl-vmmigrate`).
pub fn write_completion(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    let mut cmd = <Cli as CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, BIN_NAME, out);
}

/// How many `-v` levels map to which tracing level (kubectl's scale: 0 default, 2 info, 4 debug, 6+ trace).
pub fn tracing_level(verbosity: u8) -> tracing::Level {
    match verbosity {
        0 | 1 => tracing::Level::WARN,
        2 | 3 => tracing::Level::INFO,
        4 | 5 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    }
}

/// The tracing filter for `-v`: this crate at [`tracing_level`], other crates at warn. kube's own logs are off
/// below `-v 2`: it logs every failed request as an ERROR, which would repeat the one error line the plugin prints.
pub fn tracing_filter(verbosity: u8) -> String {
    let level = tracing_level(verbosity).to_string().to_lowercase();
    let kube = if verbosity < 2 { "off".to_string() } else { level.clone() };
    format!("warn,kubectl_vmmigrate={level},kube={kube},kube_client={kube},kube_runtime={kube}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_args(std::iter::once("kubectl-vmmigrate").chain(args.iter().copied()))
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = parse(&["status", "vm1", "-n", "ns1", "--context", "c2", "-o", "json", "--request-timeout", "30s"])
            .unwrap();
        assert_eq!(cli.global.namespace.as_deref(), Some("ns1"));
        assert_eq!(cli.global.context.as_deref(), Some("c2"));
        assert_eq!(cli.global.output, OutputFormat::Json);
        assert_eq!(cli.global.request_timeout, RequestTimeout(Some(Duration::from_secs(30))));
        let cli =
            parse(&["status", "vm1", "--token", "t0ps3cret", "--as", "alice", "--as-group", "g1", "--as-group", "g2"])
                .unwrap();
        assert_eq!(cli.global.as_group, ["g1", "g2"]);
        assert!(!format!("{cli:?}").contains("t0ps3cret"), "Debug must not show the token");
        let Command::Status(status) = cli.command else { panic!("expected status") };
        assert_eq!(status.vm, "vm1");
    }

    #[test]
    fn request_timeout_uses_kubectl_syntax() {
        assert_eq!(parse_request_timeout("0"), Ok(RequestTimeout(None)));
        assert_eq!(parse_request_timeout("0s"), Ok(RequestTimeout(None)));
        assert_eq!(parse_request_timeout("10"), Ok(RequestTimeout(Some(Duration::from_secs(10)))));
        assert_eq!(parse_request_timeout("1m"), Ok(RequestTimeout(Some(Duration::from_secs(60)))));
        assert!(parse_request_timeout("soon").is_err());
        assert_eq!(parse(&["status", "vm"]).unwrap().global.request_timeout, RequestTimeout(None));
    }

    #[test]
    fn check_needs_exactly_one_selection() {
        assert!(parse(&["check"]).is_err());
        assert!(parse(&["check", "vm1", "--all"]).is_err());
        assert!(parse(&["check", "--all", "-l", "a=b"]).is_err());
        assert!(parse(&["check", "vm1", "-A"]).is_err());
        let cli = parse(&["check", "-A", "-l", "app=db", "--strict"]).unwrap();
        let Command::Check(check) = cli.command else { panic!("expected check") };
        assert!(check.all_namespaces && check.strict);
        assert_eq!(check.selector.as_deref(), Some("app=db"));
        let cli = parse(&["check", "a", "b"]).unwrap();
        let Command::Check(check) = cli.command else { panic!("expected check") };
        assert_eq!(check.vms, ["a", "b"]);
    }

    #[test]
    fn run_flags_parse() {
        let cli = parse(&[
            "run",
            "vm1",
            "--target-node",
            "n2",
            "--timeout",
            "1m30s",
            "--probe",
            "--probe-from",
            "pod/web:app",
            "--probe-target",
            "10.0.0.5",
            "--probe-target",
            "10.0.0.6",
            "--report",
            "r.md",
            "--report",
            "r.json",
            "--max-downtime",
            "500ms",
            "--repeat",
            "3",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else { panic!("expected run") };
        assert_eq!(run.timeout, Some(Duration::from_secs(90)));
        assert_eq!(run.dry_run, DryRun::None);
        assert_eq!(
            run.probe_args.probe_from,
            Some(ProbeFrom::Pod { name: "web".into(), container: Some("app".into()) })
        );
        assert_eq!(run.probe_args.probe_target, ["10.0.0.5", "10.0.0.6"]);
        assert_eq!(run.probe_args.probe_interval, Duration::from_millis(20));
        assert_eq!(run.max_downtime, Some(Duration::from_millis(500)));
        assert_eq!(run.repeat, 3);
        assert_eq!(
            run.report_targets(),
            [(PathBuf::from("r.md"), ReportFormat::Markdown), (PathBuf::from("r.json"), ReportFormat::Json)]
        );
        let Command::Run(bare) = parse(&["run", "vm1", "--dry-run"]).unwrap().command else { panic!() };
        assert_eq!(bare.dry_run, DryRun::Server);
    }

    #[test]
    fn run_rejects_inconsistent_flags_as_usage_errors() {
        for args in [
            &["run", "vm1", "--timeout", "30"][..],
            &["run", "vm1", "--timeout", "5d"],
            &["run", "vm1", "--probe-target", "10.0.0.5"],
            &["run", "vm1", "--max-downtime", "1s"],
            &["run", "vm1", "--no-abort-on-timeout"],
            &["run", "vm1", "--repeat", "0"],
            &["run", "vm1", "--attach", "--target-node", "n1"],
            &["run", "vm1", "--dry-run=client"],
            &["run"],
        ] {
            let err = parse(args).err().unwrap_or_else(|| panic!("{args:?} should fail"));
            assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
        }
        let err = parse(&["run", "vm1", "--timeout", "5d"]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("--timeout") && err.contains("5d"), "{err}");
    }

    #[test]
    fn probe_from_syntax() {
        assert_eq!(parse_probe_from("node/n1"), Ok(ProbeFrom::Node { name: "n1".into() }));
        assert_eq!(parse_probe_from("pod/p"), Ok(ProbeFrom::Pod { name: "p".into(), container: None }));
        for bad in ["p", "pod/", "node/", "svc/x", "pod/p:", "node/a:b", "pod/a/b"] {
            assert!(parse_probe_from(bad).is_err(), "{bad}");
        }
        for bad in [
            &["probe", "vm1", "--probe-target", "1.2.3.4;reboot"][..],
            &["probe", "vm1", "--probe-http", "ftp://x/"],
            &["probe", "vm1", "--probe-interval", "1ms"],
            &["probe", "vm1", "--duration", "soon"],
        ] {
            assert_eq!(parse(bad).err().map(|e| e.exit_code()), Some(2), "{bad:?}");
        }
        let Command::Probe(probe) =
            parse(&["probe", "vm1", "--duration", "2m", "--probe-http", "HTTP://H:8123/api/"]).unwrap().command
        else {
            panic!("expected probe")
        };
        assert_eq!(probe.duration, Some(Duration::from_secs(120)));
        assert_eq!(probe.probe.probe_http, ["http://h:8123/api/"]);
        let Command::Probe(probe) = parse(&["probe", "vm1", "--probe-interval", "50ms", "--force"]).unwrap().command
        else {
            panic!("expected probe")
        };
        assert_eq!(probe.probe.probe_interval, Duration::from_millis(50));
        assert!(probe.probe.force);
    }

    #[test]
    fn usage_name_follows_argv0() {
        assert_eq!(usage_name(Some("/usr/local/bin/kubectl-vmmigrate".as_ref())), "kubectl vmmigrate");
        assert_eq!(usage_name(Some("vmmigrate".as_ref())), "vmmigrate");
        assert_eq!(usage_name(None), "kubectl vmmigrate");
    }

    #[test]
    fn verbosity_maps_to_tracing_levels() {
        assert_eq!(tracing_level(0), tracing::Level::WARN);
        assert_eq!(tracing_level(2), tracing::Level::INFO);
        assert_eq!(tracing_level(4), tracing::Level::DEBUG);
        assert_eq!(tracing_level(9), tracing::Level::TRACE);
        assert_eq!(tracing_filter(0), "warn,kubectl_vmmigrate=warn,kube=off,kube_client=off,kube_runtime=off");
        assert!(tracing_filter(4).contains("kube_client=debug"));
        assert_eq!(parse(&["--v=4", "status", "x"]).unwrap().global.verbosity, 4);
        assert_eq!(parse(&["status", "x", "-v", "6"]).unwrap().global.verbosity, 6);
    }

    #[test]
    fn pushgateway_urls_are_base_urls_without_credentials() {
        assert_eq!(parse_pushgateway_url("http://pgw:9091/").unwrap(), "http://pgw:9091");
        assert_eq!(parse_pushgateway_url("https://pgw.example/prefix").unwrap(), "https://pgw.example/prefix");
        for bad in ["pgw:9091", "ftp://pgw", "http://", "http:///x", "http://pgw/a b", "http://pgw?x=1", "http://pgw#f"]
        {
            assert!(parse_pushgateway_url(bad).is_err(), "{bad}");
        }
        let e = parse_pushgateway_url("http://user:s3cret@pgw:9091").unwrap_err();
        assert!(e.contains("credentials") && !e.contains("s3cret"), "{e}");
        assert!(parse_pushgateway_url("http://pgw:9091/user@x").is_ok(), "an @ in the path is not userinfo");
    }

    #[test]
    fn output_paths_need_an_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.md");
        assert_eq!(parse_output_path(file.to_str().unwrap()).unwrap(), file);
        assert!(parse_output_path("r.md").is_ok(), "the current directory");
        let missing = dir.path().join("nope/r.md");
        assert!(parse_output_path(missing.to_str().unwrap()).unwrap_err().contains("does not exist"));
        assert!(parse_output_path(dir.path().to_str().unwrap()).unwrap_err().contains("not a file path"));
        assert!(parse_output_path("").is_err());
    }
}
