//! Consul's HTTP API, as much of it as the migration needs: the greeter
//! `service-splitter` read (`GET /v1/config/service-splitter/greeter`) and
//! written with check-and-set (`PUT /v1/config?cas=<ModifyIndex>`, answered
//! `true` or `false`), so a change someone else made meanwhile is refused,
//! never overwritten ([`splitter`]); the KV store, sessions and
//! transactions the controller keeps its state and its lead with
//! ([`kv`]); and what a 403 means ([`refusal`]). No consul binary is
//! needed.
//!
//! Settings are read as the consul CLI reads them: `CONSUL_HTTP_ADDR`
//! (`host:port` or a URL; default `127.0.0.1:8500`), `CONSUL_HTTP_SSL`,
//! `CONSUL_HTTP_TOKEN` or `CONSUL_HTTP_TOKEN_FILE` (sent as
//! `X-Consul-Token`), `CONSUL_CACERT` and `CONSUL_TLS_SERVER_NAME`.
//!
//! Why hyper and rustls here rather than reqwest, the crate every other
//! call goes through: the services' shared client is built without TLS on
//! purpose (they only call their sidecar, and TLS would add about a
//! megabyte to each binary). Cargo unifies a crate's features across one
//! build of the workspace, and `scripts/build-prebuilt` builds every binary
//! in one, so turning on reqwest's TLS here would build it into every
//! service too (reqwest sets TLS up in every client it builds, used or
//! not). hyper's one-connection client with rustls on top adds TLS to this
//! binary only: the services keep their size. Measured with
//! `scripts/build-prebuilt` before and after this module: the five service
//! binaries are the same to the byte (greeter 3,801,904 bytes), and `split`
//! grew from 3.6 to 5.5 MB (TLS, the migration, the Consul client).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use reqwest::Url;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use service_core::upstream::root_cause;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::mesh::SPLIT_SERVICE;

pub mod kv;
pub mod refusal;
mod splitter;
pub use splitter::{SPLITTER_PATH, Splitter, hcl, lambda_share, splitter_body};

/// The most of a Consul answer read.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Where Consul is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `http://host:port` or `https://host:port`.
    pub address: Url,
    /// The ACL token, if any.
    pub token: Option<String>,
    /// The CA certificate file that signs Consul's certificate; without
    /// one, the system's roots.
    pub ca_cert: Option<PathBuf>,
    /// The name Consul's certificate must carry, if not the address's host.
    pub server_name: Option<String>,
}

/// A setting that cannot be used, naming its variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct SettingsError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl Settings {
    /// Reads the settings from a key/value source (the environment, or a
    /// map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let bad = |variable, problem: String| SettingsError { variable, problem };
        let ssl = match lookup("CONSUL_HTTP_SSL").as_deref().map(str::trim) {
            None | Some("") => false,
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => true,
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => false,
            Some(other) => return Err(bad("CONSUL_HTTP_SSL", format!("{other:?} is not true or false"))),
        };
        let raw = lookup("CONSUL_HTTP_ADDR")
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "127.0.0.1:8500".to_owned());
        let with_scheme = if raw.contains("://") {
            raw.clone()
        } else {
            format!("{}://{raw}", if ssl { "https" } else { "http" })
        };
        let address: Url = with_scheme.parse().map_err(|e| {
            bad(
                "CONSUL_HTTP_ADDR",
                format!("{raw:?} is not host:port or a URL ({e})"),
            )
        })?;
        match address.scheme() {
            "http" | "https" => {}
            "unix" => {
                return Err(bad(
                    "CONSUL_HTTP_ADDR",
                    format!("{raw:?}: a unix socket is not supported; give host:port"),
                ));
            }
            other => {
                return Err(bad(
                    "CONSUL_HTTP_ADDR",
                    format!("{raw:?}: unknown scheme {other:?}"),
                ));
            }
        }
        if address.host_str().is_none_or(str::is_empty) {
            return Err(bad("CONSUL_HTTP_ADDR", format!("{raw:?} has no host")));
        }
        let token = match lookup("CONSUL_HTTP_TOKEN").filter(|t| !t.trim().is_empty()) {
            Some(token) => Some(token.trim().to_owned()),
            None => match lookup("CONSUL_HTTP_TOKEN_FILE").filter(|f| !f.is_empty()) {
                Some(file) => Some(
                    std::fs::read_to_string(&file)
                        .map_err(|e| bad("CONSUL_HTTP_TOKEN_FILE", format!("cannot read {file}: {e}")))?
                        .trim()
                        .to_owned(),
                ),
                None => None,
            },
        };
        if token
            .as_deref()
            .is_some_and(|t| HeaderValue::from_str(t).is_err())
        {
            return Err(bad("CONSUL_HTTP_TOKEN", "is not a valid header value".to_owned()));
        }
        Ok(Self {
            address,
            token,
            ca_cert: lookup("CONSUL_CACERT")
                .filter(|c| !c.is_empty())
                .map(PathBuf::from),
            server_name: lookup("CONSUL_TLS_SERVER_NAME").filter(|s| !s.is_empty()),
        })
    }
}

