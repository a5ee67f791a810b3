//! [`BusConfig`]: where NATS is and how to log in to it. `Debug` redacts every secret.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use tessera_protocol::sites::Site;

use crate::BusError;

/// How to reach NATS (`[bus]` in the service config).
///
/// At most one way of logging in may be set: `user` + `password`, `token`, `nkey` or
/// `creds_file`. `Debug` prints `****` for the password, the token, the nkey seed and a
/// password written inside `url`, so the config can be logged whole.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// `nats://host:port`, or several separated by commas (a cluster). `tls://` asks for TLS.
    /// Default: `nats://127.0.0.1:4222`.
    pub url: String,
    /// The connection's name, shown by the server's monitoring (`/connz`). Default: `tessera`.
    pub name: String,
    /// User name, with `password`.
    pub user: Option<String>,
    /// Password of `user`. Never logged.
    pub password: Option<String>,
    /// Authentication token. Never logged.
    pub token: Option<String>,
    /// NKey seed (`SU...`). Never logged.
    pub nkey: Option<String>,
    /// A `.creds` file (JWT + NKey seed), for operator-mode deployments.
    pub creds_file: Option<PathBuf>,
    /// TLS. Unset: plain TCP unless the server or a `tls://` URL requires TLS.
    pub tls: Option<TlsConfig>,
    /// JetStream domain to address (leaf-node edge sites). Unset: the local JetStream.
    pub js_domain: Option<String>,
    /// Which side of an edge deployment this service is on (deploy/README.md, "Edge and
    /// hub"): `single`, everything on one nats-server; `hub`, the cloud side, whose EMBEDDED,
    /// REJECTS and DLQ also copy in the edge's and which runs no embedder; `edge`, a leaf
    /// node beside the instrument whose WORK copies in the hub's and which runs only
    /// embedders. Every service of one side must say the same. Default: `single`.
    pub site: Site,
    /// At an edge: the hub's JetStream domain (hub.conf's `jetstream.domain`). Default: `hub`.
    pub hub_domain: String,
    /// At a hub: the JetStream domain of its edge site (leaf.conf's `jetstream.domain`).
    /// One hub serves one edge site. Default: unset.
    pub edge_domain: Option<String>,
    /// Limit on establishing one connection, in milliseconds. Default: 5000.
    pub connect_timeout_ms: u64,
    /// Limit on one request to the server, a JetStream API call or a publish ack included,
    /// in milliseconds. Default: 10000.
    pub request_timeout_ms: u64,
    /// How long [`crate::Bus::connect`] keeps trying a server it cannot reach before it fails,
    /// in milliseconds; useful when services start alongside nats-server. Default: 0, fail at
    /// once. Once connected, the client reconnects forever, whatever this says.
    pub connect_wait_ms: u64,
}

/// TLS settings (`[bus.tls]`). Setting this section makes TLS required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the CA that signed the server's certificate. Unset: the system roots.
    pub ca: Option<PathBuf>,
    /// PEM client certificate, for mutual TLS (with `key`).
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    pub key: Option<PathBuf>,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            name: "tessera".into(),
            user: None,
            password: None,
            token: None,
            nkey: None,
            creds_file: None,
            tls: None,
            js_domain: None,
            site: Site::Single,
            hub_domain: "hub".into(),
            edge_domain: None,
            connect_timeout_ms: 5000,
            request_timeout_ms: 10_000,
            connect_wait_ms: 0,
        }
    }
}

impl fmt::Debug for BusConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hide = |s: &Option<String>| s.as_ref().map(|_| "****");
        f.debug_struct("BusConfig")
            .field("url", &redact_url(&self.url))
            .field("name", &self.name)
            .field("user", &self.user)
            .field("password", &hide(&self.password))
            .field("token", &hide(&self.token))
            .field("nkey", &hide(&self.nkey))
            .field("creds_file", &self.creds_file)
            .field("tls", &self.tls)
            .field("js_domain", &self.js_domain)
            .field("site", &self.site)
            .field("hub_domain", &self.hub_domain)
            .field("edge_domain", &self.edge_domain)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("connect_wait_ms", &self.connect_wait_ms)
            .finish()
    }
}

