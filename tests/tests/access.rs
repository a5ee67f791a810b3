//! Access control (issue 5): nats-server with `deploy/nats/auth.conf` (one user per service,
//! an admin for the topology, an instrument user) over TLS with a throwaway CA, and a Redis
//! that requires a password. The services complete a run each logged in as itself; every
//! user is refused outside its subjects with a clear error; wrong passwords and plaintext
//! are refused; and no secret appears in a log line or a result.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use tessera_bus::{Bus, BusConfig, BusError, TlsConfig};
use tessera_imaging::Raster;
use tessera_protocol::{WireParams, subjects};
use tessera_settings::Settings;
use tessera_testkit::{NatsServer, RedisServer};
use tessera_tests::live::*;
use tessera_workers::{CancellationToken, up};

const MODEL: &str = "tiny";
const USERS: [&str; 8] = [
    "admin",
    "ingest",
    "embedder",
    "clusterer",
    "publisher",
    "decider",
    "dashboard",
    "instrument-tem-1",
];

// ---------------------------------------------------------------------------------------------
// Log capture: every tracing event of this test binary goes to one buffer.

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once) and returns the buffer.
fn logs() -> LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = LogBuffer::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(
                "info,tessera_bus=debug,tessera_workers=debug,tessera_cache=debug,async_nats=trace",
            )
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
    .clone()
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Fails if any of `secrets` appears in a log line.
    fn assert_free_of(&self, secrets: &[String]) {
        let text = self.text();
        assert!(!text.is_empty(), "the log capture got nothing");
        for s in secrets {
            if let Some(line) = text.lines().find(|l| l.contains(s.as_str())) {
                panic!("a secret appears in a log line: {line}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Passwords, TLS material and the server.

/// A fresh random-looking secret, distinct per call.
fn secret(what: &str) -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    let a = h.finish();
    h.write_u64(a);
    format!("{what}-{a:016x}{:016x}", h.finish())
}

/// The passwords of every user of auth.conf.
struct Passwords(Vec<(&'static str, String)>);

impl Passwords {
    fn new() -> Self {
        Passwords(USERS.iter().map(|u| (*u, secret("pw"))).collect())
    }
    fn of(&self, user: &str) -> &str {
        &self.0.iter().find(|(u, _)| *u == user).unwrap().1
    }
    fn all(&self) -> Vec<String> {
        self.0.iter().map(|(_, p)| p.clone()).collect()
    }
}

/// deploy/nats/auth.conf with the `$TESSERA_<USER>_PASSWORD` references replaced by the
/// passwords (what nats-server does with the variables in its environment).
fn auth_conf(pw: &Passwords) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nats/auth.conf");
    let mut text = std::fs::read_to_string(path).unwrap();
    for (user, p) in &pw.0 {
        let var = format!(
            "$TESSERA_{}_PASSWORD",
            user.replace("instrument-tem-1", "instrument_tem1")
                .to_uppercase()
        );
        assert!(text.contains(&var), "auth.conf has no {var}");
        text = text.replace(&var, &format!("\"{p}\""));
    }
    assert!(!text.contains("$TESSERA_"), "a password variable left over");
    text
}

/// A throwaway CA and a server certificate for 127.0.0.1 / localhost it signed.
struct Certs {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn certs() -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tessera test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    Certs {
        ca: write("ca.pem", ca_cert.pem()),
        cert: write("server.pem", server_cert.pem()),
        key: write("server-key.pem", server_key.serialize_pem()),
        _dir: dir,
    }
}

/// nats-server with JetStream, auth.conf and TLS only.
fn secure_nats(pw: &Passwords, certs: &Certs) -> NatsServer {
    let tls = format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  timeout: 2\n}}\n",
        certs.cert.display(),
        certs.key.display()
    );
    NatsServer::builder()
        .config(NATS_CONFIG)
        .config(&auth_conf(pw))
        .config(&tls)
        .jetstream("max_file_store: 1TB")
        .start()
        .unwrap()
}

fn tls_url(nats: &NatsServer) -> String {
    format!("tls://127.0.0.1:{}", nats.port())
}

/// A bus config logging in as `user` over TLS, trusting the test CA.
fn login(nats: &NatsServer, certs: &Certs, user: &str, password: &str) -> BusConfig {
    let mut c = BusConfig::new(tls_url(nats));
    c.name = format!("test-{user}");
    c.user = Some(user.to_string());
    c.password = Some(password.to_string());
    c.tls = Some(TlsConfig {
        ca: Some(certs.ca.clone()),
        ..TlsConfig::default()
    });
    c.request_timeout_ms = 3000;
    c
}

async fn connect_as(nats: &NatsServer, certs: &Certs, pw: &Passwords, user: &str) -> Bus {
    Bus::connect(&login(nats, certs, user, pw.of(user)))
        .await
        .unwrap_or_else(|e| panic!("connecting as {user}: {e}"))
}

/// Creates the topology as `admin`.
async fn topology(nats: &NatsServer, certs: &Certs, pw: &Passwords) {
    let admin = connect_as(nats, certs, pw, "admin").await;
    up::ensure_topology(&admin, &Default::default())
        .await
        .unwrap();
}

/// Server log lines about permission violations.
fn violations(nats: &NatsServer) -> Vec<String> {
    std::fs::read_to_string(nats.log_path())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("Violation"))
        .map(String::from)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Services, each logged in as itself.

struct Running {
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<Result<(), tessera_workers::WorkerError>>>,
}

impl Running {
    async fn start(base: &Settings, nats: &NatsServer, certs: &Certs, pw: &Passwords) -> Self {
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();
        // The decider too: with no policy stored it only reads the policies bucket.
        let all = Services::ALL
            .into_iter()
            .chain([tessera_protocol::Service::Decider]);
        for service in all {
            let user = service.as_str();
            let mut s = base.clone();
            s.bus = login(nats, certs, user, pw.of(user));
            let bus = Bus::connect(&s.bus).await.unwrap();
            let token = shutdown.child_token();
            let settings = Arc::new(s);
            tasks.push(tokio::spawn(async move {
                // What a service binary does: ensure (here: read) the topology, then run.
                up::run_services(bus, settings, &[service], token).await
            }));
        }
        Running { shutdown, tasks }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            t.await.unwrap().unwrap();
        }
    }
}

