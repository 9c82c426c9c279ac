//! How a client connects: [`ClientOptions`], the TLS default rule shared by every taskstate
//! client, and the `TASKSTATE_*` environment variables.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use tonic::transport::Endpoint;
use tonic::Code;

use crate::error::Error;
use crate::retry::RetryPolicy;

/// The address [`address_from_env`] falls back to: `make run`'s server.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:50051";

/// Whether to use TLS, before the default rule applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// Decide by the endpoint (see [`TlsOptions::uses_tls`]).
    #[default]
    Auto,
    /// Always TLS.
    Tls,
    /// Always plaintext (even to a non-loopback host or an `https://` endpoint).
    Plaintext,
}

/// TLS settings.
///
/// The rule (the same in every taskstate client), first match wins:
/// 1. explicit: [`TlsMode::Tls`], a CA certificate or a client certificate/key means TLS;
///    [`TlsMode::Plaintext`] means plaintext;
/// 2. the endpoint's scheme: `https://` means TLS, `http://` plaintext;
/// 3. the host: a loopback host (`localhost`, 127.0.0.0/8, `::1`) means plaintext, any
///    other host TLS with the system's root certificates.
///
/// A CA certificate replaces the system roots; a client certificate and key enable mutual TLS.
/// TLS needs the crate's `tls` feature (on by default); without it a connection that needs TLS
/// fails with a client error saying so.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// An explicit choice; [`TlsMode::Auto`] applies the rule.
    pub mode: TlsMode,
    /// PEM of the CA certificate(s) to trust instead of the system roots (a private CA, or a
    /// self-signed server certificate).
    pub ca_certificate_pem: Option<Vec<u8>>,
    /// PEM of the client certificate, for mutual TLS (goes with `client_key_pem`).
    pub client_certificate_pem: Option<Vec<u8>>,
    /// PEM of the client certificate's private key (goes with `client_certificate_pem`).
    pub client_key_pem: Option<Vec<u8>>,
    /// The name to verify the server's certificate against, if not the endpoint's host.
    pub domain_name: Option<String>,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pem = |p: &Option<Vec<u8>>| p.as_ref().map(|p| format!("<{} bytes>", p.len()));
        f.debug_struct("TlsOptions")
            .field("mode", &self.mode)
            .field("ca_certificate_pem", &pem(&self.ca_certificate_pem))
            .field("client_certificate_pem", &pem(&self.client_certificate_pem))
            .field(
                "client_key_pem",
                &self.client_key_pem.as_ref().map(|_| "<redacted>"),
            )
            .field("domain_name", &self.domain_name)
            .finish()
    }
}

impl TlsOptions {
    /// Plaintext, whatever the endpoint.
    pub fn plaintext() -> Self {
        TlsOptions {
            mode: TlsMode::Plaintext,
            ..Self::default()
        }
    }

    /// TLS with the system roots, whatever the endpoint.
    pub fn tls() -> Self {
        TlsOptions {
            mode: TlsMode::Tls,
            ..Self::default()
        }
    }

    /// TLS trusting this CA certificate (PEM) instead of the system roots.
    pub fn with_ca_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certificate_pem = Some(pem.into());
        self
    }

    /// Mutual TLS with this client certificate and private key (PEM).
    pub fn with_client_identity(
        mut self,
        certificate_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_certificate_pem = Some(certificate_pem.into());
        self.client_key_pem = Some(key_pem.into());
        self
    }

    /// Whether a connection to `endpoint` uses TLS under these settings (the rule above).
    /// Fails on contradictory settings (plaintext with a CA or client certificate, a
    /// certificate without its key), an unsupported scheme or an endpoint without a host.
    pub fn uses_tls(&self, endpoint: &str) -> Result<bool, Error> {
        let (scheme, rest) = split_scheme(endpoint)?;
        let material = self.ca_certificate_pem.is_some()
            || self.client_certificate_pem.is_some()
            || self.client_key_pem.is_some();
        if self.client_certificate_pem.is_some() != self.client_key_pem.is_some() {
            return Err(invalid(
                "a client certificate and its key go together (set both, or neither)",
            ));
        }
        match self.mode {
            TlsMode::Plaintext if material => Err(invalid(
                "plaintext was requested together with a CA or client certificate: drop one",
            )),
            TlsMode::Plaintext => Ok(false),
            TlsMode::Tls => Ok(true),
            TlsMode::Auto if material => Ok(true),
            TlsMode::Auto => match scheme {
                Scheme::Https => Ok(true),
                Scheme::Http => Ok(false),
                Scheme::None => Ok(!is_loopback_host(host_of(rest)?)),
            },
        }
    }
}

