//! Pushing onto a vector with the value built straight into place.
//!
//! `Vec::push(v)` takes a value already built and may call the allocator before
//! storing it, so the compiler assembles enum values in a stack temporary, often
//! from narrow (byte or word) stores, and then copies the temporary with wide
//! loads. A load that spans several recent narrower stores cannot be forwarded
//! from the store buffer and stalls for about a dozen cycles: measured on every
//! VM push and every continuation frame the machine pushed.

/// `push_in_place!(vec, value)`: pushes `value` onto the vector place `vec`. All
/// inline, with the allocator call out of line, so that `value` never has its
/// address taken and is stored straight into the vector. (`Vec::push` is not
/// always inlined, and then the value goes through a temporary.)
macro_rules! push_in_place {
    ($vec:expr, $v:expr) => {{
        let v = $v;
        if $vec.len() == $vec.capacity() {
            $crate::inplace::grow(&mut $vec);
        }
        let len = $vec.len();
        // SAFETY: there is room at `len` (made just above).
        unsafe {
            $vec.as_mut_ptr().add(len).write(v);
            $vec.set_len(len + 1);
        }
    }};
}
pub(crate) use push_in_place;

/// Pushes a clone of the value `$src` (a `&Value`, which must not live in the
/// vector) onto `$vec` without building it in a temporary first.
macro_rules! push_clone {
    ($vec:expr, $src:expr) => {{
        let src: &$crate::value::Value = $src;
        if $vec.len() == $vec.capacity() {
            $crate::inplace::grow(&mut $vec);
        }
        let len = $vec.len();
        // SAFETY: there is room at `len` (made just above), and `src` is not in
        // the vector.
        unsafe {
            src.clone_to($vec.as_mut_ptr().add(len));
            $vec.set_len(len + 1);
        }
    }};
}
pub(crate) use push_clone;

/// Pushes a clone of `v[i]` onto `v` (as [`push_clone!`], for a value that lives
/// in the vector: room is made before the source is read).
///
/// # Safety
/// `i` must be below `v.len()`.
#[inline(always)]
pub(crate) unsafe fn push_clone_of(v: &mut Vec<crate::value::Value>, i: usize) {
    if v.len() == v.capacity() {
        grow(v);
    }
    let len = v.len();
    debug_assert!(i < len);
    // SAFETY: `i` is below `len` (the caller's contract) and there is room at `len`.
    unsafe {
        let p = v.as_mut_ptr();
        (*p.add(i)).clone_to(p.add(len));
        v.set_len(len + 1);
    }
}

/// Makes room for more elements (the cold path of [`push_in_place!`]).
#[cold]
#[inline(never)]
pub(crate) fn grow<T>(v: &mut Vec<T>) {
    v.reserve(v.len().max(16));
}
