//! `whippet group list|describe|reset-offsets|delete`: Kafka consumer groups, through the
//! API's `/kafka/groups` views. Describe shows each partition's committed offset, high
//! watermark and lag; a reset moves a group's offsets on one topic (the group must have no
//! active members, as in Kafka).

use clap::Subcommand;
use serde_json::json;

use crate::output::{self, segment};
use crate::topics::{done, resolve};
use crate::{CliError, Client, Output};

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Every Kafka consumer group.
    List,
    /// Members, and per partition the committed offset and lag.
    Describe {
        /// The group id.
        name: String,
    },
    /// Moves the group's committed offsets on a topic.
    ResetOffsets {
        /// The group id.
        name: String,
        /// The topic (`name` or `stream/topic`).
        #[arg(long)]
        topic: String,
        /// `earliest`, `latest`, `offset:N` or `timestamp:MS`.
        #[arg(long)]
        to: String,
        /// Shows the new offsets without committing them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Deletes an empty group and its offsets.
    Delete {
        /// The group id.
        name: String,
    },
}

/// Runs one group command.
pub fn run(client: &Client, output: Output, command: &GroupCommand) -> Result<(), CliError> {
    match command {
        GroupCommand::List => list(client, output),
        GroupCommand::Describe { name } => describe(client, output, name),
        GroupCommand::ResetOffsets {
            name,
            topic,
            to,
            dry_run,
        } => reset(client, output, name, topic, to, *dry_run),
        GroupCommand::Delete { name } => {
            client.delete(&format!("/kafka/groups/{}", segment(name)))?;
            done(output, &format!("group {name} deleted"))
        }
    }
}

fn list(client: &Client, output: Output) -> Result<(), CliError> {
    let groups = client.get("/kafka/groups")?;
    if output == Output::Json {
        return output::json(&groups);
    }
    let rows = groups
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            vec![
                output::text(&g["group_id"]),
                output::text(&g["state"]),
                output::text(&g["protocol_type"]),
            ]
        })
        .collect();
    output::table(&["GROUP", "STATE", "PROTOCOL-TYPE"], rows);
    Ok(())
}

fn describe(client: &Client, output: Output, name: &str) -> Result<(), CliError> {
    let path = format!("/kafka/groups/{}", segment(name));
    let Some(group) = client.get_optional(&path)? else {
        return Err(CliError::new(format!("unknown group {name:?}")));
    };
    if output == Output::Json {
        return output::json(&group);
    }
    let members = group["members"].as_array().map_or(0, Vec::len);
    println!(
        "group {name}: {}, {members} member(s)",
        output::text(&group["state"])
    );
    let rows = group["offsets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            vec![
                output::text(&o["topic"]),
                output::text(&o["partition"]),
                output::text(&o["committed_offset"]),
                output::text(&o["high_watermark"]),
                output::text(&o["lag"]),
            ]
        })
        .collect();
    output::table(
        &["TOPIC", "PARTITION", "COMMITTED", "HIGH-WATERMARK", "LAG"],
        rows,
    );
    Ok(())
}

fn reset(
    client: &Client,
    output: Output,
    name: &str,
    topic: &str,
    to: &str,
    dry_run: bool,
) -> Result<(), CliError> {
    let topic_name = resolve(client, topic)?;
    let body = json!({"topic": topic_name.kafka_name(), "to": to, "dry_run": dry_run});
    let path = format!("/kafka/groups/{}/reset-offsets", segment(name));
    let result = client.post(&path, &body)?;
    if output == Output::Json {
        return output::json(&result);
    }
    let verb = if dry_run { "would move" } else { "moved" };
    println!("group {name} {verb} its offsets on {topic} to:");
    let rows = result["offsets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| vec![output::text(&o["partition"]), output::text(&o["offset"])])
        .collect();
    output::table(&["PARTITION", "NEW-OFFSET"], rows);
    Ok(())
}
