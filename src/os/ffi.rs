//! Raw-pointer primitives for the C API (`embed::capi`): the only places
//! where a pointer from C is read, written or turned back into the Rust
//! object it came from. Each trusts the C caller to keep the contract the
//! header (`src/embed/lunatic.h`) states: pointers are null or valid for
//! the given length, handles come from this library and are freed once.
//! Null pointers are checked here and reported as `None`.

use std::ffi::{c_char, c_void, CStr};

/// `len` bytes at `ptr`; an empty slice for a zero length (even if null).
pub(crate) fn bytes<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null, and the header requires `len` readable bytes at
    // `ptr` that stay unchanged for the duration of the call.
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// `len` writable bytes at `ptr`.
pub(crate) fn bytes_mut<'a>(ptr: *mut u8, len: usize) -> Option<&'a mut [u8]> {
    if len == 0 {
        return Some(&mut []);
    }
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null, and the header requires `len` writable bytes at
    // `ptr`, not aliased during the call.
    Some(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// `len` values at `ptr` (for arrays of arguments).
pub(crate) fn slice<'a, T>(ptr: *const T, len: usize) -> Option<&'a [T]> {
    if len == 0 {
        return Some(&[]);
    }
    if ptr.is_null() || !ptr.is_aligned() {
        return None;
    }
    // SAFETY: non-null and aligned (checked), and the header requires `len`
    // initialised values at `ptr` for the duration of the call.
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A NUL-terminated UTF-8 string.
pub(crate) fn text<'a>(ptr: *const c_char) -> Option<&'a str> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null, and the header requires a NUL-terminated string
    // that stays unchanged for the duration of the call.
    unsafe { CStr::from_ptr(ptr) }.to_str().ok()
}

/// Stores `value` through an out-pointer; false if it is null or
/// misaligned. A null out-pointer is allowed where the header says the
/// result is optional.
pub(crate) fn write<T>(ptr: *mut T, value: T) -> bool {
    if ptr.is_null() || !ptr.is_aligned() {
        return false;
    }
    // SAFETY: non-null and aligned (checked); the header requires it to
    // point to writable storage for a `T`. `write` does not read or drop
    // the old contents, which may be uninitialised.
    unsafe { ptr.write(value) };
    true
}

/// A handle the library gave out, borrowed for the duration of a call.
pub(crate) fn handle<'a, T>(ptr: *const T) -> Option<&'a T> {
    if ptr.is_null() || !ptr.is_aligned() {
        return None;
    }
    // SAFETY: handles come from `Box::into_raw` in this library (the
    // header's contract), and are not freed while a call uses them.
    Some(unsafe { &*ptr })
}

/// A handle the library gave out, borrowed mutably for one call.
pub(crate) fn handle_mut<'a, T>(ptr: *mut T) -> Option<&'a mut T> {
    if ptr.is_null() || !ptr.is_aligned() {
        return None;
    }
    // SAFETY: as for `handle`; the header forbids using one handle from
    // two threads at once, so the borrow is unique.
    Some(unsafe { &mut *ptr })
}

/// Takes back ownership of a handle (to free it); `None` for null.
pub(crate) fn take<T>(ptr: *mut T) -> Option<Box<T>> {
    if ptr.is_null() || !ptr.is_aligned() {
        return None;
    }
    // SAFETY: the handle came from `Box::into_raw` in this library and the
    // header says each is freed once and never used afterwards.
    Some(unsafe { Box::from_raw(ptr) })
}

/// The C caller's `user_data` pointer, carried to the threads that run
/// its callbacks.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut c_void);

// SAFETY: the runtime never dereferences it; it only hands it back to the
// C callback, which the header requires to be callable with it from any
// thread.
unsafe impl Send for UserData {}
// SAFETY: as for `Send`: shared only to be passed back to C.
unsafe impl Sync for UserData {}
