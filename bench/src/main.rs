//! `bench`: measures a running Kubernetes API server (or etcd) from the
//! outside and prints each figure next to its target.
//!
//! It starts no server for the throughput and watch runs; it drives the one
//! a kubeconfig points at, and only on 127.0.0.1. `startup` and
//! `aggregation` start their own servers, on loopback ports. Every loop is
//! bounded by a count and a time. See docs/benchmarks.md for the figures
//! and commands.

mod aggregation;
mod client;
mod crds;
mod crud;
mod error;
mod etcd_puts;
mod kubeconfig;
mod loopback;
mod namespace;
mod phase;
mod process_usage;
mod report;
mod startup;
mod stats;
mod tls;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::BenchError;
use crate::report::Report;

#[derive(Debug, Parser)]
#[command(name = "bench", about = "Benchmarks for a running API server or etcd")]
struct Cli {
    /// Print the results as JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// Runtime threads of this client; 1 keeps it on one core and avoids
    /// cross-thread wake-ups between a request and its connection.
    #[arg(long, global = true, default_value_t = 1, value_parser = positive)]
    client_threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// ConfigMap create/get/list/update/delete throughput and latency;
    /// with --server-pid also the server's resident memory.
    Crud(CrudArgs),
    /// Watch delivery to many watchers while one writer creates ConfigMaps.
    Watch(WatchArgs),
    /// The CRD engine: time to Established, custom resource throughput,
    /// memory and install time of many CRDs, and discovery with them.
    Crds(CrdArgs),
    /// Time from starting a server command to /readyz answering 200.
    Startup(StartupArgs),
    /// Raw etcd put throughput, the baseline for the etcd backend.
    EtcdPuts(EtcdArgs),
    /// The aggregation proxy's cost: the same Flunder requests straight to
    /// a sample-apiserver and through a kube-apiserver it is registered
    /// with; starts both itself.
    Aggregation(AggregationArgs),
}

#[derive(Debug, Args)]
struct CrudArgs {
    /// Kubeconfig of the server under test (its server must be 127.0.0.1).
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Concurrency levels, one full round each.
    #[arg(long, value_delimiter = ',', default_value = "1,16", value_parser = positive)]
    concurrency: Vec<usize>,
    /// ConfigMaps created (then updated and deleted) per round.
    #[arg(long, default_value_t = 10_000, value_parser = positive)]
    objects: usize,
    /// Gets per round.
    #[arg(long, default_value_t = 20_000)]
    gets: usize,
    /// Whole lists (and whole paged traversals) per round.
    #[arg(long, default_value_t = 20)]
    lists: usize,
    /// Page size of the paged list.
    #[arg(long, default_value_t = 500, value_parser = positive)]
    page_size: usize,
    /// Bytes in each ConfigMap's data.
    #[arg(long, default_value_t = 1024)]
    object_bytes: usize,
    /// HTTP/2 connections to spread requests over.
    #[arg(long, default_value_t = 1, value_parser = positive)]
    connections: usize,
    /// Time limit of each phase, in seconds.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
    /// PID of the server: report its VmRSS idle and with the objects stored.
    #[arg(long)]
    server_pid: Option<u32>,
    /// etcd client URLs of the server's etcd (loopback only): measure raw
    /// puts there first and check creates reach 80% of them.
    #[arg(long, value_delimiter = ',')]
    etcd_baseline: Option<Vec<String>>,
}

