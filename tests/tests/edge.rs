//! An edge deployment on loopback (deploy/README.md, "Edge and hub"): a hub and a leaf
//! nats-server started from the real `deploy/nats/hub.conf` and `leaf.conf` (loopback ports,
//! temporary stores, throwaway passwords), the leaf link through a TCP proxy in this test so
//! that it can be cut and restored with both servers running. Ingest, clusterer and publisher
//! run at the hub (`bus.site = "hub"`); one embedder runs at the edge (`bus.site = "edge"`),
//! logged in as edge-auth.conf's `embedder`, with the real EfficientNet-Lite0 model. A run
//! published at the hub is embedded at the edge; the link is cut after the first result and
//! restored a few seconds later, and every frame still gives exactly one result, with the
//! labels of `tessera segment`, each chip batch copied and embedded exactly once.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tessera_bus::Bus;
use tessera_imaging::Raster;
use tessera_protocol::sites::Site;
use tessera_protocol::{Service, WireParams, streams};
use tessera_segment::{SegmentParams, segment};
use tessera_settings::Settings;
use tessera_testkit::{ChildGuard, find_binary, free_port};
use tessera_tests::deployed_encoder;
use tessera_tests::live::*;
use tessera_workers::up;

const NATS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nats");
const MODEL: &str = "efficientnet-lite0";
/// Frames of 512² (841 chips each at the default chip and stride): enough embedding that the
/// edge is still at work when the link is cut after the first result.
const FRAMES: usize = 8;
const SIDE: usize = 512;

/// A nats-server started from one of `deploy/nats`'s files.
struct Server {
    _child: ChildGuard,
    port: u16,
    monitor: u16,
    /// The leaf-node port (hub.conf's 7422).
    leaf: u16,
    log: std::path::PathBuf,
}

