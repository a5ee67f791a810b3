//! `[dashboard]`: the browser dashboard's address and access token, and its checks.

use std::fmt;
use std::net::SocketAddr;

use serde::Deserialize;

use crate::SettingsError;

/// Shortest token accepted, so that a guessable one is refused up front.
pub(crate) const MIN_TOKEN_LEN: usize = 16;

/// The browser dashboard (`[dashboard]`). `Debug` redacts the token.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardSettings {
    /// Address and port to serve on. Default: `127.0.0.1:8080`. An address beyond loopback
    /// needs a token.
    pub bind: String,
    /// Token every request must carry (`Authorization: Bearer <token>` or `?token=<token>`),
    /// at least 16 characters. Default: none, which is allowed on loopback only.
    pub token: Option<String>,
    /// Token that lets a request also write: label classes on a run's frame (`POST
    /// /api/runs/<run>/classes`, with `Authorization: Bearer <write token>` only). It reads
    /// too. Default: none, and nothing can be written.
    pub write_token: Option<String>,
    /// Most frames of one run the dashboard reads back from the RESULTS stream for a run
    /// page; later frames still arrive live. Default: 20000.
    pub max_history_frames: usize,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            token: None,
            write_token: None,
            max_history_frames: 20_000,
        }
    }
}

impl fmt::Debug for DashboardSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DashboardSettings")
            .field("bind", &self.bind)
            .field("token", &self.token.as_ref().map(|_| "****"))
            .field("write_token", &self.write_token.as_ref().map(|_| "****"))
            .field("max_history_frames", &self.max_history_frames)
            .finish()
    }
}

impl DashboardSettings {
    /// The parsed bind address.
    pub fn bind_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.bind.trim().parse().map_err(|_| {
            SettingsError::invalid(
                "dashboard.bind",
                format!(
                    "dashboard.bind is {:?}, not an address and port; write e.g. \
                     127.0.0.1:8080, or 0.0.0.0:8080 (with dashboard.token) to serve beyond \
                     this machine",
                    self.bind
                ),
            )
        })
    }

    /// The token, when one is set and not empty.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref().filter(|t| !t.is_empty())
    }

    /// The write token, when one is set and not empty.
    pub fn write_token(&self) -> Option<&str> {
        self.write_token.as_deref().filter(|t| !t.is_empty())
    }

    /// Checks the address, the tokens, and that a token is set when it binds beyond
    /// loopback.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let addr = self.bind_addr()?;
        for (key, token) in [
            ("dashboard.token", self.token()),
            ("dashboard.write_token", self.write_token()),
        ] {
            let safe = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
            if let Some(token) = token
                && (token.len() < MIN_TOKEN_LEN || !token.chars().all(safe))
            {
                return Err(SettingsError::invalid(
                    key,
                    format!(
                        "{key} must have at least {MIN_TOKEN_LEN} characters, each a \
                         letter, digit or one of - . _ ~ + / = (it travels in addresses and \
                         cookies); e.g. the output of `openssl rand -hex 16`"
                    ),
                ));
            }
        }
        if self.write_token().is_some() && self.write_token() == self.token() {
            return Err(SettingsError::invalid(
                "dashboard.write_token",
                "dashboard.write_token is the same as dashboard.token; give writing its own \
                 token, so that those who may only read cannot write",
            ));
        }
        if self.token().is_none() && !addr.ip().is_loopback() {
            return Err(SettingsError::invalid(
                "dashboard.token",
                format!(
                    "dashboard.token is not set, but dashboard.bind ({addr}) reaches beyond \
                     this machine; set a token (TESSERA__DASHBOARD__TOKEN) or bind to \
                     127.0.0.1"
                ),
            ));
        }
        if self.max_history_frames == 0 {
            return Err(SettingsError::invalid(
                "dashboard.max_history_frames",
                "dashboard.max_history_frames is 0; use at least 1 (default: 20000)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(bind: &str, token: Option<&str>) -> DashboardSettings {
        DashboardSettings {
            bind: bind.into(),
            token: token.map(Into::into),
            ..DashboardSettings::default()
        }
    }

    #[test]
    fn loopback_needs_no_token_but_other_addresses_do() {
        assert!(with("127.0.0.1:8080", None).validate().is_ok());
        assert!(with("[::1]:9000", None).validate().is_ok());
        let err = with("0.0.0.0:8080", None).validate().unwrap_err();
        assert_eq!(err.key(), Some("dashboard.token"));
        assert!(
            err.to_string().contains("TESSERA__DASHBOARD__TOKEN"),
            "{err}"
        );
        assert!(
            with("0.0.0.0:8080", Some("0123456789abcdef"))
                .validate()
                .is_ok()
        );
        // An empty token counts as none.
        assert!(with("0.0.0.0:8080", Some("")).validate().is_err());
    }

    #[test]
    fn the_write_token_is_checked_and_differs_from_the_read_token() {
        let mut s = with("127.0.0.1:8080", Some("0123456789abcdef"));
        s.write_token = Some("short".into());
        let err = s.validate().unwrap_err();
        assert_eq!(err.key(), Some("dashboard.write_token"));
        s.write_token = Some("0123456789abcdef".into());
        assert!(s.validate().unwrap_err().to_string().contains("its own"));
        s.write_token = Some("fedcba9876543210".into());
        assert!(s.validate().is_ok());
        assert!(!format!("{s:?}").contains("fedcba"));
    }

    #[test]
    fn weak_tokens_and_bad_addresses_are_refused() {
        let err = with("127.0.0.1:8080", Some("short"))
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("at least 16"), "{err}");
        let err = with("127.0.0.1:8080", Some("0123456789abcdef;x"))
            .validate()
            .unwrap_err();
        assert_eq!(err.key(), Some("dashboard.token"));
        let err = with("localhost", None).validate().unwrap_err();
        assert_eq!(err.key(), Some("dashboard.bind"));
    }

    #[test]
    fn debug_hides_the_token() {
        let s = with("127.0.0.1:1", Some("0123456789abcdefSECRET"));
        assert!(!format!("{s:?}").contains("SECRET"));
    }
}