#[derive(Debug, Args)]
struct WatchArgs {
    /// Kubeconfig of the server under test (its server must be 127.0.0.1).
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Concurrent watchers.
    #[arg(long, default_value_t = 1000, value_parser = positive)]
    watchers: usize,
    /// Writes per second.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    rate: u32,
    /// Seconds of writing.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Bytes of padding in each written ConfigMap.
    #[arg(long, default_value_t = 128)]
    payload_bytes: usize,
    /// Watch streams per HTTP/2 connection (hyper's server default allows 200).
    #[arg(long, default_value_t = 100, value_parser = positive)]
    streams_per_connection: usize,
    /// Seconds watchers wait for missing events after the last write.
    #[arg(long, default_value_t = 10)]
    drain_seconds: u64,
    /// Writes in flight at most; past that the writer falls behind its rate.
    #[arg(long, default_value_t = 64, value_parser = positive)]
    max_writes_in_flight: usize,
    /// PID of the server: report the CPU time it used.
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Debug, Args)]
struct CrdArgs {
    /// Kubeconfig of the server under test (its server must be 127.0.0.1);
    /// also given to kubectl.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// PID of the server: report its VmRSS idle and with CRDs installed.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Small CRDs to install for the memory, install-time and discovery
    /// figures; 0 skips those.
    #[arg(long, default_value_t = 1000)]
    crds: usize,
    /// CRD creates in flight during the install.
    #[arg(long, default_value_t = 8, value_parser = positive)]
    install_concurrency: usize,
    /// CRDs created one at a time and timed to Established.
    #[arg(long, default_value_t = 20)]
    establish_samples: usize,
    /// Custom resources created (then read and deleted) per round.
    #[arg(long, default_value_t = 2000, value_parser = positive)]
    objects: usize,
    /// Concurrency levels of the custom resource rounds.
    #[arg(long, value_delimiter = ',', default_value = "1,16", value_parser = positive)]
    concurrency: Vec<usize>,
    /// Time limit of each phase, in seconds.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
}

#[derive(Debug, Args)]
struct StartupArgs {
    /// How many times to start the server.
    #[arg(long, default_value_t = 10, value_parser = positive)]
    runs: usize,
    /// Seconds to wait for /readyz in each run.
    #[arg(long, default_value_t = 10)]
    timeout_seconds: u64,
    /// Probe 127.0.0.1:{port} trusting any certificate, without a client
    /// certificate, instead of using DATA_DIR/admin.kubeconfig.
    #[arg(long)]
    insecure: bool,
    /// The server command; `{data_dir}` and `{port}` are substituted.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

#[derive(Debug, Args)]
struct EtcdArgs {
    /// etcd client URLs (loopback only).
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    endpoints: Vec<String>,
    /// Concurrency levels.
    #[arg(long, value_delimiter = ',', default_value = "1,16", value_parser = positive)]
    concurrency: Vec<usize>,
    /// Puts per concurrency level.
    #[arg(long, default_value_t = 10_000, value_parser = positive)]
    puts: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 1024)]
    value_bytes: usize,
    /// Time limit per concurrency level, in seconds.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
}

#[derive(Debug, Args)]
struct AggregationArgs {
    /// The kube-apiserver binary, started as the front.
    #[arg(long)]
    server_bin: PathBuf,
    /// The sample-apiserver binary (blackbox-tests), started behind it.
    #[arg(long)]
    backend_bin: PathBuf,
    /// Concurrency levels, one full round each.
    #[arg(long, value_delimiter = ',', default_value = "1,16", value_parser = positive)]
    concurrency: Vec<usize>,
    /// Gets, creates and deletes per round and way (and ConfigMap gets).
    #[arg(long, default_value_t = 5000, value_parser = positive)]
    requests: usize,
    /// Lists per round and way.
    #[arg(long, default_value_t = 1000, value_parser = positive)]
    lists: usize,
    /// Flunders stored for the gets and lists.
    #[arg(long, default_value_t = 100, value_parser = positive)]
    objects: usize,
    /// Time limit of each phase, in seconds.
    #[arg(long, default_value_t = 60)]
    max_seconds: u64,
}

fn positive(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(value) => Ok(value),
        Err(error) => Err(error.to_string()),
    }
}

