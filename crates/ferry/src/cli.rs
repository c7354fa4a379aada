//! Command-line wiring: the one place that reads flags and environment variables (each flag's
//! environment variable is listed in `--help`), sets up logging, and starts the subcommands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app_cmd::AppArgs;
use crate::bench::BenchArgs;
use crate::controller_cmd::ControllerArgs;
use crate::emulator_cmd::EmulatorArgs;
use crate::quickstart::QuickstartArgs;

/// Ferry delivers what is in Git to many Kubernetes clusters across many AWS accounts.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, long_about = None)]
pub struct Cli {
    /// Log filter, e.g. `info`, `ferry=debug`.
    #[arg(long, env = "FERRY_LOG", default_value = "info", global = true)]
    pub log: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a Kubernetes API emulator: one or more local clusters for tests, demos and benchmarks.
    Emulator(EmulatorArgs),
    /// Start a local demo: emulated clusters, a Git server with example applications, and the
    /// controller delivering them; prints a kubeconfig to look inside.
    Quickstart(QuickstartArgs),
    /// Run the application and ApplicationSet controllers.
    Controller(ControllerArgs),
    /// Work with applications: list, get, diff, sync, history, delete.
    App(AppArgs),
    /// Work with ApplicationSets: list, get, and preview what a set would create, update
    /// and delete.
    Appset(crate::appset_cmd::AppSetArgs),
    /// Work with clusters: list, get, and add an EKS cluster reached by role.
    Cluster(crate::cluster_cmd::ClusterArgs),
    /// Measure Ferry against emulated clusters, with baselines from the same run.
    Bench(BenchArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // kube-rs logs every failed request as `failed with error client error (Connect)`,
    // naming no cluster or application; Ferry reports those errors itself, with both and the
    // cause in words. Asking for `kube_client` logs by name brings them back.
    if !cli.log.contains("kube_client") {
        for quiet in ["kube_client=error", "kube_client::client::builder=off"] {
            if let Ok(directive) = quiet.parse() {
                filter = filter.add_directive(directive);
            }
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    // Blocking work (rendering, generating ApplicationSets, file IO) is bounded by the
    // controllers' workers (8 and 2 by default); a small pool keeps a burst of it from
    // leaving idle threads, each with allocator memory of its own, behind: with 32 threads
    // the peak resident memory of 1,000 applications was 106-109 MiB, with 12 it is 79-86.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(12)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Emulator(args) => crate::emulator_cmd::run(args).await,
            Command::Quickstart(args) => crate::quickstart::run(args).await,
            Command::Controller(args) => crate::controller_cmd::run(args).await,
            Command::App(args) => crate::app_cmd::run(args).await,
            Command::Appset(args) => crate::appset_cmd::run(args).await,
            Command::Cluster(args) => crate::cluster_cmd::run(args).await,
            Command::Bench(args) => crate::bench::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
