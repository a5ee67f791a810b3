//! The in-process backend, and the stability of [`ChipKey`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{chips, entries};
use tessera_cache::{CacheConfig, ChipKey, EmbeddingCache};

#[tokio::test]
async fn no_url_means_an_in_process_cache_that_hits() {
    let cache = EmbeddingCache::new(&CacheConfig::default()).unwrap();
    assert_eq!(cache.backend(), "memory");
    assert!(cache.ping().await);
    let (keys, values) = chips(100, 64);
    assert!(cache.get_many(&keys, 64).await.iter().all(Option::is_none));
    cache.put_many(&entries(&keys, &values)).await;
    let got = cache.get_many(&keys, 64).await;
    assert!(got.iter().zip(&values).all(|(g, v)| g.as_ref() == Some(v)));
    assert!(
        cache.get_many(&keys[..1], 65).await[0].is_none(),
        "wrong width is a miss"
    );
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.corrupt, s.writes), (100, 101, 1, 100));
    assert!(!s.degraded && s.errors == 0);
}

#[tokio::test]
async fn the_byte_bound_holds_after_many_inserts() {
    let capacity = 1 << 20;
    let cache = EmbeddingCache::in_memory(capacity);
    let dim = 128;
    let (keys, values) = chips(10_000, dim);
    for (k, v) in keys.chunks(100).zip(values.chunks(100)) {
        cache.put_many(&entries(k, v)).await;
        assert!(cache.stats().memory_bytes <= capacity);
    }
    let s = cache.stats();
    println!("{s:?}");
    assert!(
        s.memory_bytes > capacity * 9 / 10,
        "the budget is used: {s:?}"
    );
    assert!(s.evictions > 8000, "{s:?}");
    // The newest entries stay, the oldest went.
    assert!(
        cache
            .get_many(&keys[9_900..], dim)
            .await
            .iter()
            .all(Option::is_some)
    );
    assert!(
        cache
            .get_many(&keys[..100], dim)
            .await
            .iter()
            .all(Option::is_none)
    );
}

fn fixed_chip() -> Vec<f32> {
    (0..64).map(|i| i as f32 / 7.0 - 3.0).collect()
}

#[test]
fn chip_key_is_stable() {
    // Fixed across processes, machines and releases: a change here invalidates every cache.
    // Cross-checked with Python: xxhash.xxh3_128(struct.pack("<Q", 8) + 64 × pack("<f")).
    let key = ChipKey::new("sha256:0123abcd", &fixed_chip(), 8);
    assert_eq!(
        key.as_str(),
        "tessera:emb:sha256:0123abcd:6da021b3b20f8270500bb825567f35a4"
    );
    assert_eq!(key.model_digest(), "sha256:0123abcd");
}

#[test]
fn chip_key_changes_with_any_input() {
    let chip = fixed_chip();
    let base = ChipKey::new("sha256:0123abcd", &chip, 8);
    let mut one_ulp = chip.clone();
    one_ulp[37] = f32::from_bits(one_ulp[37].to_bits() + 1);
    let mut neg_zero = chip.clone();
    neg_zero[21] = -0.0; // chip[21] is 0.0
    assert_eq!(chip[21], 0.0);
    for other in [
        ChipKey::new("sha256:0123abcd", &one_ulp, 8),
        ChipKey::new("sha256:0123abcd", &neg_zero, 8),
        ChipKey::new("sha256:0123abcd", &chip, 4),
        ChipKey::new("sha256:0123abce", &chip, 8),
        ChipKey::new("sha256:0123abcd", &chip[..63], 8),
    ] {
        assert_ne!(other, base);
        assert_ne!(other.as_str(), base.as_str());
    }
    assert_eq!(ChipKey::new("sha256:0123abcd", &chip, 8), base);
}