impl Server {
    /// Copies `conf` and `includes` into `dir/<name>`, with free loopback ports for 4222, 8222
    /// and 7422 and the store in `dir`, and starts nats-server on it with `env`.
    fn start(dir: &Path, conf: &str, includes: &[&str], env: &[(String, String)]) -> Server {
        let (port, monitor, leaf) = (
            free_port().unwrap(),
            free_port().unwrap(),
            free_port().unwrap(),
        );
        let name = conf.trim_end_matches(".conf");
        let home = dir.join(name);
        std::fs::create_dir_all(home.join("data")).unwrap();
        let text = std::fs::read_to_string(Path::new(NATS_DIR).join(conf))
            .unwrap()
            .replace("http_port: 8222", &format!("http_port: {monitor}"))
            .replace("port: 4222", &format!("port: {port}"))
            // The leaf must reach the hub only through the proxy: without `no_advertise`, the
            // hub tells it its own leaf-node address, and the leaf reconnects around the cut.
            .replace(
                "leafnodes {\n  port: 7422",
                &format!("leafnodes {{\n  no_advertise: true\n  port: {leaf}"),
            )
            .replace(
                "store_dir: /data",
                &format!("store_dir: {:?}", home.join("data")),
            );
        assert!(
            conf != "hub.conf" || text.contains("no_advertise: true"),
            "hub.conf's leafnodes block changed shape; update this test's copy of it"
        );
        std::fs::write(home.join(conf), text).unwrap();
        for inc in includes {
            std::fs::copy(Path::new(NATS_DIR).join(inc), home.join(inc)).unwrap();
        }
        let log = home.join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(find_binary("nats-server", "TESSERA_NATS_SERVER").unwrap())
            .arg("-c")
            .arg(home.join(conf))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        let server = Server {
            _child: ChildGuard(child),
            port,
            monitor,
            leaf,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while http_json(monitor, "/healthz").is_none_or(|v| v["status"] != "ok") {
            assert!(
                Instant::now() < deadline,
                "{conf} did not start:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.contains("[INF]")).collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// GET `path` from a monitoring port, as JSON; `None` while it does not answer.
fn http_json(port: u16, path: &str) -> Option<serde_json::Value> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    serde_json::from_slice(&raw[split + 4..]).ok()
}

/// A TCP proxy on the leaf link: [`LinkProxy::cut`] closes every connection through it and
/// refuses new ones until [`LinkProxy::restore`].
struct LinkProxy {
    port: u16,
    open: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl LinkProxy {
    fn start(upstream: u16) -> LinkProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let live = Arc::new(Mutex::new(Vec::new()));
        let (o, l) = (open.clone(), live.clone());
        std::thread::spawn(move || {
            for inbound in listener.incoming().flatten() {
                if !o.load(Ordering::SeqCst) {
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(outbound) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let mut conns = l.lock().unwrap();
                conns.push(inbound.try_clone().unwrap());
                conns.push(outbound.try_clone().unwrap());
                pipe(inbound.try_clone().unwrap(), outbound.try_clone().unwrap());
                pipe(outbound, inbound);
            }
        });
        LinkProxy { port, open, live }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for s in self.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// Throwaway values for every `$VARIABLE` the files read; the leaf's hub URL goes through
/// `proxy`.
fn server_env(proxy: u16) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for f in ["hub.conf", "leaf.conf", "auth.conf", "edge-auth.conf"] {
        let text = std::fs::read_to_string(Path::new(NATS_DIR).join(f)).unwrap();
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$')) {
            if let Some(v) = word.strip_prefix('$').filter(|v| v.starts_with("TESSERA_")) {
                vars.push(v.to_string());
            }
        }
    }
    vars.sort();
    vars.dedup();
    vars.into_iter()
        .map(|v| {
            let value = if v == "TESSERA_HUB_LEAF_URL" {
                format!(
                    "nats-leaf://leaf:{}@127.0.0.1:{proxy}",
                    password("TESSERA_LEAF_PASSWORD")
                )
            } else {
                password(&v)
            };
            (v, value)
        })
        .collect()
}

fn password(var: &str) -> String {
    format!("pw-{}", var.to_ascii_lowercase())
}

/// Settings for `user` at `server` on `site`.
fn site_settings(server: &Server, user: &str, site: Site) -> Settings {
    let mut s = Settings::default();
    s.bus.url = server.url();
    s.bus.user = Some(user.to_string());
    s.bus.password = Some(password(&format!(
        "TESSERA_{}_PASSWORD",
        user.to_ascii_uppercase()
    )));
    s.bus.site = site;
    if site == Site::Hub {
        s.bus.edge_domain = Some("edge".into());
    }
    s.model.name = MODEL.to_string();
    s.model.cache_dir = Some(tessera_tests::cache().root().to_path_buf());
    s.telemetry.status_interval_ms = 300;
    s.telemetry.metrics_addr = "127.0.0.1:0".into();
    // Small batches, so that the link is cut in the middle of frames.
    s.ingest.batch_chips = 32;
    s.embedder.max_batch_chips = 64;
    s.embedder.pull_batch = 2;
    s
}

/// The first source of `stream` as the server's `/jsz` shows it (`error` set while it fails).
fn source_info(monitor: u16, stream: &str) -> serde_json::Value {
    let jsz = http_json(monitor, "/jsz?accounts=true&streams=true&config=true").unwrap();
    jsz["account_details"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["stream_detail"].as_array().into_iter().flatten())
        .find(|s| s["name"] == stream)
        .map(|s| s["sources"][0].clone())
        .unwrap_or_default()
}

async fn last_seq(bus: &Bus, stream: &str) -> u64 {
    bus.stream_state(stream).await.unwrap().last_seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_embedder_finishes_a_hub_run_across_a_cut_link() {
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let hub_env = server_env(0);
    let hub = Server::start(tmp.path(), "hub.conf", &["auth.conf"], &hub_env);
    let proxy = LinkProxy::start(hub.leaf);
    let leaf = Server::start(
        tmp.path(),
        "leaf.conf",
        &["edge-auth.conf"],
        &server_env(proxy.port),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_json(hub.monitor, "/leafz").and_then(|v| v["leafnodes"].as_u64()) != Some(1) {
        assert!(
            Instant::now() < deadline,
            "no leaf link:\n{}\n{}",
            hub.log(),
            leaf.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The hub: every stream but the edge's, and no embedder (its WORK is the edge's to take).
    let hub_settings = site_settings(&hub, "admin", Site::Hub);
    let services = Services::start(
        &hub_settings,
        &[Service::Ingest, Service::Clusterer, Service::Publisher],
    )
    .await;
    let hub_bus = Bus::connect(&hub_settings.bus).await.unwrap();
    // The edge: admin makes its streams; the embedder, as edge-auth.conf's `embedder`, may only
    // read them, so it starts only if its own ensure_topology finds the sourced WORK unchanged.
    let edge_admin = site_settings(&leaf, "admin", Site::Edge);
    let edge_bus = Bus::connect(&edge_admin.bus).await.unwrap();
    up::ensure_topology(&edge_bus, &edge_admin).await.unwrap();
    let embedder = Services::start(
        &site_settings(&leaf, "embedder", Site::Edge),
        &[Service::Embedder],
    )
    .await;
    for (bus, s) in [(&hub_bus, &hub_settings), (&edge_bus, &edge_admin)] {
        let again = up::ensure_topology(bus, s).await.unwrap();
        assert!(
            again.is_noop(),
            "a second ensure_topology changed {again:?}"
        );
    }
    assert!(
        hub_bus.consumer_lag("WORK", "embedder").await.is_err(),
        "the hub has an embedder consumer on WORK"
    );
    let edge_streams = edge_bus.stream_state(streams::ACQ.name).await;
    assert!(edge_streams.is_err(), "the edge has an ACQ stream");
    // The hub's EMBEDDED was made before the edge's existed: its source failed once and is
    // retried with back-off (about 12 s). Wait for it, so that the cut comes mid-run.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let waited = Instant::now();
    while !source_info(hub.monitor, "EMBEDDED")["error"].is_null() {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "the hub's EMBEDDED cannot source the edge's: {}",
            source_info(hub.monitor, "EMBEDDED")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "hub's EMBEDDED sources the edge's after {:.1} s more: {}",
        waited.elapsed().as_secs_f64(),
        source_info(hub.monitor, "EMBEDDED")
    );

    let frames: Vec<Raster> = (0..FRAMES as u64)
        .map(|i| scene_frame(SIDE, 700 + i))
        .collect();
    let inst = instrument(&hub_bus, &hub_settings);
    let start = run_start(&inst, "edge-run", WireParams::default());
    let run = start.run.clone();
    let mut stream = results(&hub_bus, &inst, &run).await;
    let published = Instant::now();
    publish_run(&inst, &start, &frames).await;
    let mut got = HashMap::new();
    // Cut the link while frames are still being embedded at the edge: once the first embedding
    // has crossed back to the hub (the link works both ways), and while the edge's embedder
    // still has batches it has not been handed. Waiting for a first result instead raced the
    // embedder, which can finish all the edge's work before the hub clusters one frame.
    let waited = Instant::now();
    let pending_at_cut = loop {
        let lag = edge_bus.consumer_lag("WORK", "embedder").await.unwrap();
        if last_seq(&hub_bus, "EMBEDDED").await > 0 && lag.num_pending >= 4 {
            break lag.num_pending;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "no moment with an embedding at the hub and work left at the edge ({lag:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "first embedding at the hub {:.1} s after publishing",
        published.elapsed().as_secs_f64()
    );
    proxy.cut();
    // What the edge stores from the cut on was embedded while cut off; what reaches the hub
    // after the messages in flight (0.5 s) came through a cut link.
    let edge_before = last_seq(&edge_bus, "EMBEDDED").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hub_before = last_seq(&hub_bus, "EMBEDDED").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (edge_after, hub_after) = (
        last_seq(&edge_bus, "EMBEDDED").await,
        last_seq(&hub_bus, "EMBEDDED").await,
    );
    eprintln!(
        "cut with {pending_at_cut} batches not yet handed to the edge's embedder; in 5.5 s cut \
         the edge embedded {} batches, the hub received {} after the first 0.5 s",
        edge_after - edge_before,
        hub_after - hub_before
    );
    assert!(
        edge_after > edge_before,
        "the edge embedder stopped while the link was cut"
    );
    assert_eq!(
        hub_after, hub_before,
        "embeddings reached the hub through a cut link"
    );

    proxy.restore();
    let restored = Instant::now();
    while last_seq(&hub_bus, "EMBEDDED").await == hub_after {
        assert!(
            restored.elapsed() < Duration::from_secs(180),
            "the hub's EMBEDDED did not resume:\n{}\n{}",
            hub.log(),
            leaf.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let resumed = restored.elapsed();
    collect_more(&mut stream, &mut got, FRAMES, Duration::from_secs(300)).await;
    let finished = restored.elapsed();
    assert_no_more(&mut stream, Duration::from_secs(3)).await;
    eprintln!(
        "link restored: the hub's EMBEDDED resumed after {:.1} s, the last result came {:.1} s \
         after the restore",
        resumed.as_secs_f64(),
        finished.as_secs_f64()
    );

    // Each chip batch crossed the link once and was embedded once: the streams drop a copy
    // that comes again (Nats-Msg-Id), so their last sequences count distinct messages.
    let batches = last_seq(&hub_bus, "WORK").await;
    let counts = [
        ("edge WORK", last_seq(&edge_bus, "WORK").await),
        ("edge EMBEDDED", last_seq(&edge_bus, "EMBEDDED").await),
        ("hub EMBEDDED", last_seq(&hub_bus, "EMBEDDED").await),
    ];
    eprintln!("hub WORK {batches} batches; {counts:?}");
    for (what, n) in counts {
        assert_eq!(
            n, batches,
            "{what} stored {n} messages for {batches} batches"
        );
    }
    let stored = stored_results(&hub_bus, &inst, &run).await;
    assert_eq!(stored.len(), FRAMES, "RESULTS holds one result per frame");
    for (what, bus, stream) in [
        ("hub WORK", &hub_bus, "WORK"),
        ("edge WORK", &edge_bus, "WORK"),
        ("edge EMBEDDED", &edge_bus, "EMBEDDED"),
    ] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while bus.stream_state(stream).await.unwrap().messages > 0 {
            assert!(Instant::now() < deadline, "{what} still holds messages");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // The labels are those of `tessera segment` on the same frames.
    let params = SegmentParams::default();
    let mut enc = deployed_encoder(MODEL, params.chip);
    for (seq, raster) in frames.iter().enumerate() {
        let (_, reference) = segment(&mut enc, raster, &params).unwrap();
        let ours = result_labels(&hub_bus, &got[&(seq as u64)]).await;
        renaming(&reference.labels, &ours)
            .unwrap_or_else(|e| panic!("frame {seq}: labels differ from tessera segment: {e}"));
    }
    assert!(services.is_running() && embedder.is_running());
    embedder.stop().await.unwrap();
    services.stop().await.unwrap();
    eprintln!("edge test: {:.1} s in all", t0.elapsed().as_secs_f64());
}
