//! The one error type of the bench, so every failure reaches `main` with a message that says
//! which step failed, and the process exits non-zero instead of panicking.

use std::fmt;

/// Why a benchmark could not run or finish. Each variant names the step; the text is what the
/// user sees on stderr.
#[derive(Debug)]
pub enum BenchError {
    /// The arguments are inconsistent in a way clap cannot express.
    Config(String),
    /// The Kafka client failed (create, produce, consume, admin).
    Kafka(String),
    /// An Iggy SDK (0.11 or classic 0.10) failed (connect, create, send, poll).
    Native(String),
    /// Writing the JSON or chart file, or starting a target, failed.
    Io(String, std::io::Error),
    /// The run stopped making progress or a worker died.
    Run(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(message) => write!(f, "invalid configuration: {message}"),
            Self::Kafka(message) => write!(f, "kafka: {message}"),
            Self::Native(message) => write!(f, "native: {message}"),
            Self::Io(what, error) => write!(f, "{what}: {error}"),
            Self::Run(message) => write!(f, "run failed: {message}"),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<rdkafka::error::KafkaError> for BenchError {
    fn from(error: rdkafka::error::KafkaError) -> Self {
        Self::Kafka(error.to_string())
    }
}

impl From<iggy::prelude::IggyError> for BenchError {
    fn from(error: iggy::prelude::IggyError) -> Self {
        Self::Native(error.to_string())
    }
}

impl From<iggy_010::prelude::IggyError> for BenchError {
    fn from(error: iggy_010::prelude::IggyError) -> Self {
        Self::Native(format!("{error} (classic protocol, iggy 0.10 SDK)"))
    }
}
