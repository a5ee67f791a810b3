//! The JetStream object store: large frames and results travel by reference, as objects.
//!
//! An object is cut into chunks (512 KiB here, under the server's 1 MB `max_payload`), each
//! published and acknowledged in turn, with a SHA-256 digest that [`Bus::get_object`]
//! checks on the way back.

use async_nats::jetstream::context::ObjectStoreErrorKind;
use async_nats::jetstream::object_store::{
    DeleteErrorKind, GetErrorKind, InfoErrorKind, ObjectMetadata, ObjectStore,
};
use bytes::Bytes;
use tokio::io::AsyncReadExt;

use crate::{Bus, BusError};

/// Chunk size for puts: large enough to need few round trips, small enough for the default
/// 1 MB `max_payload`.
const CHUNK_SIZE: usize = 512 * 1024;

/// A stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The bucket.
    pub bucket: String,
    /// The object's name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// `SHA-256=<base64url>` of its content.
    pub digest: String,
}

impl Bus {
    /// Stores `data` as object `name` in `bucket`, replacing any object of that name.
    pub async fn put_object(
        &self,
        bucket: &str,
        name: &str,
        data: &[u8],
    ) -> Result<ObjectInfo, BusError> {
        let store = self.object_store(bucket).await?;
        let max_payload = self.max_payload();
        let chunk = if max_payload > 4096 {
            CHUNK_SIZE.min(max_payload - 1024)
        } else {
            CHUNK_SIZE
        };
        let meta = ObjectMetadata {
            name: name.to_string(),
            chunk_size: Some(chunk),
            ..Default::default()
        };
        let mut reader = data;
        let info = store
            .put(meta, &mut reader)
            .await
            .map_err(|e| BusError::classify(format!("storing object {bucket}/{name}"), &e))?;
        Ok(ObjectInfo {
            bucket: bucket.to_string(),
            name: info.name,
            size: info.size as u64,
            digest: info.digest.unwrap_or_default(),
        })
    }

    /// Reads object `name` of `bucket` whole, checking its digest. A missing object is a
    /// [`BusError::NotFound`] that says how long the bucket keeps objects.
    pub async fn get_object(&self, bucket: &str, name: &str) -> Result<Bytes, BusError> {
        let store = self.object_store(bucket).await?;
        let op = || format!("reading object {bucket}/{name}");
        let mut object = match store.get(name).await {
            Ok(o) => o,
            Err(e) if e.kind() == GetErrorKind::NotFound => {
                return Err(self.object_not_found(bucket, name).await);
            }
            Err(e) => return Err(BusError::classify(op(), &e)),
        };
        let mut buf = Vec::with_capacity(object.info().size);
        object
            .read_to_end(&mut buf)
            .await
            .map_err(|e| BusError::classify(op(), &e))?;
        Ok(Bytes::from(buf))
    }

    /// The object's size and digest, or `None` if there is no such object.
    pub async fn object_info(
        &self,
        bucket: &str,
        name: &str,
    ) -> Result<Option<ObjectInfo>, BusError> {
        let store = self.object_store(bucket).await?;
        match store.info(name).await {
            Ok(info) if !info.deleted => Ok(Some(ObjectInfo {
                bucket: bucket.to_string(),
                name: info.name,
                size: info.size as u64,
                digest: info.digest.unwrap_or_default(),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == InfoErrorKind::NotFound => Ok(None),
            Err(e) => Err(BusError::classify(
                format!("reading object info {bucket}/{name}"),
                &e,
            )),
        }
    }

    /// Deletes object `name` of `bucket`; deleting a missing object is not an error.
    pub async fn delete_object(&self, bucket: &str, name: &str) -> Result<(), BusError> {
        let store = self.object_store(bucket).await?;
        match store.delete(name).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == DeleteErrorKind::NotFound => Ok(()),
            Err(e) => Err(BusError::classify(
                format!("deleting object {bucket}/{name}"),
                &e,
            )),
        }
    }

    async fn object_not_found(&self, bucket: &str, name: &str) -> BusError {
        let keeps = match self.stream_config(&format!("OBJ_{bucket}")).await {
            Ok(Some(c)) if c.max_age.is_zero() => format!("{bucket} keeps objects until deleted"),
            Ok(Some(c)) => format!("{bucket} keeps objects {}", human(c.max_age.as_secs())),
            _ => format!("see {bucket}'s max age"),
        };
        BusError::NotFound(format!(
            "object {bucket}/{name} not found: it may have expired ({keeps}) or never been stored"
        ))
    }

    /// The object store handle, cached after the first use.
    pub(crate) async fn object_store(&self, bucket: &str) -> Result<ObjectStore, BusError> {
        if let Some(s) = self
            .objects
            .lock()
            .ok()
            .and_then(|m| m.get(bucket).cloned())
        {
            return Ok(s);
        }
        let store = self.js.get_object_store(bucket).await.map_err(|e| {
            if e.kind() == ObjectStoreErrorKind::GetStore && e.to_string().contains("not found") {
                BusError::NotFound(format!(
                    "object store {bucket} does not exist; ensure_topology creates it"
                ))
            } else {
                BusError::classify(format!("opening object store {bucket}"), &e)
            }
        })?;
        self.cache_objects(bucket, store.clone());
        Ok(store)
    }

    pub(crate) fn cache_objects(&self, bucket: &str, store: ObjectStore) {
        if let Ok(mut m) = self.objects.lock() {
            m.insert(bucket.to_string(), store);
        }
    }
}

/// `90 s`, `15 min`, `6 h`, `2 d`.
fn human(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 2 * 86400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_durations() {
        assert_eq!(super::human(30), "30 s");
        assert_eq!(super::human(6 * 3600), "6 h");
        assert_eq!(super::human(3 * 86400), "3 d");
    }
}
