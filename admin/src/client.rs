//! The broker's HTTP API as the CLI uses it: logs in once (`POST /users/login`) and sends the
//! access token on every later request; turns every failure into a [`CliError`] that says what
//! went wrong in words (the address it could not reach, the broker's own error reason).

use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::{Client as Http, Response};
use serde_json::{Value, json};

use crate::{Cli, CliError};

/// How the CLI speaks HTTPS: the CA to trust and the name to check the certificate against.
#[derive(Debug)]
pub struct Tls {
    ca: reqwest::Certificate,
    domain: Option<String>,
}

impl Tls {
    /// The TLS settings of the command line, `None` without `--tls`.
    pub fn from_cli(cli: &Cli) -> Result<Option<Self>, CliError> {
        if !cli.tls {
            return Ok(None);
        }
        let path = cli
            .tls_ca_cert
            .as_ref()
            .ok_or_else(|| CliError::new("--tls needs --tls-ca-cert FILE (the broker's CA)"))?;
        let pem = std::fs::read(path)
            .map_err(|error| CliError::new(format!("cannot read {}: {error}", path.display())))?;
        let ca = reqwest::Certificate::from_pem(&pem).map_err(|error| {
            CliError::new(format!(
                "{} is not a PEM certificate: {error}",
                path.display()
            ))
        })?;
        Ok(Some(Self {
            ca,
            domain: cli.tls_domain.clone(),
        }))
    }
}

/// How long one request may take (connect, send, answer).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A logged-in connection to one broker's HTTP API.
#[derive(Debug)]
pub struct Client {
    http: Http,
    base: String,
    server: String,
    token: Option<String>,
}

impl Client {
    /// Connects to `server` (`HOST:PORT`, over HTTPS with `tls`) and logs in as `username`.
    pub fn login(
        server: &str,
        tls: Option<&Tls>,
        username: &str,
        password: &str,
    ) -> Result<Self, CliError> {
        let mut builder = Http::builder().timeout(REQUEST_TIMEOUT).no_proxy();
        let mut base = format!("http://{server}");
        if let Some(tls) = tls {
            builder = builder
                .tls_built_in_root_certs(false)
                .add_root_certificate(tls.ca.clone())
                .https_only(true);
            base = format!("https://{server}");
            if let Some(domain) = &tls.domain {
                // Connect to `server` but name (and check) the certificate's domain.
                let address = server.parse().map_err(|_| {
                    CliError::new(format!(
                        "--tls-domain needs --server as IP:PORT, not {server}"
                    ))
                })?;
                let port = server.rsplit(':').next().unwrap_or("443");
                builder = builder.resolve(domain, address);
                base = format!("https://{domain}:{port}");
            }
        }
        let http = builder
            .build()
            .map_err(|error| CliError::new(format!("cannot build the HTTP client: {error}")))?;
        let mut client = Self {
            http,
            base,
            server: server.to_owned(),
            token: None,
        };
        let body = json!({"username": username, "password": password});
        let identity = client.send(Method::POST, "/users/login", Some(&body))?;
        let token = identity["access_token"]["token"]
            .as_str()
            .ok_or_else(|| CliError::new("the broker's login answer carries no access token"))?;
        client.token = Some(token.to_owned());
        Ok(client)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(Method::GET, path, None)
    }

    /// `GET path`, `None` when the broker answers `404`.
    pub fn get_optional(&self, path: &str) -> Result<Option<Value>, CliError> {
        let response = self.request(Method::GET, path, None)?;
        if response.status().as_u16() == 404 {
            return Ok(None);
        }
        answer(response).map(Some)
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.send(Method::POST, path, Some(body))
    }

    /// `PUT path` with a JSON body.
    pub fn put(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.send(Method::PUT, path, Some(body))
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<Value, CliError> {
        self.send(Method::DELETE, path, None)
    }

    /// One request; the JSON answer (`null` for an empty one).
    fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, CliError> {
        answer(self.request(method, path, body)?)
    }

    /// Sends one request; the response whatever its status.
    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response, CliError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        request.send().map_err(|error| self.unreachable(&error))
    }

    fn unreachable(&self, error: &reqwest::Error) -> CliError {
        let why = if error.is_timeout() {
            "timed out".to_owned()
        } else if error.is_connect() {
            "connection refused or unreachable (is the broker running?)".to_owned()
        } else {
            root_cause(error)
        };
        CliError::new(format!(
            "cannot reach the broker's HTTP API at {}: {why}",
            self.server
        ))
    }
}

/// The innermost cause of an error, which says most.
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// A response's JSON, or the broker's error as a [`CliError`].
fn answer(response: Response) -> Result<Value, CliError> {
    let status = response.status();
    let text = response
        .text()
        .map_err(|error| CliError::new(format!("the broker's answer was cut off: {error}")))?;
    if status.is_success() {
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        return serde_json::from_str(&text)
            .map_err(|error| CliError::new(format!("the broker answered invalid JSON: {error}")));
    }
    let reason = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|error| {
            let reason = error["reason"]
                .as_str()
                .or_else(|| error["error"].as_str())?;
            Some(match error["code"].as_str() {
                Some(code) if code.replace('_', " ") != reason => format!("{reason} ({code})"),
                _ => reason.to_owned(),
            })
        })
        .unwrap_or_else(|| text.trim().to_owned());
    let hint = match status.as_u16() {
        401 => " — check --username/--password",
        403 => " — the user lacks the permission",
        _ => "",
    };
    Err(CliError::new(format!(
        "{reason} (HTTP {}){hint}",
        status.as_u16()
    )))
}
