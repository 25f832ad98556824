//! Users made through Kafka (issue 16, item 3): confluent-kafka's AdminClient creates a user
//! with AlterUserScramCredentials; it logs in over SASL/SCRAM and natively (the `iggy` SDK)
//! with the same password; the credential shows in DescribeUserScramCredentials; a native
//! user's password set through Kafka replaces the old one on both protocols; removing the
//! credential ends the logins; a caller without manage_users gets
//! CLUSTER_AUTHORIZATION_FAILED; too few iterations are UNACCEPTABLE_CREDENTIAL.
#![allow(clippy::unwrap_used)]

mod native_sdk_common;
mod security_common;

use std::process::Command;

use iggy::prelude::*;
use security_common::{Pki, confluent, path, start};
use whippet_compat_tests::WhippetProcess;
use whippet_compat_tests::programs::{clients_dir, venv_python};

fn sasl(pki: &Pki, mechanism: &str, user: &str, password: &str) -> String {
    format!(
        r#"{{"security.protocol": "SASL_PLAINTEXT", "ssl.ca.location": "{}",
             "sasl.mechanism": "{mechanism}", "sasl.username": "{user}",
             "sasl.password": "{password}"}}"#,
        path(&pki.ca)
    )
}

/// Runs `clients/python/scram_users.py` (confluent-kafka's AdminClient) as `config`.
fn scram_users(broker: &WhippetProcess, config: &str, args: &[&str]) -> String {
    let mut command = Command::new(venv_python());
    command
        .arg(clients_dir().join("python/scram_users.py"))
        .arg(broker.kafka_addr().to_string())
        .arg(config)
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let (ok, output) = security_common::run(command);
    assert!(ok, "scram_users {args:?}: {output}\n{}", broker.stderr());
    output
}

/// Whether the native SDK logs in as `user` with `password`.
async fn native_login(broker: &WhippetProcess, user: &str, password: &str) -> bool {
    let client = native_sdk_common::connect(broker).await;
    client.login_user(user, password).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_created_through_kafka_log_in_on_both_protocols() {
    let pki = Pki::new();
    let broker = start(
        &pki,
        &[
            "--kafka-security-protocol",
            "SASL_PLAINTEXT",
            "--auth",
            "true",
        ],
    );
    let root = sasl(&pki, "SCRAM-SHA-512", "iggy", "iggy");
    confluent(&broker, "scram-users", &root, "ok");

    let out = scram_users(
        &broker,
        &root,
        &["upsert", "kuser", "SCRAM-SHA-256", "k-pass"],
    );
    assert!(out.trim_end().ends_with("OK"), "{out}");
    let out = scram_users(&broker, &root, &["describe"]);
    assert!(out.contains("USER kuser SCRAM_SHA_256 8192"), "{out}");
    assert!(out.contains("USER iggy SCRAM_SHA_512 4096"), "{out}");
    let out = scram_users(&broker, &root, &["describe", "kuser", "ghost"]);
    assert!(out.contains("USER kuser SCRAM_SHA_256 8192"), "{out}");
    assert!(out.contains("USER ghost ERR RESOURCE_NOT_FOUND"), "{out}");

    // The new user logs in over SASL (authenticated: refused only by its missing grants) and
    // natively, with the password set through Kafka; not with another one. Failed logins are
    // throttled per client address (10, then one a second), so the checks that must fail come
    // after the ones that must succeed, the SASL ones (librdkafka retries) last.
    let kuser = sasl(&pki, "SCRAM-SHA-256", "kuser", "k-pass");
    confluent(&broker, "scram-users", &kuser, "topic-denied");
    let plain = sasl(&pki, "PLAIN", "kuser", "k-pass");
    confluent(&broker, "scram-users", &plain, "topic-denied");
    assert!(native_login(&broker, "kuser", "k-pass").await);
    assert!(!native_login(&broker, "kuser", "nope").await);

    // A native user's password set through Kafka: the old one stops working on both sides.
    let admin = native_sdk_common::login(&broker, "iggy", "iggy").await;
    admin
        .create_user("nuser", "old-pass", UserStatus::Active, None)
        .await
        .unwrap();
    let out = scram_users(
        &broker,
        &root,
        &["upsert", "nuser", "SCRAM-SHA-512", "new-pass"],
    );
    assert!(out.trim_end().ends_with("OK"), "{out}");
    assert!(native_login(&broker, "nuser", "new-pass").await);
    let nuser = sasl(&pki, "SCRAM-SHA-512", "nuser", "new-pass");
    confluent(&broker, "scram-users", &nuser, "topic-denied");
    assert!(!native_login(&broker, "nuser", "old-pass").await);

    // Without manage_users: refused, nothing made.
    let out = scram_users(
        &broker,
        &kuser,
        &["upsert", "mallory", "SCRAM-SHA-256", "m-pass"],
    );
    assert!(out.contains("ERR CLUSTER_AUTHORIZATION_FAILED"), "{out}");
    let out = scram_users(
        &broker,
        &root,
        &["upsert", "weak", "SCRAM-SHA-256", "w-pass", "1000"],
    );
    assert!(out.contains("ERR UNACCEPTABLE_CREDENTIAL"), "{out}");
    assert!(!native_login(&broker, "mallory", "m-pass").await);

    // Removing the credential ends the user's logins; removing it again is RESOURCE_NOT_FOUND.
    let out = scram_users(&broker, &root, &["delete", "kuser", "SCRAM-SHA-256"]);
    assert!(out.trim_end().ends_with("OK"), "{out}");
    let out = scram_users(&broker, &root, &["delete", "kuser", "SCRAM-SHA-256"]);
    assert!(out.contains("ERR RESOURCE_NOT_FOUND"), "{out}");
    assert!(!native_login(&broker, "kuser", "k-pass").await);

    // The SASL refusals: a wrong password, the old password, a removed credential.
    let wrong = sasl(&pki, "SCRAM-SHA-512", "nuser", "nope");
    confluent(&broker, "scram-users", &wrong, "auth-failed");
    let old = sasl(&pki, "SCRAM-SHA-256", "nuser", "old-pass");
    confluent(&broker, "scram-users", &old, "auth-failed");
    confluent(&broker, "scram-users", &kuser, "auth-failed");
}