/// How [`Client::connect`](crate::Client::connect) connects.
#[derive(Clone)]
pub struct ClientOptions {
    /// Bearer token (`authorization: Bearer <token>`); `None` = anonymous.
    /// [`ClientOptions::from_env`] reads it from `TASKSTATE_TOKEN`.
    pub token: Option<String>,
    /// Deadline of every unary call (default 30 s); `None` = no deadline. Streams (watch) have
    /// none; [`Client::wait`](crate::Client::wait) makes its own. Use
    /// [`Client::with_timeout`](crate::Client::with_timeout) to change it per call.
    pub default_timeout: Option<Duration>,
    /// How long establishing the connection may take (default 10 s).
    pub connect_timeout: Option<Duration>,
    /// TLS or plaintext, and the certificates (see [`TlsOptions`] for the default rule).
    pub tls: TlsOptions,
    /// Retries of [`Client::update`](crate::Client::update) on version conflicts.
    pub update_retry: RetryPolicy,
    /// Reconnections of [`Client::watch`](crate::Client::watch) after a dropped stream.
    pub watch_retry: RetryPolicy,
    /// The end user on whose behalf every call acts (the `taskstate-subject` metadata, 1 to
    /// 256 printable ASCII characters; `None` = none). See
    /// [`Client::with_subject`](crate::Client::with_subject).
    pub subject: Option<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            token: None,
            default_timeout: Some(Duration::from_secs(30)),
            connect_timeout: Some(Duration::from_secs(10)),
            tls: TlsOptions::default(),
            update_retry: RetryPolicy::UPDATE,
            watch_retry: RetryPolicy::WATCH,
            subject: None,
        }
    }
}

impl ClientOptions {
    /// The defaults with a bearer token.
    pub fn with_token(token: impl Into<String>) -> Self {
        ClientOptions {
            token: Some(token.into()),
            ..Self::default()
        }
    }

    /// The defaults, with what the environment sets (unset or empty variables are ignored):
    /// `TASKSTATE_TOKEN` (bearer token), `TASKSTATE_TLS` (`true`/`false`: an explicit TLS
    /// choice), `TASKSTATE_CA_CERT` (a PEM file, trusted instead of the system roots),
    /// `TASKSTATE_CLIENT_CERT` and `TASKSTATE_CLIENT_KEY` (PEM files, mutual TLS). Fails on a
    /// `TASKSTATE_TLS` that is not a boolean or a file that cannot be read. The address is
    /// [`address_from_env`].
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`ClientOptions::from_env`] over any lookup (tests use a map).
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let read = |name: &str| -> Result<Option<Vec<u8>>, Error> {
            let Some(path) = get(name) else {
                return Ok(None);
            };
            std::fs::read(&path).map(Some).map_err(|e| {
                invalid(format!("{name}={path}: cannot read the PEM file: {e}")).with_source(e)
            })
        };
        let mode = match get("TASKSTATE_TLS") {
            None => TlsMode::Auto,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => TlsMode::Tls,
                "false" | "0" | "no" | "off" => TlsMode::Plaintext,
                _ => {
                    return Err(invalid(format!(
                        "TASKSTATE_TLS={v:?}: expected true or false"
                    )))
                }
            },
        };
        Ok(ClientOptions {
            token: get("TASKSTATE_TOKEN"),
            tls: TlsOptions {
                mode,
                ca_certificate_pem: read("TASKSTATE_CA_CERT")?,
                client_certificate_pem: read("TASKSTATE_CLIENT_CERT")?,
                client_key_pem: read("TASKSTATE_CLIENT_KEY")?,
                domain_name: None,
            },
            ..Self::default()
        })
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("default_timeout", &self.default_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("tls", &self.tls)
            .field("update_retry", &self.update_retry)
            .field("watch_retry", &self.watch_retry)
            .field("subject", &self.subject)
            .finish()
    }
}

/// `TASKSTATE_ADDRESS` if set and not empty, else [`DEFAULT_ADDRESS`] (`127.0.0.1:50051`).
pub fn address_from_env() -> String {
    std::env::var("TASKSTATE_ADDRESS")
        .ok()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADDRESS.to_owned())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    None,
    Http,
    Https,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::client(Code::InvalidArgument, message)
}

