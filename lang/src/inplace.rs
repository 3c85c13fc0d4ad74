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

/// Makes room for more elements (the cold path of [`push_in_place!`]).
#[cold]
#[inline(never)]
pub(crate) fn grow<T>(v: &mut Vec<T>) {
    v.reserve(v.len().max(16));
}
