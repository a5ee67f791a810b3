//! Opens an HDF5 file held in memory, through libhdf5's file-image API (`H5Pset_file_image`
//! with the core driver), so that the reader never writes the bytes to disk and never copies
//! them. This is the one place in the crate that calls the C library directly: `hdf5-metno`
//! does not wrap the file-image calls (its `file_access.rs` lists them as unsupported).
//!
//! Facts relied on (HDF5 1.10 sources `H5Pfapl.c`, `H5FDcore.c` and `hl/src/H5LT.c`, and the
//! "HDF5 File Image Operations" guide):
//! - Without callbacks, libhdf5 copies the image twice (into the property list, then into
//!   the core driver). With file-image callbacks it allocates and copies through them
//!   instead: callbacks whose "allocation" returns the caller's buffer and whose "copy" of
//!   that buffer onto itself does nothing make every copy the caller's own bytes. This is how
//!   `H5LTopen_file_image` implements its `H5LT_FILE_IMAGE_DONT_COPY` flag.
//! - A file opened read-only (`H5F_ACC_RDONLY`) is never written: the core driver only
//!   `memcpy`s out of its memory, and a missing `image_realloc` callback would make any
//!   attempt to grow it fail.
//! - With the "strong" close degree, closing the file closes every object still open in it,
//!   and the core driver then releases its memory through `image_free` (here: nothing to do).
//! - Before reading the image the core driver calls `open(name)` on the disk and fails if such
//!   a file exists, and it tells open files apart by name, so every image gets a fresh name
//!   under `/dev/null/`, a path that cannot exist because `/dev/null` is not a directory.

use std::ffi::{CStr, CString, c_void};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use hdf5_metno::file::FileCloseDegree;
use hdf5_metno::plist::FileAccess;
use hdf5_metno::{File, Group};
use hdf5_metno_sys::h5::herr_t;
use hdf5_metno_sys::h5fd::{H5FD_file_image_callbacks_t, H5FD_file_image_op_t};

/// Counter that gives each opened image its own name.
static NEXT_IMAGE: AtomicU64 = AtomicU64::new(0);

/// An HDF5 file whose contents are the borrowed bytes `'a`, and its root group.
///
/// The file's own handle stays private, and the root is opened as a group of its own, so no
/// other reference to the file's identifier exists (the one way to make one, `Location::file`,
/// is not used in this module). Dropping this closes that last reference; with the strong
/// close degree libhdf5 then closes every object still open in the file (handles held
/// elsewhere become invalid: using them is an error, not a read of the bytes) and the file
/// itself, so libhdf5 never touches the bytes after the borrow ends.
pub(super) struct ImageFile<'a> {
    /// `/`, opened as its own group. Dropped before `file` (field order).
    root: Group,
    /// The file.
    file: File,
    _bytes: PhantomData<&'a [u8]>,
}

impl ImageFile<'_> {
    /// The root group.
    pub(super) fn root(&self) -> &Group {
        &self.root
    }
}

impl Drop for ImageFile<'_> {
    fn drop(&mut self) {
        // The bytes may be freed once this returns, so the file must close now: that needs
        // our reference to the file to be its only one. A second one can only come from a
        // programming error in this module (a `Location::file` call kept alive), never from
        // the data; rather than let libhdf5 keep the borrowed pointer, stop the process.
        if self.file.refcount() > 1 {
            eprintln!("tessera-formats: an HDF5 file image outlived its bytes; aborting");
            std::process::abort();
        }
    }
}

/// Opens `bytes` (a whole HDF5 file) read-only, in place.
pub(super) fn open(bytes: &[u8]) -> hdf5_metno::Result<ImageFile<'_>> {
    if bytes.is_empty() {
        return Err("an empty buffer is not an HDF5 file".into());
    }
    // Core driver without a backing store: nothing is read from or written to disk.
    let fapl = FileAccess::build()
        .core_filebacked(false)
        .fclose_degree(FileCloseDegree::Strong)
        .finish()?;
    let n = NEXT_IMAGE.fetch_add(1, Ordering::Relaxed);
    let name = CString::new(format!("/dev/null/tessera-hdf5-image-{n}"))
        .map_err(|e| hdf5_metno::Error::from(e.to_string()))?;
    let file = open_image(bytes, &fapl, &name)?;
    let root = file.group("/")?;
    Ok(ImageFile {
        root,
        file,
        _bytes: PhantomData,
    })
}

// The callbacks: `udata` is the start of the caller's bytes, and none of them dereferences
// anything.

/// "Allocates" the image: hands back the caller's bytes (libhdf5 asks only for the image's
/// own size).
extern "C" fn image_malloc(
    _size: usize,
    _op: H5FD_file_image_op_t,
    udata: *mut c_void,
) -> *mut c_void {
    udata
}

