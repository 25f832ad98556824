//! Classic side of [`super::client::NativeClient`]: each call through the official `iggy`
//! 0.10.0 SDK (renamed `iggy_010` in the manifest), the last one of the classic framing.

use bytes::Bytes;
use iggy_010::prelude::*;

use super::Partition;
use super::client::{PollConsumer, PollRequest};
use crate::error::BenchError;

/// Connects and logs in.
pub async fn connect(url: &str) -> Result<IggyClient, BenchError> {
    let client = IggyClient::from_connection_string(url)?;
    client.connect().await?;
    Ok(client)
}

/// Creates the stream and topics that are missing, with the server's default topic settings.
pub async fn ensure_layout(
    client: &IggyClient,
    stream: &str,
    topics: &[String],
    partitions: u32,
) -> Result<(), BenchError> {
    let stream_id = Identifier::named(stream)?;
    if client.get_stream(&stream_id).await?.is_none() {
        client.create_stream(stream).await?;
    }
    for topic in topics {
        if client
            .get_topic(&stream_id, &Identifier::named(topic)?)
            .await?
            .is_none()
        {
            // The classic request has fixed fields for what 0.11 sends as options; these are
            // the values the 0.11 defaults mean (no compression, server's expiry and size cap).
            client
                .create_topic(
                    &stream_id,
                    topic,
                    partitions,
                    CompressionAlgorithm::None,
                    None,
                    IggyExpiry::ServerDefault,
                    MaxTopicSize::ServerDefault,
                )
                .await?;
        }
    }
    Ok(())
}

/// Deletes a stream.
pub async fn delete_stream(client: &IggyClient, stream: &str) -> Result<(), BenchError> {
    client.delete_stream(&Identifier::named(stream)?).await?;
    Ok(())
}

/// Sends one batch to one partition.
pub async fn send(
    client: &IggyClient,
    target: &Partition,
    payloads: Vec<Bytes>,
) -> Result<(), BenchError> {
    let mut messages = payloads
        .into_iter()
        .map(|payload| IggyMessage::builder().payload(payload).build())
        .collect::<Result<Vec<_>, _>>()?;
    let stream = Identifier::named(&target.stream)?;
    let topic = Identifier::named(&target.topic)?;
    let partitioning = Partitioning::partition_id(target.id);
    client
        .send_messages(&stream, &topic, &partitioning, &mut messages)
        .await?;
    Ok(())
}

/// Creates the group (ignoring "exists") and joins it.
pub async fn join_group(
    client: &IggyClient,
    stream: &str,
    topic: &str,
    group: &str,
) -> Result<(), BenchError> {
    let (stream, topic) = (Identifier::named(stream)?, Identifier::named(topic)?);
    // Another member may have created it already; joining is what must succeed.
    let _ = client.create_consumer_group(&stream, &topic, group).await;
    client
        .join_consumer_group(&stream, &topic, &Identifier::named(group)?)
        .await?;
    Ok(())
}

/// One poll.
pub async fn poll(
    client: &IggyClient,
    request: &PollRequest<'_>,
) -> Result<PolledMessages, BenchError> {
    let consumer = match request.consumer {
        PollConsumer::Single(id) => Consumer::new(Identifier::numeric(id)?),
        PollConsumer::Group(name) => Consumer::group(Identifier::named(name)?),
    };
    let strategy = request
        .offset
        .map_or_else(PollingStrategy::next, PollingStrategy::offset);
    let polled = client
        .poll_messages(
            &Identifier::named(request.stream)?,
            &Identifier::named(request.topic)?,
            request.partition,
            &consumer,
            &strategy,
            request.count,
            request.auto_commit,
        )
        .await?;
    Ok(polled)
}