/// A duration from a key/value source (`15s`, `500ms`, `1m`): `default`
/// when unset, and within `min..=max`, or an error naming the variable.
pub fn duration_setting(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration, SettingsError> {
    let Some(raw) = lookup(variable).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    let bad = |problem: String| SettingsError { variable, problem };
    let value = humantime::parse_duration(raw.trim())
        .map_err(|e| bad(format!("{raw:?} is not a duration such as 15s ({e})")))?;
    if value < min || value > max {
        return Err(bad(format!(
            "{raw:?} is outside {} to {}",
            humantime::format_duration(min),
            humantime::format_duration(max)
        )));
    }
    Ok(value)
}

/// Why a call to Consul failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsulError {
    /// The CA file, or TLS itself, could not be set up.
    #[error("TLS: {0}")]
    Tls(String),
    /// No answer.
    #[error("Consul at {address} is unreachable: {cause}")]
    Unreachable {
        /// Consul's address.
        address: String,
        /// What went wrong.
        cause: String,
    },
    /// No answer in time.
    #[error("Consul at {address} did not answer within {} ms", .after.as_millis())]
    Timeout {
        /// Consul's address.
        address: String,
        /// The timeout.
        after: Duration,
    },
    /// 403: no token, or one without the rights.
    #[error(
        "Consul refused the request with 403 ({detail}): set CONSUL_HTTP_TOKEN to a token with service:write on {SPLIT_SERVICE}"
    )]
    Forbidden {
        /// Consul's own words.
        detail: String,
    },
    /// Another status.
    #[error("Consul answered {status} to {request}: {detail}")]
    Status {
        /// The status.
        status: StatusCode,
        /// `PUT /v1/config`, say.
        request: String,
        /// Consul's own words.
        detail: String,
    },
    /// A value over Consul's 512 KiB, refused before it was sent.
    #[error(
        "the value for {key} is {bytes} bytes, over Consul's limit of {} (kv_max_value_size): nothing was sent",
        kv::MAX_VALUE_BYTES
    )]
    TooLarge {
        /// The key.
        key: String,
        /// The value's size.
        bytes: usize,
    },
    /// An answer that is not what the API documents.
    #[error("Consul's answer to {request} is not what its API documents: {detail}")]
    BadAnswer {
        /// The request.
        request: String,
        /// What was wrong.
        detail: String,
    },
}

/// A client of one Consul agent or server.
#[derive(Clone)]
pub struct Consul {
    settings: Settings,
    tls: Option<tokio_rustls::TlsConnector>,
    timeout: Duration,
}

impl std::fmt::Debug for Consul {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Consul")
            .field("address", &self.settings.address.as_str())
            .finish_non_exhaustive()
    }
}

impl Consul {
    /// A client for these settings; for https, reads the CA file (or the
    /// system's roots) now, so a bad file stops the run before any call.
    pub fn new(settings: Settings, timeout: Duration) -> Result<Self, ConsulError> {
        let tls = if settings.address.scheme() == "https" {
            Some(tls_connector(settings.ca_cert.as_ref())?)
        } else {
            None
        };
        Ok(Self {
            settings,
            tls,
            timeout,
        })
    }

    /// Consul's address, for messages.
    pub fn address(&self) -> &str {
        self.settings.address.as_str()
    }