async fn dispatch(command: Command) -> Result<Report, BenchError> {
    match command {
        Command::Crud(args) => {
            crud::run(crud::CrudOptions {
                kubeconfig: args.kubeconfig,
                concurrency: args.concurrency,
                objects: args.objects,
                gets: args.gets,
                lists: args.lists,
                page_size: args.page_size,
                object_bytes: args.object_bytes,
                connections: args.connections,
                max_seconds: args.max_seconds,
                server_pid: args.server_pid,
                etcd_baseline: args.etcd_baseline,
            })
            .await
        }
        Command::Watch(args) => {
            watch::run(watch::WatchOptions {
                kubeconfig: args.kubeconfig,
                watchers: args.watchers,
                rate: args.rate,
                seconds: args.seconds,
                payload_bytes: args.payload_bytes,
                streams_per_connection: args.streams_per_connection,
                drain_seconds: args.drain_seconds,
                max_writes_in_flight: args.max_writes_in_flight,
                server_pid: args.server_pid,
            })
            .await
        }
        Command::Crds(args) => {
            crds::run(crds::CrdOptions {
                kubeconfig: args.kubeconfig,
                server_pid: args.server_pid,
                crds: args.crds,
                install_concurrency: args.install_concurrency,
                establish_samples: args.establish_samples,
                objects: args.objects,
                concurrency: args.concurrency,
                max_seconds: args.max_seconds,
            })
            .await
        }
        Command::Startup(args) => {
            startup::run(startup::StartupOptions {
                runs: args.runs,
                timeout_seconds: args.timeout_seconds,
                insecure: args.insecure,
                command: args.command,
            })
            .await
        }
        Command::EtcdPuts(args) => {
            etcd_puts::run(etcd_puts::EtcdOptions {
                endpoints: args.endpoints,
                concurrency: args.concurrency,
                puts: args.puts,
                value_bytes: args.value_bytes,
                max_seconds: args.max_seconds,
            })
            .await
        }
        Command::Aggregation(args) => {
            aggregation::run(aggregation::AggregationOptions {
                server_bin: args.server_bin,
                backend_bin: args.backend_bin,
                concurrency: args.concurrency,
                requests: args.requests,
                lists: args.lists,
                objects: args.objects,
                max_seconds: args.max_seconds,
            })
            .await
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match cli.client_threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        threads => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bench: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(report) => match report.print(cli.json) {
            Ok(()) => ExitCode::SUCCESS,
            // A reader such as `head` that stops early is not a failure.
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("bench: writing the report: {error}");
                ExitCode::FAILURE
            }
        },
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(arguments.iter().copied()))
    }

    #[test]
    fn crud_defaults_follow_the_issue() {
        let cli = parse(&["crud", "--kubeconfig", "k"]).expect("valid");
        let Command::Crud(args) = cli.command else {
            panic!("expected crud");
        };
        assert_eq!(args.concurrency, vec![1, 16]);
        assert_eq!(args.objects, 10_000);
        assert_eq!(args.page_size, 500);
        assert_eq!(args.object_bytes, 1024);
        assert_eq!(args.etcd_baseline, None);
        assert!(!cli.json);
    }

    #[test]
    fn concurrency_list_and_json_parse() {
        let cli = parse(&[
            "crud",
            "--kubeconfig",
            "k",
            "--concurrency",
            "2,4,8",
            "--json",
        ])
        .expect("valid");
        assert!(cli.json);
        let Command::Crud(args) = cli.command else {
            panic!("expected crud");
        };
        assert_eq!(args.concurrency, vec![2, 4, 8]);
    }

    #[test]
    fn etcd_baseline_takes_a_list_of_endpoints() {
        let cli = parse(&[
            "crud",
            "--kubeconfig",
            "k",
            "--etcd-baseline",
            "http://127.0.0.1:2379,http://127.0.0.1:22379",
        ])
        .expect("valid");
        let Command::Crud(args) = cli.command else {
            panic!("expected crud");
        };
        assert_eq!(args.etcd_baseline.map(|list| list.len()), Some(2));
    }

    #[test]
    fn zero_concurrency_is_rejected() {
        assert!(parse(&["crud", "--kubeconfig", "k", "--concurrency", "0,16"]).is_err());
        assert!(parse(&["etcd-puts", "--concurrency", "0"]).is_err());
    }

    #[test]
    fn client_threads_is_global_and_positive() {
        let cli = parse(&["crud", "--kubeconfig", "k", "--client-threads", "2"]).expect("valid");
        assert_eq!(cli.client_threads, 2);
        assert_eq!(parse(&["etcd-puts"]).expect("valid").client_threads, 1);
        assert!(parse(&["--client-threads", "0", "etcd-puts"]).is_err());
    }

    #[test]
    fn crds_defaults_follow_the_issue() {
        let cli = parse(&["crds", "--kubeconfig", "k"]).expect("valid");
        let Command::Crds(args) = cli.command else {
            panic!("expected crds");
        };
        assert_eq!(args.crds, 1000);
        assert_eq!(args.establish_samples, 20);
        assert_eq!(args.objects, 2000);
        assert_eq!(args.concurrency, vec![1, 16]);
        assert_eq!(args.install_concurrency, 8);
        assert!(parse(&["crds", "--kubeconfig", "k", "--objects", "0"]).is_err());
    }

    #[test]
    fn crud_needs_a_kubeconfig() {
        assert!(parse(&["crud"]).is_err());
    }

    #[test]
    fn startup_takes_the_command_after_the_separator() {
        let cli = parse(&[
            "startup",
            "--runs",
            "3",
            "--",
            "kube-apiserver",
            "--data-dir",
            "{data_dir}",
            "--secure-port",
            "{port}",
        ])
        .expect("valid");
        let Command::Startup(args) = cli.command else {
            panic!("expected startup");
        };
        assert_eq!(args.runs, 3);
        assert_eq!(args.command[0], "kube-apiserver");
        assert_eq!(args.command.len(), 5);
        assert!(parse(&["startup"]).is_err());
    }

    #[test]
    fn watch_and_etcd_defaults() {
        let cli = parse(&["watch", "--kubeconfig", "k"]).expect("valid");
        let Command::Watch(args) = cli.command else {
            panic!("expected watch");
        };
        assert_eq!((args.watchers, args.rate), (1000, 500));
        let cli = parse(&["etcd-puts"]).expect("valid");
        let Command::EtcdPuts(args) = cli.command else {
            panic!("expected etcd-puts");
        };
        assert_eq!(args.endpoints, vec!["http://127.0.0.1:2379".to_string()]);
        assert_eq!(args.concurrency, vec![1, 16]);
    }

    #[test]
    fn aggregation_needs_both_binaries_and_has_defaults() {
        let cli = parse(&[
            "aggregation",
            "--server-bin",
            "target/release/kube-apiserver",
            "--backend-bin",
            "target/release/sample-apiserver",
        ])
        .expect("valid");
        let Command::Aggregation(args) = cli.command else {
            panic!("expected aggregation");
        };
        assert_eq!(args.concurrency, vec![1, 16]);
        assert_eq!((args.requests, args.lists, args.objects), (5000, 1000, 100));
        assert_eq!(args.max_seconds, 60);
        assert!(parse(&["aggregation", "--server-bin", "k"]).is_err());
        assert!(parse(&["aggregation", "--backend-bin", "s"]).is_err());
    }

    #[test]
    fn aggregation_takes_concurrency_and_counts() {
        let cli = parse(&[
            "aggregation",
            "--server-bin",
            "k",
            "--backend-bin",
            "s",
            "--concurrency",
            "4,32",
            "--requests",
            "200",
            "--objects",
            "10",
        ])
        .expect("valid");
        let Command::Aggregation(args) = cli.command else {
            panic!("expected aggregation");
        };
        assert_eq!(args.concurrency, vec![4, 32]);
        assert_eq!((args.requests, args.objects), (200, 10));
        let zero = ["aggregation", "--server-bin", "k", "--backend-bin", "s"];
        assert!(parse(&[&zero[..], &["--objects", "0"]].concat()).is_err());
        assert!(parse(&[&zero[..], &["--requests", "0"]].concat()).is_err());
    }

    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
