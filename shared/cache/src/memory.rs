//! The in-process backend: an LRU bounded by bytes (keys, values and a fixed per-entry
//! overhead), behind one mutex that is never held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::key::ChipKey;
use crate::stats::Counters;

/// Bytes charged per entry on top of its key and samples: map and index nodes, `Vec`
/// and `Arc` headers. An estimate; it only has to keep the bound honest.
const ENTRY_OVERHEAD: usize = 96;

/// The in-process LRU.
pub(crate) struct MemoryCache {
    capacity: usize,
    lru: Mutex<Lru>,
}

#[derive(Default)]
struct Lru {
    /// Key → (samples, last-use tick).
    map: HashMap<Arc<str>, (Vec<f32>, u64)>,
    /// Last-use tick → key; the first entry is the least recently used.
    order: BTreeMap<u64, Arc<str>>,
    bytes: usize,
    tick: u64,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lru = self.lock();
        f.debug_struct("MemoryCache")
            .field("capacity", &self.capacity)
            .field("bytes", &lru.bytes)
            .field("entries", &lru.map.len())
            .finish()
    }
}

fn cost(key: &str, samples: usize) -> usize {
    key.len() + samples * 4 + ENTRY_OVERHEAD
}

impl MemoryCache {
    /// An empty cache holding at most `capacity` bytes.
    pub(crate) fn new(capacity: u64) -> Self {
        Self {
            capacity: usize::try_from(capacity).unwrap_or(usize::MAX),
            lru: Mutex::new(Lru::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Lru> {
        // A panic while holding the lock cannot leave the LRU half-updated in a way that
        // matters more than losing the cache, so carry on with it.
        self.lru.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes currently held.
    pub(crate) fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Looks up each key; a hit becomes the most recently used.
    pub(crate) fn get_many(
        &self,
        keys: &[ChipKey],
        dim: usize,
        counters: &Counters,
    ) -> Vec<Option<Vec<f32>>> {
        let mut lru = self.lock();
        let (mut hits, mut corrupt) = (0, 0);
        let out: Vec<_> = keys
            .iter()
            .map(|k| {
                let found = lru.touch(k.as_str())?;
                if found.len() == dim {
                    hits += 1;
                    Some(found.clone())
                } else {
                    corrupt += 1;
                    None
                }
            })
            .collect();
        drop(lru);
        Counters::add(&counters.hits, hits);
        Counters::add(&counters.misses, keys.len() - hits);
        Counters::add(&counters.corrupt, corrupt);
        out
    }

    /// Inserts or replaces each entry, then evicts least-recently-used entries until the
    /// cache fits its budget. An entry larger than the whole budget is not stored.
    pub(crate) fn put_many(&self, entries: &[(ChipKey, &[f32])], counters: &Counters) {
        let mut lru = self.lock();
        let (mut writes, mut evictions) = (0, 0);
        for (key, values) in entries {
            let c = cost(key.as_str(), values.len());
            if c > self.capacity {
                continue;
            }
            lru.remove(key.as_str());
            lru.tick += 1;
            let (tick, k): (u64, Arc<str>) = (lru.tick, key.as_str().into());
            lru.order.insert(tick, k.clone());
            lru.map.insert(k, (values.to_vec(), tick));
            lru.bytes += c;
            writes += 1;
            while lru.bytes > self.capacity {
                let Some((_, oldest)) = lru.order.pop_first() else {
                    break;
                };
                if let Some((v, _)) = lru.map.remove(&oldest) {
                    lru.bytes -= cost(&oldest, v.len());
                    evictions += 1;
                }
            }
        }
        drop(lru);
        Counters::add(&counters.writes, writes);
        Counters::add(&counters.evictions, evictions);
    }
}

impl Lru {
    /// The entry's samples, marked as just used.
    fn touch(&mut self, key: &str) -> Option<&Vec<f32>> {
        self.tick += 1;
        let tick = self.tick;
        let (k, (_, last)) = self.map.get_key_value(key)?;
        let k = k.clone();
        let last = *last;
        self.order.remove(&last);
        self.order.insert(tick, k);
        let entry = self.map.get_mut(key)?;
        entry.1 = tick;
        Some(&entry.0)
    }

    fn remove(&mut self, key: &str) {
        if let Some((k, (v, tick))) = self.map.remove_entry(key) {
            self.order.remove(&tick);
            self.bytes -= cost(&k, v.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> ChipKey {
        ChipKey::new("m", &[i as f32], 1)
    }

    #[test]
    fn evicts_least_recently_used() {
        let per = cost(key(0).as_str(), 4);
        let cache = MemoryCache::new((per * 3) as u64);
        let c = Counters::default();
        let v = [1.0f32; 4];
        cache.put_many(&[(key(0), &v), (key(1), &v), (key(2), &v)], &c);
        // Use 0, so 1 is the oldest when 3 arrives.
        assert!(cache.get_many(&[key(0)], 4, &c)[0].is_some());
        cache.put_many(&[(key(3), &v)], &c);
        let got = cache.get_many(&[key(0), key(1), key(2), key(3)], 4, &c);
        let present: Vec<bool> = got.iter().map(Option::is_some).collect();
        assert_eq!(present, [true, false, true, true]);
        assert_eq!(cache.bytes(), per * 3);
    }

    #[test]
    fn replacing_an_entry_keeps_the_byte_count() {
        let cache = MemoryCache::new(1 << 20);
        let c = Counters::default();
        cache.put_many(&[(key(0), &[1.0; 8])], &c);
        cache.put_many(&[(key(0), &[2.0; 2])], &c);
        assert_eq!(cache.bytes(), cost(key(0).as_str(), 2));
        assert_eq!(cache.get_many(&[key(0)], 2, &c)[0], Some(vec![2.0; 2]));
        assert_eq!(cache.get_many(&[key(0)], 8, &c)[0], None);
    }

    #[test]
    fn oversized_entries_are_skipped() {
        let cache = MemoryCache::new(100);
        let c = Counters::default();
        cache.put_many(&[(key(0), &[0.0; 1000])], &c);
        assert_eq!(cache.bytes(), 0);
    }
}