impl BusConfig {
    /// A default config for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// The configured URLs, passwords redacted, for messages and logs.
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }

    /// [`BusConfig::connect_timeout_ms`] as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// [`BusConfig::request_timeout_ms`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Checks what can be checked without a server.
    pub fn validate(&self) -> Result<(), BusError> {
        let bad = |msg: String| Err(BusError::Config(msg));
        if self.urls().is_empty() {
            return bad("bus.url is empty; set it to nats://host:4222".into());
        }
        let methods = [
            self.user.is_some() || self.password.is_some(),
            self.token.is_some(),
            self.nkey.is_some(),
            self.creds_file.is_some(),
        ];
        if methods.iter().filter(|m| **m).count() > 1 {
            return bad("bus: set only one of user+password, token, nkey and creds_file".into());
        }
        if self.user.is_some() != self.password.is_some() {
            return bad("bus.user and bus.password go together: set both or neither".into());
        }
        if self
            .tls
            .as_ref()
            .is_some_and(|tls| tls.cert.is_some() != tls.key.is_some())
        {
            return bad("bus.tls.cert and bus.tls.key go together: set both or neither".into());
        }
        if let Err(problem) = tessera_protocol::sites::check_domains(
            self.site,
            &self.hub_domain,
            self.edge_domain.as_deref(),
        ) {
            return bad(problem);
        }
        if self.site == Site::Edge && self.js_domain.is_some() {
            return bad(
                "bus.js_domain is set at an edge site (bus.site = \"edge\"); leave it unset, so \
                 that the edge's streams are made and used on the edge's own JetStream"
                    .into(),
            );
        }
        if self.connect_timeout_ms == 0 || self.request_timeout_ms == 0 {
            return bad(
                "bus.connect_timeout_ms and bus.request_timeout_ms must be positive \
                 (defaults: 5000 and 10000)"
                    .into(),
            );
        }
        Ok(())
    }

    /// The URLs in `url`, trimmed, empty ones dropped.
    pub(crate) fn urls(&self) -> Vec<String> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(String::from)
            .collect()
    }

    /// Every secret value, so that error texts can be scrubbed of them.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = [&self.password, &self.token, &self.nkey]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        out.extend(
            self.urls()
                .iter()
                .filter_map(|u| url_password(u).map(String::from)),
        );
        out.retain(|s| !s.is_empty());
        out
    }
}

/// The password in `scheme://user:password@host`, if any.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let userinfo = rest.split(['/', '?']).next()?.rsplit_once('@')?.0;
    userinfo.split_once(':').map(|(_, pw)| pw)
}

/// `url` (or a comma-separated list) with the password of each user-info part replaced by
/// `****`: `nats://u:pw@h:4222` becomes `nats://u:****@h:4222`. A bare token
/// (`nats://tok@h`) is hidden too.
pub fn redact_url(url: &str) -> String {
    url.split(',')
        .map(|u| {
            let (scheme, rest) = u.split_once("://").map_or(("", u), |(s, r)| (s, r));
            let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
            let Some((userinfo, host)) = rest[..host_end].rsplit_once('@') else {
                return u.to_string();
            };
            let user = match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:****"),
                None => "****".to_string(),
            };
            let sep = if scheme.is_empty() { "" } else { "://" };
            format!("{scheme}{sep}{user}@{host}{}", &rest[host_end..])
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_every_secret() {
        let c = BusConfig {
            url: "nats://svc:hunter2@nats:4222,nats://other:4222".into(),
            user: Some("svc".into()),
            password: Some("pa55word".into()),
            ..BusConfig::default()
        };
        let text = format!("{c:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("pa55word"),
            "{text}"
        );
        assert!(
            text.contains("nats://svc:****@nats:4222,nats://other:4222"),
            "{text}"
        );
        let t = BusConfig {
            token: Some("t0ken".into()),
            nkey: Some("SUAxyz".into()),
            ..BusConfig::default()
        };
        let text = format!("{t:?}");
        assert!(
            !text.contains("t0ken") && !text.contains("SUAxyz"),
            "{text}"
        );
        assert_eq!(redact_url("nats://tok@h:1"), "nats://****@h:1");
        assert_eq!(redact_url("nats://h:1"), "nats://h:1");
        assert_eq!(url_password("nats://a:b@h"), Some("b"));
    }

    #[test]
    fn validation_names_the_setting() {
        assert!(BusConfig::default().validate().is_ok());
        let two = BusConfig {
            token: Some("x".into()),
            user: Some("u".into()),
            password: Some("p".into()),
            ..BusConfig::default()
        };
        assert!(two.validate().unwrap_err().to_string().contains("only one"));
        let half = BusConfig {
            user: Some("u".into()),
            ..BusConfig::default()
        };
        assert!(
            half.validate()
                .unwrap_err()
                .to_string()
                .contains("bus.password")
        );
        let empty = BusConfig::new(" , ");
        assert!(
            empty
                .validate()
                .unwrap_err()
                .to_string()
                .contains("bus.url")
        );
    }

    #[test]
    fn sites_are_checked() {
        let hub: BusConfig =
            serde_json::from_str(r#"{"site": "hub", "edge_domain": "edge"}"#).unwrap();
        assert_eq!(hub.site, Site::Hub);
        assert!(hub.validate().is_ok());
        let lonely: BusConfig = serde_json::from_str(r#"{"site": "hub"}"#).unwrap();
        assert!(
            lonely
                .validate()
                .unwrap_err()
                .to_string()
                .contains("bus.edge_domain")
        );
        let edge = BusConfig {
            site: Site::Edge,
            js_domain: Some("hub".into()),
            ..BusConfig::default()
        };
        assert!(
            edge.validate()
                .unwrap_err()
                .to_string()
                .contains("bus.js_domain")
        );
        let r: Result<BusConfig, _> = serde_json::from_str(r#"{"site": "cloud"}"#);
        assert!(r.unwrap_err().to_string().contains("single"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let r: Result<BusConfig, _> =
            serde_json::from_str(r#"{"url": "nats://h:1", "pasword": "x"}"#);
        assert!(r.unwrap_err().to_string().contains("pasword"));
        let c: BusConfig =
            serde_json::from_str(r#"{"url": "nats://h:1", "tls": {"ca": "/ca.pem"}}"#).unwrap();
        assert_eq!(c.tls.unwrap().ca, Some(PathBuf::from("/ca.pem")));
        assert_eq!(c.request_timeout_ms, 10_000);
    }
}
