//! What the security tests share: certificates made for each test (a CA, a server certificate
//! for `localhost` and 127.0.0.1, a client certificate, all with rcgen), brokers started with
//! TLS/SASL flags, and the client programs run against them.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use whippet_compat_tests::programs::{Streams, clients_dir, run_program, tail, venv_python};
use whippet_compat_tests::{Launch, WhippetProcess};

/// How long one client program may run.
pub const PROGRAM_TIMEOUT: Duration = Duration::from_secs(120);

/// PEM files of one test's PKI, in a temporary directory.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    /// A fresh CA with a server and a client certificate signed by it.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "whippet test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let server_key = KeyPair::generate().unwrap();
        let mut server =
            CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = server.signed_by(&server_key, &ca).unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client = CertificateParams::new(vec!["client".into()]).unwrap();
        client.distinguished_name.push(DnType::CommonName, "client");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = client.signed_by(&client_key, &ca).unwrap();
        Self {
            ca: write("ca.pem", &ca.pem()),
            cert: write("server.pem", &server.pem()),
            key: write("server.key", &server_key.serialize_pem()),
            client_cert: write("client.pem", &client.pem()),
            client_key: write("client.key", &client_key.serialize_pem()),
            dir,
        }
    }

    /// The broker flags naming the server certificate and key.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
        ]
    }
}

/// Starts a broker with `args` after the PKI's certificate flags.
pub fn start(pki: &Pki, args: &[&str]) -> WhippetProcess {
    let mut all = pki.flags();
    all.extend(args.iter().map(|arg| (*arg).to_string()));
    Launch::new().args(all).start().unwrap()
}

/// Runs `command` and answers (success, stdout and stderr).
pub fn run(command: Command) -> (bool, String) {
    let output = run_program(command, PROGRAM_TIMEOUT, Streams::Merged);
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&output.stderr);
    (output.success, text)
}

/// Runs `clients/python/secure_kafka.py` (PyPI confluent-kafka) with the client properties
/// `config` (JSON) and the expectation `expect`, failing the test with its output and the
/// broker's otherwise.
pub fn confluent(broker: &WhippetProcess, topic: &str, config: &str, expect: &str) -> String {
    let mut command = Command::new(venv_python());
    command
        .arg(clients_dir().join("python/secure_kafka.py"))
        .arg(broker.kafka_addr().to_string())
        .args([topic, config, expect])
        .env_remove("LD_LIBRARY_PATH")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    let (success, output) = run(command);
    assert!(
        success,
        "confluent-kafka ({expect}) failed:\n{output}\n--- broker stderr ---\n{}",
        tail(&broker.stderr(), 6000)
    );
    output
}

/// Runs kcat with `-X` properties `props` and `args`, with `stdin` as input; answers
/// (success, output).
pub fn kcat(
    broker: &WhippetProcess,
    props: &[(&str, &str)],
    args: &[&str],
    stdin: &str,
) -> (bool, String) {
    let mut script = format!(
        "printf '%s' {} | /usr/bin/kcat -b {}",
        shell_quote(stdin),
        broker.kafka_addr()
    );
    for (key, value) in props {
        script.push_str(&format!(" -X {}={}", key, shell_quote(value)));
    }
    for arg in args {
        script.push_str(&format!(" {}", shell_quote(arg)));
    }
    let mut command = Command::new("/bin/sh");
    command.args(["-c", &script]).env_remove("LD_LIBRARY_PATH");
    run(command)
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The path as a string.
pub fn path(path: &Path) -> String {
    path.display().to_string()
}
