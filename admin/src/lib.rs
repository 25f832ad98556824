//! `whippet-admin` is the operator CLI: the `whippet topic|group|user|token|produce|consume|
//! cluster|completions` subcommands of the `whippet` binary. It is a client of a running
//! broker's HTTP API (`--server HOST:PORT`, default `127.0.0.1:3000`, or `WHIPPET_SERVER`),
//! logged in with `--username`/`--password` (default `iggy`/`iggy`), and never reaches into
//! the log or the coordinator directly. Output is human tables, or JSON with `--output json`;
//! failures print one readable line on stderr and exit non-zero.
//!
//! Topic names: a plain name (`orders`) is a Kafka topic, i.e. a topic of the broker's Kafka
//! stream; `stream/topic` names a topic of any native stream. Group commands act on Kafka
//! consumer groups.

mod client;
mod data;
mod groups;
mod output;
mod topics;
mod users;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

pub use self::client::Client;

/// The first arguments that make `whippet` run the CLI instead of the broker.
pub const SUBCOMMANDS: &[&str] = &[
    "topic",
    "group",
    "user",
    "token",
    "produce",
    "consume",
    "cluster",
    "completions",
];

/// The CLI's global options that take a value (they may come before the subcommand).
const GLOBAL_OPTIONS: &[&str] = &[
    "--server",
    "--username",
    "--password",
    "--output",
    "--tls-ca-cert",
    "--tls-domain",
];

/// Whether `args` (the whole command line, program name first) asks for a CLI subcommand: its
/// first argument that is not a CLI global option (or its value) names one.
pub fn is_cli(args: &[OsString]) -> bool {
    let mut rest = args.iter().skip(1).map(|arg| arg.to_str());
    while let Some(arg) = rest.next() {
        let Some(arg) = arg else { return false };
        if GLOBAL_OPTIONS.contains(&arg) {
            rest.next();
            continue;
        }
        if arg == "--tls" {
            continue;
        }
        let inline = GLOBAL_OPTIONS.iter().any(|option| {
            arg.strip_prefix(option)
                .is_some_and(|tail| tail.starts_with('='))
        });
        if !inline {
            return SUBCOMMANDS.contains(&arg);
        }
    }
    false
}

/// A failure the CLI reports on stderr before exiting with [`ExitCode::FAILURE`].
#[derive(Debug)]
pub struct CliError {
    message: String,
}

impl CliError {
    /// An error with its message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned tables for people.
    Table,
    /// The API's JSON, pretty-printed.
    Json,
}

/// The `whippet` operator CLI.
#[derive(Debug, Parser)]
#[command(name = "whippet", version, about = "Whippet broker: operator commands")]
pub struct Cli {
    /// The broker's HTTP API address.
    #[arg(
        long,
        global = true,
        env = "WHIPPET_SERVER",
        default_value = "127.0.0.1:3000"
    )]
    pub server: String,
    /// User to log in as.
    #[arg(long, global = true, env = "WHIPPET_USERNAME", default_value = "iggy")]
    pub username: String,
    /// Password of that user.
    #[arg(long, global = true, env = "WHIPPET_PASSWORD", default_value = "iggy")]
    pub password: String,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value = "table")]
    pub output: Output,
    /// Speak HTTPS to a broker started with `--http-tls true`.
    #[arg(long, global = true, env = "WHIPPET_CLI_TLS")]
    pub tls: bool,
    /// The CA certificate (PEM) the broker's certificate must chain to (needed with `--tls`).
    #[arg(
        long,
        global = true,
        env = "WHIPPET_CLI_TLS_CA_CERT",
        value_name = "FILE"
    )]
    pub tls_ca_cert: Option<std::path::PathBuf>,
    /// The name the broker's certificate is checked against, when `--server` is an address
    /// the certificate does not name (e.g. `localhost`).
    #[arg(long, global = true, env = "WHIPPET_CLI_TLS_DOMAIN")]
    pub tls_domain: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Topics: a plain NAME is a Kafka topic, `stream/topic` a native one.
    #[command(subcommand)]
    Topic(topics::TopicCommand),
    /// Kafka consumer groups.
    #[command(subcommand)]
    Group(groups::GroupCommand),
    /// Users and their permissions.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Personal access tokens of the logged-in user.
    #[command(subcommand)]
    Token(users::TokenCommand),
    /// Sends stdin, one message per line.
    Produce(data::ProduceArgs),
    /// Prints messages of a topic.
    Consume(data::ConsumeArgs),
    /// The broker.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Prints a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Version, listeners, uptime, data size and counts.
    Info,
}