fn frames() -> Vec<Raster> {
    (0..3).map(|i| scene_frame(256, 300 + i)).collect()
}

/// Publishes `frames` as run `name` with the instrument's own user; returns the results
/// (decoded, through the instrument's subscription) and their raw bytes (through the
/// dashboard's).
async fn run_as_instrument(
    instrument_bus: &Bus,
    dashboard_bus: &Bus,
    settings: &Settings,
    name: &str,
    frames: &[Raster],
) -> (Vec<tessera_protocol::FrameResult>, Vec<Bytes>) {
    let inst = instrument(instrument_bus, settings);
    let start = run_start(&inst, name, WireParams::default());
    let run = start.run.clone();
    let mut decoded = results(instrument_bus, &inst, &run).await;
    let mut raw = dashboard_bus
        .subscribe(&subjects::results_subject(inst.id(), &run))
        .await
        .unwrap();
    publish_run(&inst, &start, frames).await;
    let got = collect(&mut decoded, frames.len(), Duration::from_secs(120)).await;
    let mut bytes = Vec::new();
    while bytes.len() < frames.len() {
        let m = tokio::time::timeout(Duration::from_secs(10), raw.next())
            .await
            .expect("the dashboard saw every result")
            .unwrap();
        bytes.push(m.payload);
    }
    let mut got: Vec<_> = got.into_values().collect();
    got.sort_by_key(|r| r.seq);
    (got, bytes)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// (a), (e), (f): the pipeline works with its own users over TLS and a Redis password.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_complete_runs_with_their_own_users_over_tls_and_leak_no_secret() {
    let logs = logs();
    let t0 = Instant::now();
    let pw = Passwords::new();
    let certs = certs();
    let nats = secure_nats(&pw, &certs);
    let redis_pw = secret("redis");
    let redis = RedisServer::start_with_password(&redis_pw).unwrap();
    topology(&nats, &certs, &pw).await;

    let mut base = settings(&nats, None, MODEL);
    base.cache.url = Some(redis.url_without_password());
    base.cache.password = Some(redis_pw.clone());
    let services = Running::start(&base, &nats, &certs, &pw).await;
    let instrument_bus = connect_as(&nats, &certs, &pw, "instrument-tem-1").await;
    let dashboard_bus = connect_as(&nats, &certs, &pw, "dashboard").await;

    let frames = frames();
    let (cold, cold_bytes) =
        run_as_instrument(&instrument_bus, &dashboard_bus, &base, "cold", &frames).await;
    let (warm, warm_bytes) =
        run_as_instrument(&instrument_bus, &dashboard_bus, &base, "warm", &frames).await;
    assert_eq!(cold.len(), frames.len());
    for r in &cold {
        assert!(r.chips > 0 && !r.communities.is_empty(), "frame {}", r.seq);
    }
    for r in &warm {
        assert_eq!(
            r.cache_hits, r.chips,
            "warm frame {}: every chip from Redis, logged in with its password",
            r.seq
        );
    }
    let v = violations(&nats);
    assert!(
        v.is_empty(),
        "the permissions are not enough:\n{}",
        v.join("\n")
    );
    services.stop().await;

    let mut secrets = pw.all();
    secrets.push(redis_pw);
    for b in cold_bytes.iter().chain(&warm_bytes) {
        for s in &secrets {
            assert!(!contains(b, s), "a secret in a FrameResult");
        }
    }
    logs.assert_free_of(&secrets);
    eprintln!(
        "two runs of 3 frames over TLS with 6 users: {:?}",
        t0.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// (b), (c): every user is refused outside its subjects.

/// Asserts that a JetStream publish is refused with `Denied`, promptly.
async fn assert_publish_denied(bus: &Bus, who: &str, subject: &str) {
    let t = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(8),
        bus.publish(subject, Bytes::from_static(b"x"), &[], None),
    )
    .await
    .unwrap_or_else(|_| panic!("{who} publishing to {subject}: no answer within 8 s"));
    match r {
        Err(e @ BusError::Denied { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains(subject) && text.contains("permission denied"),
                "{text}"
            );
        }
        other => panic!("{who} publishing to {subject}: {other:?}, not Denied"),
    }
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "{who}: the refusal took {:?}",
        t.elapsed()
    );
}

