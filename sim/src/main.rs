//! `vmmigrate-sim serve`: runs the simulated API server until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use vmmigrate_sim::scenario::{GenerateOptions, Scenario, generate_yaml};
use vmmigrate_sim::{ClusterOptions, ClusterSim};

#[derive(Parser)]
#[command(
    name = "vmmigrate-sim",
    version,
    about = "A simulated Kubernetes v1.34 API server with KubeVirt v1.5 behaviour"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a scenario over HTTP on loopback.
    Serve {
        /// A built-in scenario (`haos`, `blockers`, `faults`) or a scenario file (YAML, or JSON by extension).
        #[arg(long)]
        scenario: String,
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Where to write a kubeconfig for the sim.
        #[arg(long)]
        kubeconfig_out: PathBuf,
        /// Where to write the audit log (one JSON object per request).
        #[arg(long)]
        audit_log: Option<PathBuf>,
        /// How much faster than real time simulated time runs.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Run exec'd commands for real on this host instead of emulating the probe tools.
        #[arg(long)]
        real_exec: bool,
        /// With --real-exec: an argument put before every command (repeat it: `--real-exec-prefix ip
        /// --real-exec-prefix netns --real-exec-prefix exec --real-exec-prefix NS`).
        #[arg(long, requires = "real_exec")]
        real_exec_prefix: Vec<String>,
    },
    /// Print a generated scenario (YAML) of N VMs spread over namespaces and nodes, for benchmarks.
    Generate {
        /// Number of VMs (up to 20,000 is the tested range).
        #[arg(long)]
        vms: usize,
        #[arg(long, default_value_t = 10)]
        namespaces: usize,
        #[arg(long, default_value_t = 20)]
        nodes: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A deterministic mix of migratable VMs and VMs with every LiveMigratable blocker.
        #[arg(long)]
        mix: bool,
    },
}

fn generate(opts: GenerateOptions) -> anyhow::Result<()> {
    anyhow::ensure!(opts.namespaces >= 1, "--namespaces must be at least 1");
    anyhow::ensure!(opts.nodes >= 2, "--nodes must be at least 2");
    let yaml = generate_yaml(opts).context("cannot write the scenario as YAML")?;
    std::io::Write::write_all(&mut std::io::stdout().lock(), yaml.as_bytes()).context("cannot write to stdout")?;
    Ok(())
}

async fn serve(
    scenario: String,
    listen: SocketAddr,
    kubeconfig_out: PathBuf,
    audit_log: Option<PathBuf>,
    speed: f64,
    real_exec: Option<Vec<String>>,
) -> anyhow::Result<()> {
    anyhow::ensure!(speed.is_finite() && speed > 0.0, "--speed must be a positive number, not {speed}");
    // Handlers first: a signal that arrives once `ready` is printed must stop the sim cleanly.
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let scenario = Scenario::load(&scenario)?;
    let cluster = ClusterSim::start(&scenario, ClusterOptions { speed, listen, audit_log, real_exec }).await?;
    cluster
        .sim
        .write_kubeconfig(&kubeconfig_out, None)
        .with_context(|| format!("cannot write the kubeconfig {}", kubeconfig_out.display()))?;
    println!("ready {}", cluster.sim.url());
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    cluster.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { scenario, listen, kubeconfig_out, audit_log, speed, real_exec, real_exec_prefix } => {
            let real_exec = real_exec.then_some(real_exec_prefix);
            serve(scenario, listen, kubeconfig_out, audit_log, speed, real_exec).await
        }
        Command::Generate { vms, namespaces, nodes, seed, mix } => {
            generate(GenerateOptions { vms, namespaces, nodes, seed, mix })
        }
    };
    if let Err(e) = result {
        eprintln!("vmmigrate-sim: {e:#}");
        std::process::exit(1);
    }
}