/// Runs the CLI on `args` (program name first); returns the process exit code.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    match execute(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: &Cli) -> Result<(), CliError> {
    if let Command::Completions { shell } = &cli.command {
        let mut command = Cli::command();
        clap_complete::generate(*shell, &mut command, "whippet", &mut std::io::stdout());
        return Ok(());
    }
    let tls = client::Tls::from_cli(cli)?;
    let client = Client::login(&cli.server, tls.as_ref(), &cli.username, &cli.password)?;
    match &cli.command {
        Command::Topic(command) => topics::run(&client, cli.output, command),
        Command::Group(command) => groups::run(&client, cli.output, command),
        Command::User(command) => users::run_user(&client, cli.output, command),
        Command::Token(command) => users::run_token(&client, cli.output, command),
        Command::Produce(args) => data::produce(&client, cli.output, args),
        Command::Consume(args) => data::consume(&client, args),
        Command::Cluster(ClusterCommand::Info) => cluster_info(&client, cli.output),
        Command::Completions { .. } => Ok(()),
    }
}

fn cluster_info(client: &Client, output: Output) -> Result<(), CliError> {
    let info = client.get("/cluster/info")?;
    if output == Output::Json {
        return output::json(&info);
    }
    let text = |key: &str| output::text(&info[key]);
    let uptime = info["uptime_us"].as_u64().unwrap_or(0) / 1_000_000;
    let rows = vec![
        vec!["version".into(), text("version")],
        vec![
            "kafka listener".into(),
            output::text(&info["listeners"]["kafka"]),
        ],
        vec![
            "native listener".into(),
            output::text(&info["listeners"]["native"]),
        ],
        vec![
            "http listener".into(),
            output::text(&info["listeners"]["http"]),
        ],
        vec!["kafka stream".into(), text("kafka_stream")],
        vec![
            "uptime".into(),
            format!(
                "{}h{:02}m{:02}s",
                uptime / 3600,
                uptime / 60 % 60,
                uptime % 60
            ),
        ],
        vec!["data".into(), output::bytes(&info["data_bytes"])],
        vec![
            "disk free / total".into(),
            format!(
                "{} / {}",
                output::bytes(&info["disk_free_bytes"]),
                output::bytes(&info["disk_total_bytes"])
            ),
        ],
        vec!["streams".into(), text("streams")],
        vec!["topics".into(), text("topics")],
        vec!["partitions".into(), text("partitions")],
        vec!["segments".into(), text("segments")],
        vec!["messages".into(), text("messages")],
        vec!["kafka groups".into(), text("kafka_groups")],
        vec!["native groups".into(), text("native_consumer_groups")],
        vec!["native clients".into(), text("native_clients")],
    ];
    output::table(&["PROPERTY", "VALUE"], rows);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_select_the_cli() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(is_cli(&args(&["whippet", "topic", "list"])));
        assert!(!is_cli(&args(&["whippet"])));
        assert!(!is_cli(&args(&["whippet", "--data-dir", "x"])));
        assert!(is_cli(&args(&[
            "whippet", "--server", "h:1", "group", "list"
        ])));
        assert!(is_cli(&args(&[
            "whippet",
            "--output=json",
            "cluster",
            "info"
        ])));
        assert!(!is_cli(&args(&["whippet", "--server", "h:1"])));
    }
}