async fn assert_subscribe_denied(bus: &Bus, who: &str, subject: &str) {
    match bus.subscribe(subject).await {
        Err(e @ BusError::Denied { .. }) => {
            assert!(e.to_string().contains(subject), "{e}");
        }
        Err(e) => panic!("{who} subscribing to {subject}: {e}, not Denied"),
        Ok(_) => panic!("{who} could subscribe to {subject}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_user_is_refused_outside_its_subjects() {
    let logs = logs();
    let t0 = Instant::now();
    let pw = Passwords::new();
    let certs = certs();
    let nats = secure_nats(&pw, &certs);
    topology(&nats, &certs, &pw).await;

    // (b) services.
    let embedder = connect_as(&nats, &certs, &pw, "embedder").await;
    assert_publish_denied(&embedder, "embedder", "tessera.results.x.y").await;
    assert_publish_denied(&embedder, "embedder", "tessera.acq.tem-1.frame").await;
    assert_publish_denied(&embedder, "embedder", "tessera.work.r").await;
    assert_subscribe_denied(&embedder, "embedder", "tessera.acq.>").await;
    // Its consumer info it may read (every service reads the topology), but not pull.
    let mut pulls = embedder.consume("ACQ", "ingest").await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), pulls.next())
        .await
        .expect("a refused pull fails at once, not as missed heartbeats");
    match first {
        Some(Err(e @ BusError::Denied { .. })) => {
            assert!(e.to_string().contains("MSG.NEXT.ACQ.ingest"), "{e}")
        }
        other => panic!("the embedder pulling from ACQ/ingest: {other:?}"),
    }
    let ingest = connect_as(&nats, &certs, &pw, "ingest").await;
    assert_publish_denied(&ingest, "ingest", "tessera.embedded.r").await;
    assert_publish_denied(&ingest, "ingest", "tessera.rejects.publisher").await;
    let clusterer = connect_as(&nats, &certs, &pw, "clusterer").await;
    assert_publish_denied(&clusterer, "clusterer", "tessera.results.tem-1.r").await;
    assert_publish_denied(&clusterer, "clusterer", "$KV.tessera_runs.r").await;
    let publisher = connect_as(&nats, &certs, &pw, "publisher").await;
    assert_publish_denied(&publisher, "publisher", "tessera.work.r").await;
    assert_publish_denied(&publisher, "publisher", "$KV.tessera_runs.r").await;
    // Only the decider publishes decisions; it may not touch the policies it reads.
    assert_publish_denied(&publisher, "publisher", "tessera.decisions.tem-1.r").await;
    let decider = connect_as(&nats, &certs, &pw, "decider").await;
    let ack = decider
        .publish(
            "tessera.decisions.tem-1.r",
            Bytes::from_static(b"x"),
            &[],
            None,
        )
        .await
        .unwrap();
    assert_eq!(ack.stream, "DECISIONS");
    assert_publish_denied(&decider, "decider", "tessera.results.tem-1.r").await;
    assert_publish_denied(&decider, "decider", "tessera.acq.tem-1.stop").await;
    assert_publish_denied(&decider, "decider", "$KV.tessera_policies.run.r").await;
    // No service may change the topology.
    let err = publisher
        .ensure_topology(&[tessera_protocol::streams::ACQ], &[], &[], &[])
        .await;
    assert!(
        err.is_ok(),
        "reading an unchanged topology is allowed: {err:?}"
    );
    let mut changed = tessera_protocol::streams::ACQ;
    changed.max_age_secs += 1;
    let err = publisher
        .ensure_topology(&[changed], &[], &[], &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, BusError::Denied { .. }) && err.to_string().contains("STREAM.UPDATE.ACQ"),
        "{err}"
    );

    // The dashboard publishes nothing.
    let dashboard = connect_as(&nats, &certs, &pw, "dashboard").await;
    for subject in [
        "tessera.acq.tem-1.frame",
        "tessera.results.tem-1.r",
        "tessera.work.r",
        "$KV.tessera_runs.r",
        "$O.tessera_outputs.M.x",
    ] {
        assert_publish_denied(&dashboard, "dashboard", subject).await;
    }
    // Core publishes are fire-and-forget: the server's refusal is logged, never silent.
    dashboard
        .publish_core("tessera.status.ingest", Bytes::from_static(b"x"))
        .await
        .unwrap();
    dashboard.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !logs
        .text()
        .lines()
        .any(|l| l.contains("tessera.status.ingest") && l.to_lowercase().contains("permission"))
    {
        assert!(
            Instant::now() < deadline,
            "no log line about the refused core publish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // (c) the instrument: its own acquisitions only.
    let inst = connect_as(&nats, &certs, &pw, "instrument-tem-1").await;
    let ack = inst
        .publish(
            "tessera.acq.tem-1.frame",
            Bytes::from_static(b"not a frame"),
            &[],
            None,
        )
        .await
        .unwrap();
    assert_eq!(ack.stream, "ACQ");
    for subject in [
        "tessera.acq.tem-2.frame",
        "tessera.acq.tem-2.start",
        "tessera.work.r",
        "tessera.results.tem-1.r",
        "tessera.decisions.tem-1.r",
        "tessera.acks.tem-2.r",
    ] {
        assert_publish_denied(&inst, "instrument-tem-1", subject).await;
    }
    assert_subscribe_denied(&inst, "instrument-tem-1", "tessera.results.tem-2.>").await;
    assert_subscribe_denied(&inst, "instrument-tem-1", "tessera.acq.>").await;
    assert_subscribe_denied(&inst, "instrument-tem-1", "tessera.decisions.tem-2.>").await;
    // Its own results and decisions it may watch, and answer its decisions.
    let _own = inst.subscribe("tessera.results.tem-1.>").await.unwrap();
    let _decisions = inst.subscribe("tessera.decisions.tem-1.>").await.unwrap();
    let ack = inst
        .publish("tessera.acks.tem-1.r", Bytes::from_static(b"x"), &[], None)
        .await
        .unwrap();
    assert_eq!(ack.stream, "DECISIONS");
    logs.assert_free_of(&pw.all());
    eprintln!("refusals checked in {:?}", t0.elapsed());
}

// ---------------------------------------------------------------------------------------------
// (d): wrong passwords and plaintext are refused with errors that say why.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_plaintext_are_refused_clearly() {
    let logs = logs();
    let pw = Passwords::new();
    let certs = certs();
    let nats = secure_nats(&pw, &certs);

    let wrong = secret("wrong");
    let err = Bus::connect(&login(&nats, &certs, "embedder", &wrong))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BusError::Auth { .. }), "{text}");
    assert!(text.contains("refused the login"), "{text}");
    assert!(!text.contains(&wrong), "the password in the error: {text}");
    // Another user's password does not do either.
    let err = Bus::connect(&login(&nats, &certs, "embedder", pw.of("ingest")))
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::Auth { .. }), "{err}");

    // No TLS settings: the client would have to trust the server's certificate.
    let mut plain = login(&nats, &certs, "embedder", pw.of("embedder"));
    plain.url = nats.url();
    plain.tls = None;
    let err = Bus::connect(&plain).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BusError::Tls { .. }), "{text}");
    assert!(text.contains("TLS"), "{text}");

    // A client that really speaks plaintext is told TLS is required.
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", nats.port())).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(tcp.try_clone().unwrap());
    let mut info = String::new();
    reader.read_line(&mut info).unwrap();
    assert!(info.contains("\"tls_required\":true"), "{info}");
    tcp.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut reader, &mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        !answer.contains("PONG") && !answer.contains("+OK"),
        "the server answered plaintext with {answer:?}"
    );
    let mut secrets = pw.all();
    secrets.push(wrong);
    logs.assert_free_of(&secrets);
}

