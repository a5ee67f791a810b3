//! Redis with a password or an ACL user: the right credentials work, wrong ones degrade
//! to misses, and no password shows in logs, `Debug` or errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Logs, bounded, chips, entries, raw, redis_config};
use tessera_cache::{CacheConfig, EmbeddingCache};
use tessera_testkit::RedisServer;

const SERVER_PW: &str = "tessera-S3cret-admin";

#[tokio::test]
async fn right_password_works_in_the_field_or_the_url() {
    bounded(async {
        let server = RedisServer::start_with_password(SERVER_PW).unwrap();
        let (keys, values) = chips(10, 16);
        let by_field = CacheConfig {
            password: Some(SERVER_PW.into()),
            ..redis_config(&server.url_without_password())
        };
        for config in [by_field, redis_config(&server.url())] {
            let cache = EmbeddingCache::new(&config).unwrap();
            assert!(cache.ping().await);
            cache.put_many(&entries(&keys, &values)).await;
            assert!(cache.get_many(&keys, 16).await.iter().all(Option::is_some));
            assert!(!cache.stats().degraded);
            let shown = format!("{config:?} {cache:?}");
            assert!(!shown.contains(SERVER_PW), "{shown}");
        }
    })
    .await;
}

#[tokio::test]
async fn wrong_or_missing_password_degrades_without_leaking_it() {
    const WRONG: &str = "wrong-Pa55word-xyz";
    let (logs, _guard) = Logs::capture();
    bounded(async {
        let server = RedisServer::start_with_password(SERVER_PW).unwrap();
        let (keys, values) = chips(5, 8);
        let wrong_field = CacheConfig {
            password: Some(WRONG.into()),
            ..redis_config(&server.url_without_password())
        };
        let wrong_url = redis_config(&server.url().replace(SERVER_PW, WRONG));
        let missing = redis_config(&server.url_without_password());
        for config in [wrong_field, wrong_url, missing] {
            let cache = EmbeddingCache::new(&config).unwrap();
            assert!(cache.get_many(&keys, 8).await.iter().all(Option::is_none));
            cache.put_many(&entries(&keys, &values)).await;
            assert!(!cache.ping().await);
            let s = cache.stats();
            assert!(s.degraded && s.errors >= 1 && s.writes == 0, "{s:?}");
            // Let the background probe fail a few times (it logs at DEBUG).
            tokio::time::sleep(std::time::Duration::from_millis(350)).await;
            let shown = format!("{config:?} {cache:?} {s:?}");
            assert!(
                !shown.contains(WRONG) && !shown.contains(SERVER_PW),
                "{shown}"
            );
        }
    })
    .await;
    let text = logs.text();
    println!("{text}");
    assert_eq!(logs.count("WARN", "is unreachable"), 3, "{text}");
    assert!(logs.count("DEBUG", "probe failed") >= 3, "{text}");
    assert!(
        text.contains("AuthenticationFailed") && text.contains("NOAUTH"),
        "{text}"
    );
    assert_eq!(
        logs.count("WARN", "check cache.username and cache.password"),
        3,
        "{text}"
    );
    assert!(text.contains("redis://:****@127.0.0.1"), "{text}");
    assert!(!text.contains(WRONG) && !text.contains(SERVER_PW), "{text}");
}

/// Least privilege: an ACL user allowed only the cache's keys and commands.
#[tokio::test]
async fn acl_user_with_only_the_cache_commands() {
    bounded(async {
        let server = RedisServer::start_with_password(SERVER_PW).unwrap();
        let mut admin = raw(&server.url()).await;
        let _: () = redis::cmd("ACL")
            .arg(&["SETUSER", "embedder", "on", ">emb-Pw-1", "~tessera:emb:*"])
            .arg(&["+mget", "+set", "+ping"])
            .query_async(&mut admin)
            .await
            .unwrap();
        let config = CacheConfig {
            username: Some("embedder".into()),
            password: Some("emb-Pw-1".into()),
            ..redis_config(&server.url_without_password())
        };
        let cache = EmbeddingCache::new(&config).unwrap();
        let (keys, values) = chips(10, 16);
        cache.put_many(&entries(&keys, &values)).await;
        assert!(cache.get_many(&keys, 16).await.iter().all(Option::is_some));
        let s = cache.stats();
        assert!(!s.degraded && s.errors == 0, "{s:?}");
    })
    .await;
}
