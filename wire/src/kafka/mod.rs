//! Kafka protocol: request/response framing, the API registry, record-batch checks.