fn split_scheme(endpoint: &str) -> Result<(Scheme, &str), Error> {
    let Some((scheme, rest)) = endpoint.split_once("://") else {
        return Ok((Scheme::None, endpoint));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "http" => Ok((Scheme::Http, rest)),
        "https" => Ok((Scheme::Https, rest)),
        _ => Err(invalid(format!(
            "unsupported scheme in {endpoint:?} (use host:port, http:// or https://)"
        ))),
    }
}

/// The host of `host:port`, `[v6]:port`, `host` or a bare IPv6 address (path ignored).
fn host_of(authority: &str) -> Result<&str, Error> {
    let authority = authority.split('/').next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']').map(|(h, _)| h).unwrap_or(v6)
    } else if authority.parse::<Ipv6Addr>().is_ok() {
        authority
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    if host.is_empty() {
        return Err(invalid(format!("no host in the endpoint {authority:?}")));
    }
    Ok(host)
}

/// `localhost`, 127.0.0.0/8, `::1` (and `::ffff:127.x.y.z`).
fn is_loopback_host(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// The tonic endpoint for `endpoint` under `options` (TLS decided by [`TlsOptions::uses_tls`]).
pub(crate) fn build_endpoint(endpoint: &str, options: &ClientOptions) -> Result<Endpoint, Error> {
    let use_tls = options.tls.uses_tls(endpoint)?;
    let (_, rest) = split_scheme(endpoint)?;
    #[cfg(not(feature = "tls"))]
    if use_tls {
        return Err(invalid(format!(
            "connecting to {endpoint:?} needs TLS (it is not a loopback address, or TLS was \
             requested), but taskstate-client was built without its `tls` feature: enable \
             the feature, or request plaintext explicitly (TlsOptions::plaintext(), \
             TASKSTATE_TLS=false)"
        )));
    }
    let uri = format!("{}://{}", if use_tls { "https" } else { "http" }, rest);
    let mut ep = Endpoint::from_shared(uri)
        .map_err(|e| invalid(format!("invalid endpoint {endpoint:?}: {e}")).with_source(e))?;
    if let Some(t) = options.connect_timeout {
        ep = ep.connect_timeout(t);
    }
    // TCP keepalive notices a silently dead peer (so a watch resumes) without gRPC pings, which
    // servers rate-limit.
    ep = ep.tcp_keepalive(Some(Duration::from_secs(60)));
    #[cfg(feature = "tls")]
    if use_tls {
        ep = ep
            .tls_config(tls_config(&options.tls))
            .map_err(|e| invalid(format!("invalid TLS settings: {e}")).with_source(e))?;
    }
    Ok(ep)
}

#[cfg(feature = "tls")]
fn tls_config(opts: &TlsOptions) -> tonic::transport::ClientTlsConfig {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let mut cfg = ClientTlsConfig::new();
    cfg = match &opts.ca_certificate_pem {
        Some(pem) => cfg.ca_certificate(Certificate::from_pem(pem)),
        None => system_roots(cfg),
    };
    if let (Some(cert), Some(key)) = (&opts.client_certificate_pem, &opts.client_key_pem) {
        cfg = cfg.identity(Identity::from_pem(cert, key));
    }
    if let Some(d) = &opts.domain_name {
        cfg = cfg.domain_name(d.clone());
    }
    cfg
}

/// The operating system's trust store.
#[cfg(all(feature = "tls", not(feature = "webpki-roots")))]
fn system_roots(cfg: tonic::transport::ClientTlsConfig) -> tonic::transport::ClientTlsConfig {
    cfg.with_native_roots()
}

/// Mozilla's roots (the `webpki-roots` feature, for images without a CA bundle).
#[cfg(all(feature = "tls", feature = "webpki-roots"))]
fn system_roots(cfg: tonic::transport::ClientTlsConfig) -> tonic::transport::ClientTlsConfig {
    cfg.with_webpki_roots()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn auto(endpoint: &str) -> bool {
        TlsOptions::default().uses_tls(endpoint).unwrap()
    }

    #[test]
    fn loopback_hosts_default_to_plaintext() {
        for ep in [
            "127.0.0.1:50051",
            "127.8.9.10:1",
            "localhost:50051",
            "LOCALHOST:1",
            "localhost",
            "[::1]:50051",
            "::1",
            "[::ffff:127.0.0.1]:7",
        ] {
            assert!(!auto(ep), "{ep} should be plaintext");
        }
    }

    #[test]
    fn other_hosts_default_to_tls() {
        for ep in [
            "taskstate.internal:443",
            "10.0.0.5:50051",
            "0.0.0.0:50051",
            "[2001:db8::1]:50051",
            "localhost.example.com:1",
            "128.0.0.1:1",
            "example.com",
        ] {
            assert!(auto(ep), "{ep} should be TLS");
        }
    }

    #[test]
    fn scheme_beats_host_and_explicit_beats_scheme() {
        assert!(auto("https://127.0.0.1:1"));
        assert!(!auto("http://taskstate.internal:80"));
        assert!(!auto("HTTP://10.0.0.1:1"));
        let plain = TlsOptions::plaintext();
        assert!(!plain.uses_tls("https://taskstate.internal:443").unwrap());
        assert!(!plain.uses_tls("taskstate.internal:443").unwrap());
        let tls = TlsOptions::tls();
        assert!(tls.uses_tls("http://127.0.0.1:1").unwrap());
        assert!(tls.uses_tls("localhost:1").unwrap());
        // A CA or a client identity asks for TLS even on loopback or http://.
        let ca = TlsOptions::default().with_ca_certificate(b"pem".to_vec());
        assert!(ca.uses_tls("http://127.0.0.1:1").unwrap());
        let mtls = TlsOptions::default().with_client_identity(b"c".to_vec(), b"k".to_vec());
        assert!(mtls.uses_tls("localhost:1").unwrap());
    }

    #[test]
    fn contradictions_and_bad_endpoints_are_client_errors() {
        let bad = [
            TlsOptions::plaintext()
                .with_ca_certificate(b"pem".to_vec())
                .uses_tls("x:1"),
            TlsOptions {
                client_certificate_pem: Some(b"c".to_vec()),
                ..Default::default()
            }
            .uses_tls("x:1"),
            TlsOptions::default().uses_tls("ftp://x:1"),
            TlsOptions::default().uses_tls(":50051"),
        ];
        for r in bad {
            let e = r.unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{e}");
            assert_eq!(e.origin(), crate::ErrorOrigin::Client);
        }
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn without_the_tls_feature_a_remote_host_is_a_clear_error() {
        let e = build_endpoint("taskstate.internal:443", &ClientOptions::default()).unwrap_err();
        assert!(e.message().contains("`tls` feature"), "{e}");
        let plain = ClientOptions {
            tls: TlsOptions::plaintext(),
            ..Default::default()
        };
        assert!(build_endpoint("taskstate.internal:443", &plain).is_ok());
        assert!(build_endpoint("127.0.0.1:1", &ClientOptions::default()).is_ok());
    }

    #[test]
    fn options_from_the_environment() {
        let dir = std::env::temp_dir().join(format!("taskstate-rust-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, b"CA PEM").unwrap();
        let env = |pairs: &[(&str, &str)]| {
            let map: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            ClientOptions::from_lookup(move |k| map.get(k).cloned())
        };
        let o = env(&[]).unwrap();
        assert_eq!((o.token, o.tls), (None, TlsOptions::default()));
        let o = env(&[
            ("TASKSTATE_TOKEN", "tok"),
            ("TASKSTATE_TLS", "TRUE"),
            ("TASKSTATE_CA_CERT", ca.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(o.token.as_deref(), Some("tok"));
        assert_eq!(o.tls.mode, TlsMode::Tls);
        assert_eq!(o.tls.ca_certificate_pem.as_deref(), Some(&b"CA PEM"[..]));
        let o = env(&[("TASKSTATE_TLS", "false"), ("TASKSTATE_TOKEN", "")]).unwrap();
        assert_eq!((o.tls.mode, o.token), (TlsMode::Plaintext, None));
        let o = env(&[
            ("TASKSTATE_CLIENT_CERT", ca.to_str().unwrap()),
            ("TASKSTATE_CLIENT_KEY", ca.to_str().unwrap()),
        ])
        .unwrap();
        assert!(o.tls.uses_tls("127.0.0.1:1").unwrap());
        let e = env(&[("TASKSTATE_TLS", "maybe")]).unwrap_err();
        assert!(e.message().contains("TASKSTATE_TLS"), "{e}");
        let e = env(&[("TASKSTATE_CA_CERT", "/nonexistent/ca.pem")]).unwrap_err();
        assert!(e.message().contains("TASKSTATE_CA_CERT"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