// ---------------------------------------------------------------------------------------------
// (e): a wrong Redis password.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_redis_password_degrades_the_cache_with_a_clear_message() {
    let logs = logs();
    let redis_pw = secret("redis");
    let redis = RedisServer::start_with_password(&redis_pw).unwrap();
    let nats = nats();
    let mut s = settings(&nats, None, MODEL);
    let wrong = secret("wrong-redis");
    s.cache.url = Some(redis.url_without_password());
    s.cache.password = Some(wrong.clone());
    s.cache.retry_interval_ms = 200;
    let services = Services::start(&s, &Services::ALL).await;
    let bus = Bus::connect(&s.bus).await.unwrap();
    let frames = frames();
    let (cold, _) = run_as_instrument(&bus, &bus, &s, "cold", &frames).await;
    let (warm, _) = run_as_instrument(&bus, &bus, &s, "warm", &frames).await;
    for r in cold.iter().chain(&warm) {
        assert_eq!(r.cache_hits, 0, "frame {}: no Redis, no hits", r.seq);
    }
    services.stop().await.unwrap();
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| {
            l.contains(&format!("127.0.0.1:{}", redis.port()))
                && l.contains("check cache.username and cache.password")
        })
        .unwrap_or_else(|| panic!("no log line says Redis refused the password"));
    eprintln!("{line}");
    logs.assert_free_of(&[wrong, redis_pw]);
}

