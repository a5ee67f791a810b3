//! Access to the dashboard against a real nats-server: the token, read-only serving, clear
//! replies to bad paths, assets with nothing from the internet, and a clean stop while a
//! live stream is open.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use tessera_bus::{Bus, BusConfig};
use tessera_dashboard::{Dashboard, DashboardError, serve_on};
use tessera_protocol::streams;
use tessera_settings::DashboardSettings;
use tessera_testkit::{NatsServer, http::request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "t0ken-for-tests-0123";

/// A nats-server with room for the streams' limits, as the services need.
fn nats() -> NatsServer {
    NatsServer::builder()
        .config("max_payload: 8MB")
        .jetstream("max_file_store: 1TB")
        .start()
        .unwrap()
}

async fn bus(nats: &NatsServer) -> Bus {
    let bus = Bus::connect(&BusConfig::new(nats.url())).await.unwrap();
    bus.ensure_topology(
        &streams::STREAMS,
        &streams::CONSUMERS,
        &streams::KV_BUCKETS,
        &streams::OBJECT_STORES,
    )
    .await
    .unwrap();
    bus
}

fn settings(bind: &str, token: Option<&str>) -> DashboardSettings {
    DashboardSettings {
        bind: bind.into(),
        token: token.map(Into::into),
        ..DashboardSettings::default()
    }
}

async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let reply = request(addr, "GET", path, headers).await.unwrap();
    (reply.status, reply.text())
}

#[tokio::test]
async fn the_token_is_required_only_get_is_served_and_bad_paths_are_explained() {
    let nats = nats();
    let bus = bus(&nats).await;
    let (dash, closer) = Dashboard::new(bus, &settings("127.0.0.1:0", Some(TOKEN))).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(dash, closer, listener, async {
        let _ = stopped.await;
    }));

    // Refused without the token, or with a wrong one, with a reply that says what to do.
    let bearer = format!("Bearer {TOKEN}");
    for (path, headers) in [
        ("/", vec![]),
        ("/api/runs", vec![]),
        ("/api/runs?token=wrong-token-0123456", vec![]),
        (
            "/api/runs",
            vec![("Authorization", "Bearer wrong-token-0123456")],
        ),
        ("/assets/app.js", vec![]),
    ] {
        let reply = request(addr, "GET", path, &headers).await.unwrap();
        assert_eq!(reply.status, 401, "{path} {headers:?}");
        assert!(reply.text().contains("?token="), "{}", reply.text());
        assert!(reply.header("www-authenticate").is_some());
    }
    // Health probes need no token.
    assert_eq!(get(addr, "/healthz", &[]).await, (200, "ok\n".into()));
    // With the token, in a header or the query.
    assert_eq!(
        get(addr, "/api/runs", &[("Authorization", &bearer)]).await,
        (200, "[]".into())
    );
    let q = |path: &str| format!("{path}?token={TOKEN}");
    // A page opened with ?token= gets a cookie that lets its own requests through.
    let page = request(addr, "GET", &q("/"), &[]).await.unwrap();
    assert_eq!(page.status, 200);
    let cookie = page.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap();
    assert_eq!(
        get(addr, "/assets/app.js", &[("Cookie", cookie)]).await.0,
        200
    );
    let wrong = "tessera_token=wrong-token-0123456";
    assert_eq!(
        get(addr, "/assets/app.js", &[("Cookie", wrong)]).await.0,
        401
    );
    // Reads, and labels only; with no write token set, no labels either.
    let post = request(addr, "POST", &q("/api/runs"), &[]).await.unwrap();
    assert_eq!(post.status, 405);
    assert!(post.text().contains("only labels"), "{}", post.text());
    let put = request(addr, "PUT", &q("/api/runs/r"), &[]).await.unwrap();
    assert_eq!(put.status, 405);
    let bearer = format!("Bearer {TOKEN}");
    let label = request(
        addr,
        "POST",
        "/api/runs/r/classes",
        &[("Authorization", bearer.as_str())],
    )
    .await
    .unwrap();
    assert_eq!(label.status, 403);
    assert!(
        label.text().contains("dashboard.write_token"),
        "{}",
        label.text()
    );

    // Bad paths get a status and a sentence.
    let (status, text) = get(addr, &q("/api/runs/no..such"), &[]).await;
    assert_eq!(status, 400, "{text}");
    let (status, text) = get(addr, &q("/api/runs/never-ran"), &[]).await;
    assert_eq!(status, 404);
    assert!(text.contains("never-ran"), "{text}");
    assert_eq!(
        get(addr, &q("/api/runs/never-ran/frames"), &[]).await,
        (200, "[]".into())
    );
    let (status, text) = get(addr, &q("/api/runs/never-ran/frames/3/x.bin"), &[]).await;
    assert_eq!(status, 404);
    assert!(text.contains("overlay.png"), "{text}");
    let (status, text) = get(addr, &q("/api/runs/never-ran/frames/3/overlay.png"), &[]).await;
    assert_eq!(status, 404, "{text}");
    let (status, _) = get(addr, &q("/api/runs/never-ran/frames/x/overlay.png"), &[]).await;
    assert_eq!(status, 400);
    assert_eq!(
        get(addr, &q("/api/runs/never-ran/fractions.csv"), &[]).await,
        (200, "seq,timestamp_ms,dose\n".into())
    );

    // The page and its assets load nothing from the internet.
    for path in [
        "/",
        "/runs/r1",
        "/assets/app.js",
        "/assets/charts.js",
        "/assets/style.css",
    ] {
        let (status, body) = get(addr, &q(path), &[]).await;
        assert_eq!(status, 200, "{path}");
        for external in [
            "src=\"http",
            "href=\"http",
            "url(http",
            "import(",
            "https://",
        ] {
            assert!(!body.contains(external), "{path} refers to {external}");
        }
    }

    // A live stream is open when the server is told to stop: it still stops.
    let mut sse = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET /api/runs/never-ran/events HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer}\r\n\r\n"
    );
    sse.write_all(head.as_bytes()).await.unwrap();
    let mut first = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), sse.read(&mut first))
        .await
        .unwrap()
        .unwrap();
    let first = String::from_utf8_lossy(&first[..n]).into_owned();
    assert!(first.contains("text/event-stream"), "{first}");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops while a live stream is open")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn serving_beyond_loopback_without_a_token_is_refused() {
    let nats = NatsServer::start().unwrap();
    let bus = Bus::connect(&BusConfig::new(nats.url())).await.unwrap();
    let err = Dashboard::new(bus.clone(), &settings("0.0.0.0:0", None))
        .err()
        .unwrap();
    assert!(matches!(err, DashboardError::Settings(_)), "{err}");
    assert!(
        err.to_string().contains("TESSERA__DASHBOARD__TOKEN"),
        "{err}"
    );
    assert!(Dashboard::new(bus, &settings("0.0.0.0:0", Some(TOKEN))).is_ok());
}
