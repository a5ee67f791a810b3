//! The Redis backend against a real redis-server: hits, TTL, pipelining, corrupt values,
//! and an outage in the middle of use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use common::{Logs, bounded, chips, entries, raw, redis_config, wait_recovered};
use redis::AsyncCommands;
use tessera_cache::{CacheConfig, CacheError, EmbeddingCache};
use tessera_testkit::RedisServer;

#[tokio::test]
async fn miss_then_bit_identical_hit_with_ttl() {
    bounded(async {
        let server = RedisServer::start().unwrap();
        let config = CacheConfig {
            ttl_secs: 3600,
            ..redis_config(&server.url())
        };
        let cache = EmbeddingCache::new(&config).unwrap();
        assert_eq!(cache.backend(), "redis");
        assert!(cache.ping().await);
        let (keys, mut values) = chips(20, 64);
        values[0][3] = f32::from_bits(0x7fc0_0abc); // a NaN payload must survive too
        values[0][4] = -0.0;

        assert!(cache.get_many(&keys, 64).await.iter().all(Option::is_none));
        cache.put_many(&entries(&keys, &values)).await;
        let got = cache.get_many(&keys, 64).await;
        for (g, v) in got.iter().zip(&values) {
            let g = g.as_ref().expect("hit after put");
            assert!(g.iter().zip(v).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
        let s = cache.stats();
        assert_eq!((s.hits, s.misses, s.writes, s.errors), (20, 20, 20, 0));
        assert!(!s.degraded);

        let mut conn = raw(&server.url()).await;
        let ttl: i64 = conn.ttl(keys[0].as_str()).await.unwrap();
        assert!((3590..=3600).contains(&ttl), "TTL {ttl}");
    })
    .await;
}

#[tokio::test]
async fn two_thousand_keys_in_one_call() {
    bounded(async {
        let server = RedisServer::start().unwrap();
        let cache = EmbeddingCache::new(&redis_config(&server.url())).unwrap();
        let dim = 256;
        let (keys, values) = chips(2000, dim);
        let e = entries(&keys, &values);
        cache.ping().await; // connect outside the timings

        let t = Instant::now();
        let cold = cache.get_many(&keys, dim).await;
        let get_cold = t.elapsed();
        let t = Instant::now();
        cache.put_many(&e).await;
        let put = t.elapsed();
        let t = Instant::now();
        let warm = cache.get_many(&keys, dim).await;
        let get_warm = t.elapsed();

        assert!(cold.iter().all(Option::is_none));
        assert!(warm.iter().zip(&values).all(|(g, v)| g.as_ref() == Some(v)));
        assert_eq!(cache.stats().writes, 2000);
        println!(
            "2000 keys × {dim} f32: get (all miss) {get_cold:?}, put_many {put:?}, \
             get_many (all hit) {get_warm:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn corrupt_or_wrong_width_values_are_misses() {
    bounded(async {
        let server = RedisServer::start().unwrap();
        let cache = EmbeddingCache::new(&redis_config(&server.url())).unwrap();
        let (keys, values) = chips(3, 8);
        cache.put_many(&entries(&keys[..1], &values[..1])).await;
        let mut conn = raw(&server.url()).await;
        let _: () = conn
            .set(keys[1].as_str(), b"not an embedding")
            .await
            .unwrap();

        // keys[0] asked with the wrong width, keys[1] corrupt, keys[2] absent.
        let got = cache.get_many(&keys, 16).await;
        assert!(got.iter().all(Option::is_none));
        let s = cache.stats();
        assert_eq!((s.hits, s.misses, s.corrupt, s.errors), (0, 3, 2, 0));
        assert!(!s.degraded);
        // Right width: a hit.
        assert_eq!(
            cache.get_many(&keys[..1], 8).await[0].as_ref(),
            Some(&values[0])
        );
    })
    .await;
}

#[tokio::test]
async fn key_prefix_namespaces_the_keys() {
    bounded(async {
        let server = RedisServer::start().unwrap();
        let config = CacheConfig {
            key_prefix: "lab-a:".into(),
            ..redis_config(&server.url())
        };
        let cache = EmbeddingCache::new(&config).unwrap();
        let (keys, values) = chips(1, 4);
        cache.put_many(&entries(&keys, &values)).await;
        let mut conn = raw(&server.url()).await;
        let n: u32 = conn.exists(format!("lab-a:{}", keys[0])).await.unwrap();
        assert_eq!(n, 1);
        assert!(cache.get_many(&keys, 4).await[0].is_some());
    })
    .await;
}

/// Redis killed mid-use: misses, dropped writes, one warning; started again on the same
/// port: one info line, then hits again.
#[tokio::test]
async fn degrades_when_killed_and_recovers_when_restarted() {
    let (logs, _guard) = Logs::capture();
    bounded(async {
        let mut server = RedisServer::start().unwrap();
        let cache = EmbeddingCache::new(&redis_config(&server.url())).unwrap();
        let (keys, values) = chips(50, 32);
        cache.put_many(&entries(&keys, &values)).await;
        assert!(cache.get_many(&keys, 32).await.iter().all(Option::is_some));

        server.stop();
        let t = Instant::now();
        for _ in 0..5 {
            assert!(cache.get_many(&keys, 32).await.iter().all(Option::is_none));
            cache.put_many(&entries(&keys, &values)).await; // must not fail or panic
        }
        assert!(!cache.ping().await);
        let outage_calls = t.elapsed();
        let s = cache.stats();
        assert!(s.degraded && s.errors >= 1, "{s:?}");
        assert_eq!(s.writes, 50, "writes while down are dropped");
        println!("5 get+put rounds against a dead Redis took {outage_calls:?}");

        server.start_again().unwrap();
        let waited = wait_recovered(&cache).await;
        println!("recovered {waited:?} after the restart");
        // The restarted server has no data: misses, then hits after new puts.
        assert!(cache.get_many(&keys, 32).await.iter().all(Option::is_none));
        cache.put_many(&entries(&keys, &values)).await;
        assert!(cache.get_many(&keys, 32).await.iter().all(Option::is_some));
        assert!(cache.ping().await);
        assert!(!cache.stats().degraded);
    })
    .await;
    let text = logs.text();
    assert_eq!(logs.count("WARN", "is unreachable"), 1, "{text}");
    assert_eq!(logs.count("INFO", "reachable again"), 1, "{text}");
    assert!(
        text.contains("embedding without the cache until it comes back"),
        "{text}"
    );
}

#[tokio::test]
async fn down_at_start_up_is_not_fatal() {
    bounded(async {
        let mut server = RedisServer::start().unwrap();
        server.stop();
        let cache = EmbeddingCache::new(&redis_config(&server.url())).unwrap();
        let (keys, values) = chips(4, 8);
        assert!(cache.get_many(&keys, 8).await.iter().all(Option::is_none));
        assert!(cache.stats().degraded);
        server.start_again().unwrap();
        wait_recovered(&cache).await;
        cache.put_many(&entries(&keys, &values)).await;
        assert!(cache.get_many(&keys, 8).await.iter().all(Option::is_some));
    })
    .await;
}

#[test]
fn bad_configuration_is_an_error_that_names_the_fix() {
    let bad = |url: &str| {
        let config = CacheConfig {
            url: Some(url.into()),
            ..CacheConfig::default()
        };
        EmbeddingCache::new(&config).unwrap_err()
    };
    for url in [
        "",
        "http://127.0.0.1:6379/",
        "redis://:hunter2@127.0.0.1:notaport/",
    ] {
        let e = bad(url);
        let text = format!("{e} {e:?}");
        assert!(matches!(e, CacheError::InvalidUrl { .. }), "{text}");
        assert!(text.contains("leave cache.url unset"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        println!("{e}");
    }
    let zero_ttl = CacheConfig {
        ttl_secs: 0,
        ..CacheConfig::default()
    };
    let e = EmbeddingCache::new(&zero_ttl).unwrap_err();
    assert!(e.to_string().contains("ttl_secs"), "{e}");
}
