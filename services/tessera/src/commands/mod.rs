//! One module per subcommand.

mod classifier;
mod demo;
mod eval;
mod info;
mod live;
mod local_servers;
mod policy;
mod provision;
mod publish;
mod read_file;
mod segment;
mod topology;
mod up;
mod watch;

use std::process::ExitCode;

use anyhow::Result;
use tessera_provision::Cache;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand.
pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    let cache = Cache::new(cli.cache);
    match cli.command {
        Command::Segment(args) => segment::run(&cache, &args),
        Command::Demo(args) => demo::run(&cache, &args),
        Command::Eval(args) => eval::run(&cache, &args),
        Command::Info(args) => info::run(&args),
        Command::ReadFile(args) => read_file::run(&args),
        Command::Provision(args) => provision::run(&cache, &args),
        Command::Up(args) => up::run(&cache, &args),
        Command::Publish(args) => publish::run(&args),
        Command::Watch(args) => watch::run(&args),
        Command::Classifier(command) => classifier::run(&command),
        Command::Policy(command) => policy::run(&command),
        Command::Topology(args) => topology::run(&args),
    }
}
