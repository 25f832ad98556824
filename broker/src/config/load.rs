//! The layers, lowest first: the embedded defaults (clap's `default_value`s), the TOML file
//! (serde, starting from the defaults), the environment (each `WHIPPET_*` variable parsed as
//! its flag), the flags. Each layer replaces only the settings it names, through clap's
//! `update_from_arg_matches`, so none of this code names a setting.
//!
//! clap would read the process environment and fill in defaults by itself; both are turned
//! off for parsing (they would override the file), and kept on only to render `--help`.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgMatches, Args, Command, CommandFactory, FromArgMatches};

use super::declared::{Cli, RawSettings};
use super::{ConfigError, ENV_CONFIG, EnvMap, Settings};
use crate::limits;

impl Settings {
    /// Loads settings from command-line `args` (including the program name) and `env`, applying
    /// precedence flags > env > file > defaults, then validates them. `--help` and `--version`
    /// come back as [`ConfigError::Cli`], which the caller prints and exits with.
    pub fn load<I, T>(args: I, env: &EnvMap) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let flags = parse_flags(&args)?;
        let config_path = match flags.get_one::<PathBuf>("config") {
            Some(path) => Some(path.clone()),
            None => env.get(ENV_CONFIG).map(PathBuf::from),
        };
        let mut raw = match config_path {
            Some(path) => RawSettings::from_file(&path)?,
            None => RawSettings::default(),
        };
        raw.apply_env(env)?;
        raw.update_from_arg_matches(&flags).map_err(cli_error)?;
        Self::resolve(raw, env.get("RUST_LOG").map(String::as_str))
    }
}

impl RawSettings {
    /// Reads a TOML file over the defaults. The file is size-checked before it is read, and a
    /// syntax error, a wrong type or an unknown key is an error naming the file and line.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = read_bounded(path)?;
        toml::from_str(&text).map_err(|source| ConfigError::ParseFile {
            path: path.to_path_buf(),
            line: source.span().map_or(0, |span| line_of(&text, span.start)),
            message: source.message().to_string(),
        })
    }

    /// Replaces every setting whose `WHIPPET_*` variable `env` holds. The value is parsed by
    /// the setting's flag parser, so both layers accept exactly the same spellings; one that
    /// does not parse is an error naming the variable. Variables no setting declares are
    /// ignored, so a newer deployment's environment does not stop an older binary.
    pub fn apply_env(&mut self, env: &EnvMap) -> Result<(), ConfigError> {
        let declared = Self::augment_args(Command::new("whippet"));
        let mut parser = without_clap_layers(declared.clone());
        for arg in declared.get_arguments() {
            let (Some(var), Some(long)) = (arg.get_env().and_then(|v| v.to_str()), arg.get_long())
            else {
                continue;
            };
            let Some(value) = env.get(var) else {
                continue;
            };
            // `--flag=value` keeps a value that starts with `-` a value.
            let flag = OsString::from(format!("--{long}={value}"));
            let matches = parser
                .try_get_matches_from_mut([OsString::from("whippet"), flag])
                .map_err(|error| ConfigError::Env {
                    var: var.to_string(),
                    value: value.clone(),
                    reason: clap_reason(&error),
                })?;
            self.update_from_arg_matches(&matches).map_err(cli_error)?;
        }
        Ok(())
    }
}

/// `command` with clap's own layers switched off: no environment (that layer comes from the
/// caller's [`EnvMap`], never from the process) and no defaults (they sit below the file).
/// Flags are then only what the command line names.
fn without_clap_layers(command: Command) -> Command {
    without_env(command).mut_args(|arg| arg.default_value(None::<&'static str>))
}

/// `command` without clap's reading of the process environment (it keeps its defaults).
pub(super) fn without_env(command: Command) -> Command {
    command.mut_args(|arg| arg.env(None::<&'static str>))
}

/// Parses the command line alone. Help and version are rendered by the full command, so they
/// show each setting's environment variable and default (never the variable's value).
fn parse_flags(args: &[OsString]) -> Result<ArgMatches, ConfigError> {
    without_clap_layers(Cli::command())
        .try_get_matches_from(args)
        .map_err(|error| {
            let error = match error.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => help_command()
                    .try_get_matches_from(args)
                    .err()
                    .unwrap_or(error),
                _ => error,
            };
            cli_error(error)
        })
}

/// The command `--help` describes: every flag with its variable and default.
pub(super) fn help_command() -> Command {
    Cli::command().mut_args(|arg| arg.hide_env_values(true))
}

fn cli_error(error: clap::Error) -> ConfigError {
    ConfigError::Cli(Box::new(error))
}

/// Why clap rejected a value, without clap's usage text around it.
fn clap_reason(error: &clap::Error) -> String {
    if let Some(source) = std::error::Error::source(error) {
        return source.to_string();
    }
    match error.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(valid)) => format!("must be one of: {}", valid.join(", ")),
        _ => error.kind().as_str().unwrap_or("invalid value").to_string(),
    }
}

fn read_bounded(path: &Path) -> Result<String, ConfigError> {
    let read_error = |source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut text = String::new();
    // Read one byte past the cap so an oversized file is detected without reading it whole.
    let read = file
        .take(limits::CONFIG_FILE_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    if read as u64 > limits::CONFIG_FILE_BYTES_MAX {
        return Err(ConfigError::FileTooLarge {
            path: path.to_path_buf(),
            max: limits::CONFIG_FILE_BYTES_MAX,
        });
    }
    Ok(text)
}

fn line_of(text: &str, byte: usize) -> usize {
    let end = byte.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