/// "Copies" the image: only the copy of the caller's bytes onto themselves is allowed, and it
/// has nothing to do; any other copy fails.
extern "C" fn image_memcpy(
    dest: *mut c_void,
    src: *const c_void,
    _size: usize,
    _op: H5FD_file_image_op_t,
    _udata: *mut c_void,
) -> *mut c_void {
    if dest.cast_const() == src {
        dest
    } else {
        std::ptr::null_mut()
    }
}

/// "Frees" the image: the caller owns the bytes.
extern "C" fn image_free(
    _ptr: *mut c_void,
    _op: H5FD_file_image_op_t,
    _udata: *mut c_void,
) -> herr_t {
    0
}

/// Copies `udata` (a pointer, shared).
extern "C" fn udata_copy(udata: *mut c_void) -> *mut c_void {
    udata
}

/// Frees `udata`: nothing to free.
extern "C" fn udata_free(_udata: *mut c_void) -> herr_t {
    0
}

/// Sets `bytes` as the image of a core-driver file, without copies, and opens it read-only.
#[allow(unsafe_code)]
fn open_image(bytes: &[u8], fapl: &FileAccess, name: &CStr) -> hdf5_metno::Result<File> {
    use hdf5_metno_sys::h5f::{H5F_ACC_RDONLY, H5Fopen};
    use hdf5_metno_sys::h5p::{H5Pset_file_image, H5Pset_file_image_callbacks};

    let image = bytes.as_ptr().cast_mut().cast::<c_void>();
    let mut callbacks = H5FD_file_image_callbacks_t {
        image_malloc: Some(image_malloc),
        image_memcpy: Some(image_memcpy),
        image_realloc: None,
        image_free: Some(image_free),
        udata_copy: Some(udata_copy as unsafe extern "C" fn(*mut c_void) -> *mut c_void),
        udata_free: Some(udata_free as unsafe extern "C" fn(*mut c_void) -> herr_t),
        udata: image,
    };
    // Every call into libhdf5 holds the lock that hdf5-metno holds for its own calls (the
    // system library is not built thread-safe).
    let _guard = hdf5_metno_sys::LOCK.lock();
    // SAFETY: `fapl` is a live file-access property list (core driver, strong close degree)
    // for the whole block, and `callbacks` a valid struct that libhdf5 copies. With these
    // callbacks libhdf5 never allocates, copies or frees the image: every "allocation" is
    // `bytes` itself (valid and initialised for `bytes.len()` bytes, the size passed), and
    // the only copy allowed is of `bytes` onto itself, a no-op. The pointer is `*mut` only
    // because of the C prototypes: the file is opened read-only (`H5F_ACC_RDONLY`), the core
    // driver then only reads from it, and with no realloc callback it cannot grow it, so
    // nothing writes through the shared borrow. libhdf5 keeps the pointer while the file is
    // open: the caller wraps the file in `ImageFile`, which ties it to the borrow of `bytes`
    // and closes it (strong degree: every object in it too) when dropped, before the borrow
    // ends. `name` is a NUL-terminated string that lives across `H5Fopen`, which copies it.
    let id = unsafe {
        if H5Pset_file_image_callbacks(fapl.id(), &mut callbacks) < 0
            || H5Pset_file_image(fapl.id(), image, bytes.len()) < 0
        {
            return Err(hdf5_metno::Error::query().unwrap_or_else(|e| e));
        }
        H5Fopen(name.as_ptr(), H5F_ACC_RDONLY, fapl.id())
    };
    if id < 0 {
        return Err(hdf5_metno::Error::query().unwrap_or_else(|e| e));
    }
    // SAFETY: `id` was just returned by `H5Fopen`, so it is a valid file identifier whose
    // one reference nobody else holds; `from_id` takes that reference over.
    unsafe { hdf5_metno::from_id::<File>(id) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_kept_past_the_image_are_invalidated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.h5");
        {
            let f = File::create(&path).unwrap();
            let g = f.create_group("g").unwrap();
            g.new_dataset::<u16>()
                .shape([3])
                .create("d")
                .unwrap()
                .write_raw(&[1u16, 2, 3])
                .unwrap();
        }
        let bytes = std::fs::read(&path).unwrap();
        let image = open(&bytes).unwrap();
        let kept_group = image.root().group("g").unwrap();
        let kept_root = image.root().clone();
        let ds = kept_group.dataset("d").unwrap();
        assert_eq!(ds.read_raw::<u16>().unwrap(), [1, 2, 3]);
        drop(image);
        // The file is closed with everything in it: the handles are dead, reads fail.
        assert!(!kept_group.is_valid() && !kept_root.is_valid() && !ds.is_valid());
        assert!(ds.read_raw::<u16>().is_err());
        // Opening the same bytes twice at once gives two files, not one shared.
        let a = open(&bytes).unwrap();
        let b = open(&bytes).unwrap();
        assert_ne!(a.root().id(), b.root().id());
        assert!(open(&[]).is_err());
        assert!(open(&bytes[..100]).is_err());
    }
}
