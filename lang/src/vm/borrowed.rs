//! Uncounted references held by VM frames.
//!
//! A VM activation runs a chunk and reads its closure's frame. Both are kept alive
//! by the closure that sits in the activation's callee slot (the stack slot just
//! below its own), for exactly as long as the activation can run: the slot is
//! given up only when the activation returns, tail-calls or unwinds. So a frame
//! does not need a counted reference of its own, and counting one on every call
//! and return was a measurable share of a call's cost.
//!
//! [`Borrowed`] is that uncounted reference: an `Rc` alias that never touches the
//! count. Its only constructor is `unsafe`, with the owner as its contract.

use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::rc::Rc;

/// An alias of an `Rc<T>` that some other owner keeps alive; it reads as that
/// `Rc` (so `Rc::ptr_eq`, `Rc::as_ptr` and a counted `clone` through it work) but
/// never changes the count. Not `Clone`: a copy is made with [`Borrowed::alias`],
/// where the same contract visibly applies again.
pub(crate) struct Borrowed<T>(ManuallyDrop<Rc<T>>);

impl<T> Borrowed<T> {
    /// An uncounted alias of `rc`.
    ///
    /// # Safety
    /// Some owner must keep `rc`'s allocation alive for as long as the alias (and
    /// every alias made from it) is dereferenced. For VM frames the owner is the
    /// closure in the activation's callee slot (or, for a top-level form, the
    /// holder value in that slot).
    #[inline(always)]
    pub(crate) unsafe fn new(rc: &Rc<T>) -> Borrowed<T> {
        // SAFETY: the pointer is a live `Rc`'s; wrapped in `ManuallyDrop`, the alias
        // is never dropped, so the count it does not own is never decremented.
        Borrowed(ManuallyDrop::new(unsafe { Rc::from_raw(Rc::as_ptr(rc)) }))
    }

    /// Another alias of the same allocation, under the same contract as `self`.
    #[inline(always)]
    pub(crate) fn alias(&self) -> Borrowed<T> {
        // SAFETY: a bitwise copy of an uncounted alias is another uncounted alias;
        // the owner that keeps `self` valid keeps it valid.
        Borrowed(ManuallyDrop::new(unsafe { std::ptr::read(&*self.0) }))
    }
}

impl<T> Deref for Borrowed<T> {
    type Target = Rc<T>;

    #[inline(always)]
    fn deref(&self) -> &Rc<T> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_reads_as_the_rc_and_never_changes_its_count() {
        let owner = Rc::new(41);
        {
            // SAFETY: `owner` outlives both aliases.
            let a = unsafe { Borrowed::new(&owner) };
            let b = a.alias();
            assert_eq!(Rc::strong_count(&owner), 1);
            assert!(Rc::ptr_eq(&a, &owner) && Rc::ptr_eq(&b, &owner));
            let counted: Rc<i32> = (*b).clone();
            assert_eq!(Rc::strong_count(&owner), 2);
            drop(counted);
        }
        // The aliases went out of scope without touching the count.
        assert_eq!(Rc::strong_count(&owner), 1);
        assert_eq!(*owner, 41);
    }
}
