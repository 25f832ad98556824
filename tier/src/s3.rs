//! The object store: a thin wrapper over the AWS SDK's S3 client with the few calls the tier
//! makes (put a file or bytes, get, delete), each mapped to one error type.

use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use crate::TierConfig;

/// Why an object-store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object {key} does not exist")]
    Missing { key: String },
    #[error("S3 {op} of {key} failed: {reason}")]
    Failed {
        op: &'static str,
        key: String,
        reason: String,
    },
}

/// One bucket under one key prefix.
#[derive(Debug, Clone)]
pub struct Bucket {
    client: Client,
    bucket: String,
    prefix: String,
}

impl Bucket {
    /// A client for `config`'s bucket. Credentials come from the standard AWS chain
    /// (environment, profile files, web identity, container and instance metadata); an
    /// endpoint, when given, is addressed path-style (S3-compatible servers).
    pub async fn connect(config: &TierConfig) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(60))
            .build();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .timeout_config(timeouts);
        if let Some(region) = &config.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        let shared = loader.load().await;
        // GETs are checked by the tier itself (every frame's checksums, the manifest's shape),
        // and S3-compatible servers may keep a stored checksum that no longer matches a
        // replaced object (s3s-fs writes it after the object, so a client killed in between
        // leaves the old one): the SDK's own check of responses is left to objects that
        // require it. Uploads still carry a checksum.
        let mut builder = aws_sdk_s3::config::Builder::from(&shared).response_checksum_validation(
            aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
        );
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint).force_path_style(true);
        }
        Self {
            client: Client::from_conf(builder.build()),
            bucket: config.bucket.clone(),
            prefix: config.prefix.trim_matches('/').to_string(),
        }
    }

    /// The full key of `name` under the prefix.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// Uploads the file at `path` as `key`; the object exists only once this returns Ok.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<(), StoreError> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| failed("put", key, &DisplayErrorContext(&e)))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body)
            .send()
            .await
            .map_err(|e| sdk_failed("put", key, &e))?;
        Ok(())
    }

    /// Stores `bytes` as `key`.
    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| sdk_failed("put", key, &e))?;
        Ok(())
    }

    /// The whole object `key`, at most `max_bytes` of it (a bigger one is an error).
    pub async fn get(&self, key: &str, max_bytes: u64) -> Result<Bytes, StoreError> {
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(service) if service.is_no_such_key() => StoreError::Missing {
                    key: key.to_string(),
                },
                _ => sdk_failed("get", key, &e),
            })?;
        let length = answer.content_length().unwrap_or(0);
        if u64::try_from(length).unwrap_or(u64::MAX) > max_bytes {
            return Err(StoreError::Failed {
                op: "get",
                key: key.to_string(),
                reason: format!("object of {length} bytes is over the {max_bytes}-byte bound"),
            });
        }
        let body = answer
            .body
            .collect()
            .await
            .map_err(|e| failed("get", key, &DisplayErrorContext(&e)))?;
        Ok(body.into_bytes())
    }

    /// Deletes `key` (absent is fine).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_failed("delete", key, &e))?;
        Ok(())
    }
}

fn failed(op: &'static str, key: &str, error: &dyn std::fmt::Display) -> StoreError {
    StoreError::Failed {
        op,
        key: key.to_string(),
        reason: error.to_string(),
    }
}

fn sdk_failed<E, R>(op: &'static str, key: &str, error: &SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Failed {
        op,
        key: key.to_string(),
        reason: DisplayErrorContext(error).to_string(),
    }
}
