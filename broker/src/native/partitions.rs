//! Native partition and segment commands: create_partitions (402) appends partitions after the
//! highest id, delete_partitions (403) removes the highest ones, delete_segments (503) drops the
//! oldest closed segments of one partition. Consumer groups are told about partition changes so
//! their members are rebalanced.

use std::sync::Arc;

use whippet_wire::native::codes;
use whippet_wire::native::commands::partitions::{DeleteSegments, PartitionsChange};
use whippet_wire::native::status::Status;

use super::call::{Access, Call, Conn, Outcome, Payload};
use super::errors::catalog_status;
use super::topics::resolve_ids;
use crate::context::BrokerContext;
use crate::core::blocking;

/// Routes codes 402, 403 and 503.
pub(crate) async fn handle(ctx: &Arc<BrokerContext>, conn: &mut Conn, call: Call<'_>) -> Outcome {
    match call.code {
        codes::CREATE_PARTITIONS | codes::DELETE_PARTITIONS => {
            let change = decode_change(call.body)?;
            change_partitions(ctx, conn, change, call.code == codes::CREATE_PARTITIONS).await
        }
        codes::DELETE_SEGMENTS => delete_segments(ctx, conn, call.decode()?).await,
        _ => Err(Status::InvalidCommand),
    }
}

/// Decodes a 402/403 body: undecodable → InvalidCommand, a count outside 1..=1000 →
/// TooManyPartitions (the reference server's code for 0 as for an over-limit count).
fn decode_change(body: &[u8]) -> Result<PartitionsChange, Status> {
    PartitionsChange::decode_checked(body).map_err(|error| match error.status() {
        Status::InvalidFormat => Status::InvalidCommand,
        other => other,
    })
}

async fn change_partitions(
    ctx: &Arc<BrokerContext>,
    conn: &Conn,
    change: PartitionsChange,
    create: bool,
) -> Outcome {
    let (stream_id, topic_id) = resolve_ids(ctx, &change.stream_id, &change.topic_id)?;
    conn.require(ctx, Access::ManageTopic(stream_id, topic_id))?;
    let count = change.partitions_count;
    if !create {
        let existing = ctx
            .log
            .snapshot()
            .topic(stream_id, topic_id)
            .map_or(0, |topic| topic.partition_count());
        if count > existing {
            return Err(Status::InvalidPartitionsCount);
        }
    }
    let log = Arc::clone(&ctx.log);
    let total = blocking(move || {
        if create {
            log.create_partitions(stream_id, topic_id, count)
        } else {
            log.delete_partitions(stream_id, topic_id, count)
        }
    })
    .await
    .map_err(|error| match error {
        whippet_log::LogError::LimitExceeded { .. } => Status::TooManyPartitions,
        other => catalog_status(&other, Status::InvalidTopicName),
    })?;
    ctx.native
        .groups
        .on_partitions_changed(stream_id, topic_id, total);
    Ok(Payload::Empty)
}

async fn delete_segments(
    ctx: &Arc<BrokerContext>,
    conn: &Conn,
    request: DeleteSegments,
) -> Outcome {
    let (stream_id, topic_id) = resolve_ids(ctx, &request.stream_id, &request.topic_id)?;
    conn.require(ctx, Access::ManageTopic(stream_id, topic_id))?;
    let partition = ctx
        .log
        .snapshot()
        .topic(stream_id, topic_id)
        .and_then(|topic| topic.partition(request.partition_id).cloned())
        .ok_or(Status::PartitionNotFound)?;
    let count = request.segments_count;
    let (removed, bytes) = blocking(move || partition.delete_oldest_segments(count))
        .await
        .map_err(|error| catalog_status(&error, Status::InvalidTopicName))?;
    tracing::debug!(
        stream_id,
        topic_id,
        partition = request.partition_id,
        removed,
        bytes,
        "native delete_segments"
    );
    Ok(Payload::Empty)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use whippet_wire::native::codec::WireEncode;
    use whippet_wire::native::identifier::Identifier;

    use super::*;

    #[test]
    fn change_counts_are_bounded() {
        let change = |partitions_count| PartitionsChange {
            stream_id: Identifier::Numeric(0),
            topic_id: Identifier::Numeric(0),
            partitions_count,
        };
        assert_eq!(decode_change(&change(3).to_bytes()).unwrap(), change(3));
        assert_eq!(
            decode_change(&change(0).to_bytes()).unwrap_err(),
            Status::TooManyPartitions
        );
        assert_eq!(
            decode_change(&change(1001).to_bytes()).unwrap_err(),
            Status::TooManyPartitions
        );
        assert_eq!(decode_change(&[1, 4]).unwrap_err(), Status::InvalidCommand);
    }
}
