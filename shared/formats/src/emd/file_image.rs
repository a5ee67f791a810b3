//! Opens an HDF5 file held in memory, through HDF5's file-image API (`H5Pset_file_image`
//! with the core driver), so that the reader never writes the bytes to disk. This is the one
//! place in the crate that calls the C library directly: `hdf5-metno` does not wrap the
//! file-image call (its `file_access.rs` lists it as unsupported).
//!
//! Facts relied on (HDF5 1.10 sources, `H5Pfapl.c` and `H5FDcore.c`, and the "HDF5 File
//! Image Operations" guide): `H5Pset_file_image` without callbacks copies the buffer into
//! the property list; `H5Fopen` with the core driver copies the property list's image into
//! the driver's own memory. Before it does, the core driver calls `open(name)` on the disk
//! and fails if a file of that name exists, and it tells open files apart by name, so every
//! image gets a fresh name under `/dev/null/`, a path that cannot exist because `/dev/null`
//! is not a directory.

use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicU64, Ordering};

use hdf5_metno::File;
use hdf5_metno::plist::FileAccess;

/// Counter that gives each opened image its own name.
static NEXT_IMAGE: AtomicU64 = AtomicU64::new(0);

/// Opens `bytes` (a whole HDF5 file) read-only in memory. The bytes are copied by HDF5, so
/// the returned file does not borrow them. Costs about twice the file's size in memory while
/// it is open.
pub(super) fn open(bytes: &[u8]) -> hdf5_metno::Result<File> {
    // Core driver without a backing store: nothing is read from or written to disk.
    let fapl = FileAccess::build().core_filebacked(false).finish()?;
    let n = NEXT_IMAGE.fetch_add(1, Ordering::Relaxed);
    let name = CString::new(format!("/dev/null/tessera-hdf5-image-{n}"))
        .map_err(|e| hdf5_metno::Error::from(e.to_string()))?;
    open_image(bytes, &fapl, &name)
}

/// Hands `bytes` to HDF5 as the initial image of a core-driver file and opens it read-only.
#[allow(unsafe_code)]
fn open_image(bytes: &[u8], fapl: &FileAccess, name: &CStr) -> hdf5_metno::Result<File> {
    use hdf5_metno_sys::h5f::{H5F_ACC_RDONLY, H5Fopen};
    use hdf5_metno_sys::h5p::H5Pset_file_image;

    if bytes.is_empty() {
        return Err("an empty buffer is not an HDF5 file".into());
    }
    // Every call into libhdf5 holds the lock that hdf5-metno holds for its own calls (the
    // system library is not built thread-safe).
    let _guard = hdf5_metno_sys::LOCK.lock();
    // SAFETY: `fapl` is a live file-access property list owned by `fapl` for the whole
    // call. `bytes` is a valid, initialised slice of `bytes.len()` bytes that outlives both
    // calls; the pointer is `*mut` only because of the C prototype: with no file-image
    // callbacks set (we set none), `H5Pset_file_image` only reads it, copying the bytes into
    // the property list before it returns, and nothing keeps the pointer afterwards. `name`
    // is a NUL-terminated C string that lives across `H5Fopen`, which copies it.
    // `H5F_ACC_RDONLY` opens the copy read-only; the core driver works on its own copy,
    // so no later HDF5 call can touch `bytes`.
    let id = unsafe {
        if H5Pset_file_image(fapl.id(), bytes.as_ptr().cast_mut().cast(), bytes.len()) < 0 {
            return Err(hdf5_metno::Error::query().unwrap_or_else(|e| e));
        }
        H5Fopen(name.as_ptr(), H5F_ACC_RDONLY, fapl.id())
    };
    if id < 0 {
        return Err(hdf5_metno::Error::query().unwrap_or_else(|e| e));
    }
    // SAFETY: `id` was just returned by `H5Fopen`, so it is a valid file identifier whose
    // reference count (1) nobody else holds; `from_id` takes that one reference over and
    // the returned `File` closes it when dropped.
    unsafe { hdf5_metno::from_id::<File>(id) }
}
