//! [`BusError`]: everything the bus can fail with, and whether trying again may help.

/// An error from the bus. [`BusError::is_transient`] says whether the same call may succeed
/// later (the server is restarting, a reply was slow), so a consumer can `nak` and retry
/// rather than dead-letter.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The configuration cannot work; nothing was sent.
    #[error("{0}")]
    Config(String),
    /// No server answered at the configured address.
    #[error(
        "cannot reach NATS at {url}: {detail}; is nats-server running? Check bus.url \
         (and bus.connect_wait_ms to wait for it at start-up)"
    )]
    Unreachable {
        /// The URL, passwords redacted.
        url: String,
        /// What the client saw (e.g. "connection refused").
        detail: String,
    },
    /// The server refused the credentials.
    #[error(
        "NATS at {url} refused the login: {detail}; check bus.user/bus.password, bus.token, \
         bus.nkey or bus.creds_file"
    )]
    Auth {
        /// The URL, passwords redacted.
        url: String,
        /// What the server said.
        detail: String,
    },
    /// TLS could not be set up or the handshake failed.
    #[error("TLS with NATS at {url} failed: {detail}; check bus.tls (ca, cert, key)")]
    Tls {
        /// The URL, passwords redacted.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The server did not answer in time.
    #[error("{op}: NATS did not answer within the request timeout (bus.request_timeout_ms)")]
    Timeout {
        /// What was being done.
        op: String,
    },
    /// The connection is down or JetStream is not answering (for example while the server
    /// restarts); the client reconnects by itself.
    #[error("{op}: NATS is not available right now: {detail}")]
    Unavailable {
        /// What was being done.
        op: String,
        /// What the client saw.
        detail: String,
    },
    /// The stream that captures the subject is at its `max_bytes` or `max_msgs` and refuses
    /// new messages (discard policy "new"): the consumers downstream are behind. Transient:
    /// the publish succeeds once they catch up.
    #[error(
        "{op}: the stream is full ({detail}); its consumers are behind: wait for them, add \
         workers, or raise the stream's limit ([queues] in the settings)"
    )]
    Full {
        /// What was being done.
        op: String,
        /// What the server said.
        detail: String,
    },
    /// The server's permissions for this user do not allow the operation.
    #[error(
        "{op}: permission denied by NATS: {detail}; this user may not use that subject \
         (see the server's authorization block)"
    )]
    Denied {
        /// What was being done.
        op: String,
        /// What the server said.
        detail: String,
    },
    /// Streams, consumers or buckets exist with settings that cannot be reconciled.
    #[error("{0}")]
    Topology(String),
    /// The message is bigger than the server or the stream accepts.
    #[error(
        "publishing {size} bytes to {subject}: over the server's max_payload or the stream's \
         max_msg_size; large data goes through the object store"
    )]
    TooLarge {
        /// Subject published to.
        subject: String,
        /// Payload plus headers, in bytes.
        size: usize,
    },
    /// A stream, consumer, bucket or key that should exist does not.
    #[error("{0}")]
    NotFound(String),
    /// [`crate::Bus::kv_create`] found the key already there.
    #[error("key {key} already exists in bucket {bucket}")]
    AlreadyExists {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// [`crate::Bus::kv_update`] lost a compare-and-set race: the key is no longer at the
    /// expected revision. Re-read it and decide again.
    #[error(
        "key {key} in bucket {bucket} is no longer at revision {expected}: someone else \
         updated it; re-read and retry"
    )]
    Conflict {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The revision the caller expected.
        expected: u64,
    },
    /// A name, subject or header the server would refuse.
    #[error("{0}")]
    Invalid(String),
    /// Any other refusal by the server or the client.
    #[error("{op}: {detail}")]
    Server {
        /// What was being done.
        op: String,
        /// What the server or client said.
        detail: String,
    },
}

impl BusError {
    /// Whether trying the same call again later may succeed: true for timeouts, an
    /// unreachable or unavailable server and a full stream; false for configuration, permission, topology,
    /// size, missing-thing, CAS and other refusals, which need a different call.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. }
                | Self::Timeout { .. }
                | Self::Unavailable { .. }
                | Self::Full { .. }
        )
    }

    /// Classifies an async-nats error by what it says, for operations where its kind does not
    /// tell enough. `op` says what was being done, e.g. `"publishing to tessera.frames.x"`.
    pub(crate) fn classify(op: impl Into<String>, err: &dyn std::error::Error) -> Self {
        let op = op.into();
        let detail = chain(err);
        let lower = detail.to_lowercase();
        if lower.contains("timed out") || lower.contains("timeout") {
            Self::Timeout { op }
        } else if lower.contains("maximum bytes exceeded")
            || lower.contains("maximum messages exceeded")
            || lower.contains("maximum messages per subject exceeded")
        {
            Self::Full { op, detail }
        } else if lower.contains("permission") || lower.contains("authorization violation") {
            Self::Denied { op, detail }
        } else if lower.contains("no responders")
            || lower.contains("broken pipe")
            || lower.contains("disconnected")
            || lower.contains("connection")
            || lower.contains("channel closed")
            || lower.contains("jetstream not enabled")
            || lower.contains("jetstream system temporarily unavailable")
        {
            Self::Unavailable { op, detail }
        } else if lower.contains("not found") {
            Self::NotFound(format!("{op}: {detail}"))
        } else {
            Self::Server { op, detail }
        }
    }
}

/// `err` and its sources, joined with ": ", repeated texts dropped.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_is_per_variant() {
        let t = BusError::Timeout { op: "x".into() };
        assert!(t.is_transient());
        let c = BusError::Conflict {
            bucket: "b".into(),
            key: "k".into(),
            expected: 3,
        };
        assert!(!c.is_transient());
        assert!(c.to_string().contains("revision 3"));
    }

    #[test]
    fn classify_reads_the_text() {
        let e = std::io::Error::other("request timed out");
        assert!(matches!(
            BusError::classify("op", &e),
            BusError::Timeout { .. }
        ));
        let e = std::io::Error::other("no responders");
        assert!(BusError::classify("op", &e).is_transient());
        let e = std::io::Error::other("Permissions Violation for Publish to \"x\"");
        assert!(matches!(
            BusError::classify("op", &e),
            BusError::Denied { .. }
        ));
        let e = std::io::Error::other("stream not found");
        assert!(matches!(
            BusError::classify("op", &e),
            BusError::NotFound(_)
        ));
    }
}
