//! [`CacheConfig`], the construction errors [`CacheError`], and URL redaction.

use std::fmt;

use serde::Deserialize;

/// Seven days.
const DEFAULT_TTL_SECS: u64 = 7 * 24 * 3600;
/// 256 MiB.
const DEFAULT_MEMORY_CAPACITY: u64 = 256 << 20;

/// How the embedding cache is set up (`[cache]` in the service config).
///
/// `Debug` redacts the password, including one written inside `url`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// `redis://[user[:password]@]host:port[/db]`. Unset: an in-process LRU cache.
    pub url: Option<String>,
    /// Redis ACL user name; overrides one in `url`.
    pub username: Option<String>,
    /// Redis password (`requirepass` or the ACL user's); overrides one in `url`. Never logged.
    pub password: Option<String>,
    /// Seconds an entry lives in Redis (`SET .. EX`); at least 1. Default: 7 days.
    pub ttl_secs: u64,
    /// Byte budget of the in-process cache (keys and values). Default: 256 MiB.
    pub memory_capacity_bytes: u64,
    /// Put in front of every Redis key, to share one Redis between deployments
    /// (e.g. `"lab-a:"`). Default: empty, so keys are `tessera:emb:...`.
    pub key_prefix: String,
    /// Limit on one Redis round trip, connection included, in milliseconds. Default: 2000.
    pub timeout_ms: u64,
    /// While Redis is unreachable, how often to try it again, in milliseconds. Default: 1000.
    pub retry_interval_ms: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            url: None,
            username: None,
            password: None,
            ttl_secs: DEFAULT_TTL_SECS,
            memory_capacity_bytes: DEFAULT_MEMORY_CAPACITY,
            key_prefix: String::new(),
            timeout_ms: 2000,
            retry_interval_ms: 1000,
        }
    }
}

impl fmt::Debug for CacheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheConfig")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .field("ttl_secs", &self.ttl_secs)
            .field("memory_capacity_bytes", &self.memory_capacity_bytes)
            .field("key_prefix", &self.key_prefix)
            .field("timeout_ms", &self.timeout_ms)
            .field("retry_interval_ms", &self.retry_interval_ms)
            .finish()
    }
}

/// A configuration the cache cannot be built from. Only construction fails; once built,
/// the cache never returns an error (an unreachable Redis makes it degrade instead).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// `url` is not a Redis URL this build can use.
    #[error(
        "cache.url \"{url}\" is not a usable Redis URL ({reason}); write it as \
         redis://[user:password@]host:port/db, or leave cache.url unset for the in-process cache"
    )]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// Why, from the Redis client, secrets scrubbed.
        reason: String,
    },
    /// A setting is out of range.
    #[error("cache.{field} {reason}")]
    InvalidSetting {
        /// The setting's name.
        field: &'static str,
        /// What is wrong and what to do.
        reason: &'static str,
    },
}

impl CacheConfig {
    /// Checks the settings that do not depend on the backend (the service configuration
    /// checks them at start-up through this).
    pub fn validate(&self) -> Result<(), CacheError> {
        let bad = |field, reason| Err(CacheError::InvalidSetting { field, reason });
        if self.ttl_secs == 0 {
            return bad(
                "ttl_secs",
                "is 0; Redis needs at least 1 second (default: 7 days)",
            );
        }
        if self.timeout_ms == 0 {
            return bad("timeout_ms", "is 0; set a positive limit (default: 2000)");
        }
        if self.retry_interval_ms == 0 {
            return bad(
                "retry_interval_ms",
                "is 0; set a positive interval (default: 1000)",
            );
        }
        Ok(())
    }

    /// The secrets that must never be printed: the password field and one inside `url`.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = self.password.iter().cloned().collect();
        if let Some(pw) = self.url.as_deref().and_then(url_password) {
            out.push(pw.to_owned());
        }
        out.retain(|s| !s.is_empty());
        out
    }
}

/// `url` with the password of its user-info part replaced by `****`:
/// `redis://:pw@host:6379/` becomes `redis://:****@host:6379/`. Other URLs are unchanged.
pub fn redact_url(url: &str) -> String {
    let Some((start, end)) = password_span(url) else {
        return url.to_owned();
    };
    format!("{}****{}", &url[..start], &url[end..])
}

/// Replaces every occurrence of each secret in `text` with `****`.
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(text.to_owned(), |t, s| t.replace(s.as_str(), "****"))
}

fn url_password(url: &str) -> Option<&str> {
    password_span(url).map(|(s, e)| &url[s..e])
}

/// Byte range of the password in `scheme://user:password@host...`, if any.
fn password_span(url: &str) -> Option<(usize, usize)> {
    let auth_start = url.find("://")? + 3;
    let rest = &url[auth_start..];
    // The authority ends at the first '/', '?' or '#'; the user info at its last '@'.
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_len].rfind('@')?;
    let colon = rest[..at].find(':')?;
    Some((auth_start + colon + 1, auth_start + at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact_url("redis://:pw@h:1/"), "redis://:****@h:1/");
        assert_eq!(redact_url("redis://u:p@ss@h:1/0"), "redis://u:****@h:1/0");
        assert_eq!(redact_url("redis://u@h:1/"), "redis://u@h:1/");
        assert_eq!(redact_url("redis://h:1/"), "redis://h:1/");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn debug_hides_secrets() {
        let c = CacheConfig {
            url: Some("redis://:inurl@h:1/".into()),
            password: Some("field-pw".into()),
            ..CacheConfig::default()
        };
        let d = format!("{c:?}");
        assert!(!d.contains("inurl") && !d.contains("field-pw"), "{d}");
        assert_eq!(c.secrets(), ["field-pw", "inurl"]);
        assert_eq!(scrub("a field-pw b inurl", &c.secrets()), "a **** b ****");
    }

    #[test]
    fn deserializes_strictly_with_defaults() {
        let c: CacheConfig = toml::from_str("url = \"redis://h:1/\"\nttl_secs = 60").unwrap();
        assert_eq!(c.ttl_secs, 60);
        assert_eq!(c.memory_capacity_bytes, 256 << 20);
        assert!(toml::from_str::<CacheConfig>("ttl = 60").is_err());
    }
}