// ---------------------------------------------------------------------------------------------
// (f): the shipped facility configuration (jetstream.conf + auth.conf + TLS) is valid.

#[test]
fn the_shipped_secure_nats_config_passes_nats_server_check() {
    let pw = Passwords::new();
    let certs = certs();
    let binary = tessera_testkit::find_binary("nats-server", "TESSERA_NATS_SERVER").unwrap();
    let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nats/secure.conf");
    let mut check = std::process::Command::new(binary);
    check
        .args(["-t", "-c", conf])
        .env("TESSERA_NATS_TLS_CERT", &certs.cert)
        .env("TESSERA_NATS_TLS_KEY", &certs.key);
    for (user, p) in &pw.0 {
        let var = format!(
            "TESSERA_{}_PASSWORD",
            user.replace("instrument-tem-1", "instrument_tem1")
                .to_uppercase()
        );
        check.env(var, p);
    }
    let out = check.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "nats-server -t refused secure.conf: {text}"
    );
    assert!(text.contains("is valid"), "{text}");
    // Without the TLS variables the check fails, naming the missing setting: the config
    // really does depend on them.
    let mut bare = std::process::Command::new(
        tessera_testkit::find_binary("nats-server", "TESSERA_NATS_SERVER").unwrap(),
    );
    let out = bare.args(["-t", "-c", conf]).output().unwrap();
    assert!(
        !out.status.success(),
        "secure.conf passed without its certificate variables"
    );
}