    /// A write's answer, Consul's `true` (applied) or `false` (a check
    /// such as `cas` failed); any other answer is an error naming `request`.
    fn true_or_false(&self, request: &str, status: StatusCode, body: &[u8]) -> Result<bool, ConsulError> {
        if status != StatusCode::OK {
            return Err(self.refusal(status, request, body));
        }
        match String::from_utf8_lossy(body).trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(Self::bad_answer(request, format!("{other:?}, not true or false"))),
        }
    }

    fn bad_answer(request: &str, detail: impl Into<String>) -> ConsulError {
        ConsulError::BadAnswer {
            request: request.to_owned(),
            detail: detail.into(),
        }
    }

    fn refusal(&self, status: StatusCode, request: &str, body: &[u8]) -> ConsulError {
        let detail = refusal_detail(body);
        if status == StatusCode::FORBIDDEN {
            ConsulError::Forbidden { detail }
        } else {
            ConsulError::Status {
                status,
                request: request.to_owned(),
                detail,
            }
        }
    }

    /// One request on a connection of its own: a migration makes a few.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), ConsulError> {
        let answer = self.request(method, path, body, self.timeout).await?;
        Ok((answer.status, answer.body))
    }

    /// One request, answered within `timeout` (a blocking read waits
    /// longer than the client's usual timeout), with Consul's index.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Answer, ConsulError> {
        let address = self.settings.address.to_string();
        match tokio::time::timeout(timeout, self.call_untimed(method, path, body)).await {
            Ok(result) => result,
            Err(_) => Err(ConsulError::Timeout {
                address,
                after: timeout,
            }),
        }
    }

    async fn call_untimed(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, ConsulError> {
        let address = &self.settings.address;
        let unreachable = |cause: String| ConsulError::Unreachable {
            address: address.to_string(),
            cause,
        };
        let host = address.host_str().unwrap_or_default();
        let port = address.port_or_known_default().unwrap_or(8500);
        // Url keeps the brackets of an IPv6 host; a socket address does not.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = TcpStream::connect((bare, port))
            .await
            .map_err(|e| unreachable(root_cause(&e)))?;
        let _ = tcp.set_nodelay(true);

        let base = address.path().trim_end_matches('/');
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{base}{path}"))
            .header(HOST, format!("{host}:{port}"));
        if let Some(token) = &self.settings.token {
            request = request.header("X-Consul-Token", token);
        }
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| unreachable(e.to_string()))?;

        match &self.tls {
            None => send(tcp, request).await.map_err(unreachable),
            Some(tls) => {
                let name = self.settings.server_name.as_deref().unwrap_or(bare).to_owned();
                let name = ServerName::try_from(name).map_err(|e| ConsulError::Tls(e.to_string()))?;
                let stream = tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| ConsulError::Tls(format!("handshake with {address}: {}", root_cause(&e))))?;
                send(stream, request).await.map_err(unreachable)
            }
        }
    }
}

/// What Consul answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// `X-Consul-Index`, on the reads that carry it.
    pub index: Option<u64>,
    /// The body.
    pub body: Bytes,
}

async fn send<S>(io: S, request: Request<Full<Bytes>>) -> Result<Answer, String>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    let connection = tokio::spawn(connection);
    let result = async {
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let index = response
            .headers()
            .get("X-Consul-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Answer { status, index, body })
    }
    .await;
    connection.abort();
    result
}

fn tls_connector(ca_cert: Option<&PathBuf>) -> Result<tokio_rustls::TlsConnector, ConsulError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_cert {
        Some(file) => {
            let bad = |e: String| ConsulError::Tls(format!("CONSUL_CACERT {}: {e}", file.display()));
            for cert in CertificateDer::pem_file_iter(file).map_err(|e| bad(e.to_string()))? {
                roots
                    .add(cert.map_err(|e| bad(e.to_string()))?)
                    .map_err(|e| bad(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(bad("no certificate in it".to_owned()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(ConsulError::Tls(
                    "no CA certificates on this system: set CONSUL_CACERT to the file of the CA that signed Consul's"
                        .to_owned(),
                ));
            }
        }
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ConsulError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// What Consul said when it refused a request: the first line of its
/// answer, enough to name the cause without echoing a whole page.
pub fn refusal_detail(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn the_address_is_read_as_the_consul_cli_reads_it() {
        assert_eq!(settings(&[]).unwrap().address.as_str(), "http://127.0.0.1:8500/");
        assert_eq!(
            settings(&[
                ("CONSUL_HTTP_ADDR", "consul.internal:8501"),
                ("CONSUL_HTTP_SSL", "true")
            ])
            .unwrap()
            .address
            .as_str(),
            "https://consul.internal:8501/"
        );
        assert_eq!(
            settings(&[("CONSUL_HTTP_ADDR", "https://10.0.0.5:8501")])
                .unwrap()
                .address
                .as_str(),
            "https://10.0.0.5:8501/"
        );
        let s = settings(&[("CONSUL_HTTP_TOKEN", " abc "), ("CONSUL_CACERT", "/ca.pem")]).unwrap();
        assert_eq!(s.token.as_deref(), Some("abc"));
        assert_eq!(s.ca_cert, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn a_bad_setting_names_its_variable() {
        for (pairs, variable) in [
            (
                &[("CONSUL_HTTP_ADDR", "unix:///var/run/consul.sock")][..],
                "CONSUL_HTTP_ADDR",
            ),
            (&[("CONSUL_HTTP_ADDR", "ftp://consul:21")][..], "CONSUL_HTTP_ADDR"),
            (&[("CONSUL_HTTP_ADDR", "http://:8500")][..], "CONSUL_HTTP_ADDR"),
            (&[("CONSUL_HTTP_SSL", "maybe")][..], "CONSUL_HTTP_SSL"),
            (
                &[("CONSUL_HTTP_TOKEN_FILE", "/nonexistent/token")][..],
                "CONSUL_HTTP_TOKEN_FILE",
            ),
            (&[("CONSUL_HTTP_TOKEN", "a\nb")][..], "CONSUL_HTTP_TOKEN"),
        ] {
            let err = settings(pairs).unwrap_err();
            assert_eq!(err.variable, variable, "{pairs:?}: {err}");
        }
    }
}
