//! `whippet-wire` owns both wire codecs, sans-IO: Kafka framing and request dispatch over the
//! `kafka-protocol` crate, record-batch inspection and (de)compression, the Iggy native framing,
//! commands and batch format, the SASL messages (PLAIN, SCRAM) Kafka clients authenticate with, and the transcoding between a Kafka record batch and native
//! message frames. It must not depend on tokio, the network, the file system, or any other
//! Whippet crate: every function takes bytes and returns values or bytes. Every length or count
//! read from a peer is checked against a named limit before anything is allocated.

pub mod kafka;
pub mod native;
pub mod sasl;
pub mod transcode;
