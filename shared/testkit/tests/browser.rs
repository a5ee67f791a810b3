//! The browser harness against a real headless Chromium: a page whose script changes its text
//! after 300 ms, waits that succeed and time out, a screenshot, and no browser left behind.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use tessera_testkit::Browser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PAGE: &str = r#"<!doctype html>
<html><head><title>testkit browser</title></head>
<body>
<h1 id="status">waiting</h1>
<script>
setTimeout(() => { document.getElementById("status").textContent = "ready"; }, 300);
</script>
</body></html>
"#;

/// Serves [`PAGE`] for every request on a free loopback port; returns the page's URL.
async fn serve_page() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
                    PAGE.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    url
}

/// Whether a process is alive (exists and is not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the parenthesised command name.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| !matches!(state, 'Z' | 'X'))
    })
}

/// Waits up to 10 s for `pid` to be gone.
async fn gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

#[tokio::test]
async fn waits_screenshots_and_times_out() {
    let url = serve_page().await;
    let browser = Browser::start().await.unwrap();
    let pid = browser.browser_pid().unwrap();
    assert!(alive(pid));

    browser.goto(&url).await.unwrap();
    browser
        .wait_until(
            r#"document.getElementById("status").textContent === "ready""#,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(browser.text("#status").await.unwrap(), "ready");
    assert_eq!(
        browser.eval("document.title").await.unwrap(),
        serde_json::json!("testkit browser")
    );
    browser
        .wait_for_element("h1#status", Duration::from_secs(1))
        .await
        .unwrap();

    let path = browser.screenshot("testkit-browser").await.unwrap();
    let png = std::fs::read(&path).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );

    let never = "window.neverSet === 42";
    let started = Instant::now();
    let err = browser
        .wait_until(never, Duration::from_millis(500))
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(started.elapsed() < Duration::from_secs(5), "{err}");
    assert!(err.contains(never), "{err}");
    assert!(err.contains(&url), "{err}");

    let err = browser
        .wait_for_element("#missing", Duration::from_millis(300))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("#missing"), "{err}");

    browser.close().await;
    assert!(gone(pid).await, "chromium {pid} outlived close");
}

#[tokio::test]
async fn drop_without_close_leaves_no_browser() {
    let browser = Browser::start().await.unwrap();
    let pid = browser.browser_pid().unwrap();
    assert!(alive(pid));
    drop(browser);
    assert!(gone(pid).await, "chromium {pid} outlived drop");
}

#[tokio::test]
async fn drop_kills_the_browser_when_chromedriver_is_gone() {
    let browser = Browser::start().await.unwrap();
    let pid = browser.browser_pid().unwrap();
    // Chromium's parent is chromedriver: kill it as a crash would, leaving Chromium behind.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(')').unwrap();
    let driver: i32 = rest.split_whitespace().nth(1).unwrap().parse().unwrap();
    let driver = rustix::process::Pid::from_raw(driver).unwrap();
    rustix::process::kill_process(driver, rustix::process::Signal::KILL).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(alive(pid), "chromium {pid} died with chromedriver");
    drop(browser);
    assert!(gone(pid).await, "chromium {pid} outlived drop");
}
