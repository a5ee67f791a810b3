//! JetStream key-value buckets: per-frame progress, latest results. [`Bus::kv_update`] is a
//! compare-and-set on the key's revision, for state that several processes may write.

use async_nats::jetstream::kv::{CreateErrorKind, Operation, Store, UpdateErrorKind};
use bytes::Bytes;
use futures::TryStreamExt;

use crate::{Bus, BusError};

impl Bus {
    /// The key's current value and revision, or `None` if it was never set or was deleted.
    pub async fn kv_get(&self, bucket: &str, key: &str) -> Result<Option<(Bytes, u64)>, BusError> {
        let store = self.kv_store(bucket).await?;
        let entry = store
            .entry(key)
            .await
            .map_err(|e| BusError::classify(format!("reading key {key} of bucket {bucket}"), &e))?;
        Ok(entry
            .filter(|e| e.operation == Operation::Put)
            .map(|e| (e.value, e.revision)))
    }

    /// Sets the key, whatever its revision; returns the new revision.
    pub async fn kv_put(&self, bucket: &str, key: &str, value: Bytes) -> Result<u64, BusError> {
        let store = self.kv_store(bucket).await?;
        store
            .put(key, value)
            .await
            .map_err(|e| BusError::classify(format!("writing key {key} of bucket {bucket}"), &e))
    }

    /// Sets the key only if it has no value (never set, or deleted); returns the revision.
    /// Fails with [`BusError::AlreadyExists`] otherwise.
    pub async fn kv_create(&self, bucket: &str, key: &str, value: Bytes) -> Result<u64, BusError> {
        let store = self.kv_store(bucket).await?;
        store.create(key, value).await.map_err(|e| match e.kind() {
            CreateErrorKind::AlreadyExists => BusError::AlreadyExists {
                bucket: bucket.to_string(),
                key: key.to_string(),
            },
            CreateErrorKind::InvalidKey => invalid_key(bucket, key),
            _ => BusError::classify(format!("creating key {key} of bucket {bucket}"), &e),
        })
    }

    /// Sets the key only if its revision is still `expected_revision` (compare-and-set);
    /// returns the new revision. Fails with [`BusError::Conflict`] when someone else wrote it
    /// in between.
    pub async fn kv_update(
        &self,
        bucket: &str,
        key: &str,
        value: Bytes,
        expected_revision: u64,
    ) -> Result<u64, BusError> {
        let store = self.kv_store(bucket).await?;
        store
            .update(key, value, expected_revision)
            .await
            .map_err(|e| match e.kind() {
                UpdateErrorKind::WrongLastRevision => BusError::Conflict {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    expected: expected_revision,
                },
                UpdateErrorKind::InvalidKey => invalid_key(bucket, key),
                UpdateErrorKind::TimedOut => BusError::Timeout {
                    op: format!("updating key {key} of bucket {bucket}"),
                },
                _ => BusError::classify(format!("updating key {key} of bucket {bucket}"), &e),
            })
    }

    /// Deletes the key (a delete marker; [`Bus::kv_get`] then says `None`).
    pub async fn kv_delete(&self, bucket: &str, key: &str) -> Result<(), BusError> {
        let store = self.kv_store(bucket).await?;
        store
            .delete(key)
            .await
            .map_err(|e| BusError::classify(format!("deleting key {key} of bucket {bucket}"), &e))
    }

    /// The key's kept revisions, oldest first: `(value, revision)`, a deletion as an empty
    /// value. As many as the bucket's history keeps.
    pub async fn kv_history(&self, bucket: &str, key: &str) -> Result<Vec<(Bytes, u64)>, BusError> {
        let store = self.kv_store(bucket).await?;
        let op = || format!("reading the history of key {key} of bucket {bucket}");
        let entries = store
            .history(key)
            .await
            .map_err(|e| BusError::classify(op(), &e))?;
        let entries: Vec<_> = entries
            .try_collect()
            .await
            .map_err(|e| BusError::classify(op(), &e))?;
        Ok(entries
            .into_iter()
            .map(|e| match e.operation {
                Operation::Put => (e.value, e.revision),
                _ => (Bytes::new(), e.revision),
            })
            .collect())
    }

    /// The bucket's keys that have a value.
    pub async fn kv_keys(&self, bucket: &str) -> Result<Vec<String>, BusError> {
        let store = self.kv_store(bucket).await?;
        let op = || format!("listing the keys of bucket {bucket}");
        let keys = store
            .keys()
            .await
            .map_err(|e| BusError::classify(op(), &e))?;
        keys.try_collect()
            .await
            .map_err(|e| BusError::classify(op(), &e))
    }

    /// The bucket's handle, cached after the first use.
    pub(crate) async fn kv_store(&self, bucket: &str) -> Result<Store, BusError> {
        if let Some(s) = self.kv.lock().ok().and_then(|m| m.get(bucket).cloned()) {
            return Ok(s);
        }
        let store = self.js.get_key_value(bucket).await.map_err(|e| {
            if e.to_string().contains("not found") {
                BusError::NotFound(format!(
                    "KV bucket {bucket} does not exist; ensure_topology creates it"
                ))
            } else {
                BusError::classify(format!("opening KV bucket {bucket}"), &e)
            }
        })?;
        self.cache_kv(bucket, store.clone());
        Ok(store)
    }

    pub(crate) fn cache_kv(&self, bucket: &str, store: Store) {
        if let Ok(mut m) = self.kv.lock() {
            m.insert(bucket.to_string(), store);
        }
    }
}

fn invalid_key(bucket: &str, key: &str) -> BusError {
    BusError::Invalid(format!(
        "key {key:?} is not valid in bucket {bucket}: use letters, digits, - _ / = and \
         non-leading, non-trailing dots"
    ))
}
