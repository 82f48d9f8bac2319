//! `keyward bench`: command-line options → `keyward::bench::run`.

use std::path::PathBuf;

use clap::Args;

use super::Cli;

/// Measure operations per second of a PKCS#11 module, optionally against a second one, with
/// the same crypto on aws-lc-rs as the ceiling. The token is chosen with the global --token
/// (default: the first initialised token); the PIN comes from --pin-file, else
/// KEYWARD_BENCH_PIN, else KEYWARD_PIN. The bench creates (and destroys) its own `bench-*`
/// keys and objects.
#[derive(Args)]
pub(crate) struct BenchArgs {
    /// The PKCS#11 module to measure (A).
    #[arg(long, required_unless_present = "list")]
    module: Option<PathBuf>,
    /// A second module (B), measured alternately with A; the table gives A/B.
    #[arg(long)]
    compare: Option<PathBuf>,
    /// The token label in the --compare module (default: its first initialised token).
    #[arg(long)]
    compare_token: Option<String>,
    /// File holding the user PIN of both tokens.
    #[arg(long)]
    pin_file: Option<PathBuf>,
    /// Threads per operation, each with its own session, sharing the same key.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seconds measured per operation and module, after a warm-up of a tenth of that.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Write the results as JSON (with the machine and module paths) to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write an SVG bar chart of A against B to this file.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Only these operations: ids or id prefixes, comma-separated (see --list).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Print the operation ids and exit.
    #[arg(long)]
    list: bool,
}

/// Run the bench (or list its operations).
pub(crate) fn run(args: &BenchArgs, cli: &Cli) -> Result<(), String> {
    if cli.slot.is_some() || cli.user.is_some() {
        return Err("bench picks the token with --token and logs in as the user".into());
    }
    if args.list {
        for op in keyward::bench::ops::catalogue() {
            println!("{:<28} {}", op.id, op.title);
        }
        return Ok(());
    }
    let config = keyward::bench::Config {
        module: args.module.clone().ok_or("--module is required")?,
        compare: args.compare.clone(),
        token: cli.token.clone(),
        compare_token: args.compare_token.clone(),
        pin_file: args.pin_file.clone(),
        threads: args.threads,
        seconds: args.seconds,
        json: args.json.clone(),
        plot: args.plot.clone(),
        only: args.only.clone(),
    };
    keyward::bench::run(&config)
        .map(drop)
        .map_err(|e| format!("bench: {e}"))
}
