//! The operand stack as the VM's hot loop holds it: its buffer, height and
//! capacity in locals.
//!
//! Pushes and pops through `Vec` read and write the vector's length in memory, so
//! every stack operation of an instruction waited for the store of the one before
//! it (a store-to-load round trip of several cycles, on the critical path of every
//! instruction). The compiler cannot keep that length in a register itself: any
//! store through a value pointer (a refcount, a slot) might alias it. A
//! [`HotStack`] is a plain local, so the height lives in a register for as long as
//! the loop runs its fast paths.
//!
//! While a `HotStack` holds the values, the vector's own length is 0: the values
//! belong to the `HotStack`, and an unwinding panic would leak them rather than
//! drop them twice. [`HotStack::take`] and [`HotStack::put`] hand them over, around
//! everything that works on the vector itself.

use super::chunk::Chunk;
use crate::value::Value;

/// The operand stack's buffer, height and capacity, taken from its vector.
pub(crate) struct HotStack {
    ptr: *mut Value,
    len: usize,
    cap: usize,
}

impl HotStack {
    /// Takes the values of `stack` (which is left empty, its buffer still in place).
    #[inline(always)]
    pub(crate) fn take(stack: &mut Vec<Value>) -> HotStack {
        let h = HotStack {
            ptr: stack.as_mut_ptr(),
            len: stack.len(),
            cap: stack.capacity(),
        };
        // SAFETY: the values now belong to `h` until `put` hands them back.
        unsafe { stack.set_len(0) };
        h
    }

    /// Hands the values back to `stack`, the vector they were taken from (whose
    /// buffer has not changed since: nothing grows an empty-looking vector while the
    /// hot loop runs).
    #[inline(always)]
    pub(crate) fn put(&self, stack: &mut Vec<Value>) {
        debug_assert_eq!(stack.as_mut_ptr(), self.ptr);
        debug_assert_eq!(stack.len(), 0);
        // SAFETY: the first `len` elements of the buffer are the values, and the
        // vector's capacity is `cap`.
        unsafe { stack.set_len(self.len) };
    }

    /// The height.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The values, as a slice (for debug checks).
    pub(crate) fn as_slice(&self) -> &[Value] {
        // SAFETY: the first `len` elements are initialised values owned by `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The slot at `i`.
    ///
    /// # Safety
    /// `i` must be below the height.
    #[inline(always)]
    pub(crate) unsafe fn at(&self, i: usize) -> *mut Value {
        debug_assert!(i < self.len);
        // SAFETY: the caller's contract.
        unsafe { self.ptr.add(i) }
    }

    /// The value `k` places below the top (0: the top).
    ///
    /// # Safety
    /// The stack must hold more than `k` values.
    #[inline(always)]
    pub(crate) unsafe fn peek(&self, k: usize) -> &Value {
        debug_assert!(k < self.len);
        // SAFETY: the caller's contract.
        unsafe { &*self.ptr.add(self.len - 1 - k) }
    }

    /// Makes room for one more value, handing the values to `stack` to grow it.
    #[inline(always)]
    pub(crate) fn reserve_one(&mut self, stack: &mut Vec<Value>) {
        if self.len == self.cap {
            self.grow(stack, 1);
        }
    }

    /// Makes room for a height of `need`.
    #[inline(always)]
    pub(crate) fn reserve(&mut self, stack: &mut Vec<Value>, need: usize) {
        if self.cap < need {
            self.grow(stack, need - self.len);
        }
    }

    /// Makes room for `n` more values (the cold path of every push).
    #[inline(always)]
    pub(crate) fn grow(&mut self, stack: &mut Vec<Value>, n: usize) {
        // Out of line with only plain values crossing, so that `self` never has its
        // address taken and stays in registers.
        (self.ptr, self.cap) = grown(stack, self.len, n);
    }

    /// The free slot at the top, room made: write it, then [`HotStack::pushed`].
    #[inline(always)]
    pub(crate) fn free_slot(&mut self, stack: &mut Vec<Value>) -> *mut Value {
        self.reserve_one(stack);
        // SAFETY: there is room at `len`.
        unsafe { self.ptr.add(self.len) }
    }

    /// Counts the value just written at [`HotStack::free_slot`].
    ///
    /// # Safety
    /// That slot must have been written.
    #[inline(always)]
    pub(crate) unsafe fn pushed(&mut self) {
        debug_assert!(self.len < self.cap);
        self.len += 1;
    }

    /// Pushes `v`.
    #[inline(always)]
    pub(crate) fn push(&mut self, stack: &mut Vec<Value>, v: Value) {
        let dst = self.free_slot(stack);
        // SAFETY: `dst` is the free slot.
        unsafe {
            dst.write(v);
            self.pushed();
        }
    }

    /// Pushes a clone of `src` (which may live in this stack: room is made first).
    ///
    /// # Safety
    /// `src` must be a valid value, inside the stack only below the height.
    #[inline(always)]
    pub(crate) unsafe fn push_clone(&mut self, stack: &mut Vec<Value>, src: *const Value) {
        let mut src = src;
        if self.len == self.cap {
            // A source in the stack moves with it.
            let offset = (src as usize).wrapping_sub(self.ptr as usize);
            let inside = offset < self.len * size_of::<Value>();
            self.grow(stack, 1);
            if inside {
                // SAFETY: the same place in the moved buffer.
                src = unsafe { self.ptr.byte_add(offset) };
            }
        }
        // SAFETY: there is room at `len`; the caller's contract covers `src`.
        unsafe {
            (*src).clone_to(self.ptr.add(self.len));
            self.pushed();
        }
    }

    /// Pops the top value.
    ///
    /// # Safety
    /// The stack must not be empty.
    #[inline(always)]
    pub(crate) unsafe fn pop(&mut self) -> Value {
        debug_assert!(self.len > 0);
        self.len -= 1;
        // SAFETY: the value at the old top is initialised and no longer counted.
        unsafe { self.ptr.add(self.len).read() }
    }

    /// Forgets the top `n` values, which must own nothing (or have been moved out).
    ///
    /// # Safety
    /// The stack must hold `n` values that need no drop.
    #[inline(always)]
    pub(crate) unsafe fn forget(&mut self, n: usize) {
        debug_assert!(self.len >= n);
        self.len -= n;
    }

    /// Pops the top and says whether it is truthy (no destructor call for the
    /// booleans and nils that tests leave).
    ///
    /// # Safety
    /// The stack must not be empty.
    #[inline(always)]
    pub(crate) unsafe fn pop_truthy(&mut self) -> bool {
        // SAFETY: the caller's contract.
        let truthy = match unsafe { self.peek(0) } {
            Value::Bool(b) => *b,
            Value::Nil => false,
            _ => {
                // SAFETY: likewise.
                drop(unsafe { self.pop() });
                return true;
            }
        };
        // SAFETY: a bool or nil owns nothing.
        unsafe { self.forget(1) };
        truthy
    }

    /// Drops the values above `height`, calling a destructor only for values that
    /// own something.
    #[inline(always)]
    pub(crate) fn truncate(&mut self, height: usize) {
        let len = self.len;
        if height >= len {
            return;
        }
        self.len = height;
        // SAFETY: the stack no longer counts them.
        unsafe { self.drop_uncounted(height, len) };
    }

    /// Drops the values in `from..to`, calling a destructor only for values that
    /// own something.
    ///
    /// # Safety
    /// They are within the buffer, and the stack does not count them (so that a
    /// panic leaks them rather than dropping one twice); each is dropped once.
    #[inline(always)]
    unsafe fn drop_uncounted(&mut self, from: usize, to: usize) {
        for i in from..to {
            // SAFETY: the caller's contract.
            unsafe {
                let v = self.ptr.add(i);
                if (*v).owns_heap() {
                    std::ptr::drop_in_place(v);
                }
            }
        }
    }

    /// Makes room for an activation of `chunk` whose slots start at `base` (the
    /// operands already there are its first slots): the slots past the operands
    /// are nil, and its deepest operand stack fits without growing.
    #[inline(always)]
    pub(crate) fn open_frame(&mut self, stack: &mut Vec<Value>, base: usize, chunk: &Chunk) {
        let top = base + chunk.frame_size as usize;
        self.reserve(stack, top + chunk.max_stack as usize);
        while self.len < top {
            self.push(stack, Value::Nil);
        }
    }

    /// Drops the values in `to..from` and moves those above them down to `to` (a
    /// tail call's callee and operands over the activation it replaces).
    ///
    /// # Safety
    /// `to <= from <= len`.
    #[inline(always)]
    pub(crate) unsafe fn slide_down(&mut self, to: usize, from: usize) {
        debug_assert!(to <= from && from <= self.len);
        let len = self.len;
        // While the values below are dropped the stack counts none of them: a
        // panic would leak them, never drop one twice.
        self.len = to;
        // SAFETY: the caller's bounds; each value in `to..from` is dropped once and
        // then overwritten by a move, and the moved ones are no longer counted where
        // they were.
        unsafe {
            self.drop_uncounted(to, from);
            std::ptr::copy(self.ptr.add(from), self.ptr.add(to), len - from);
        }
        self.len = to + (len - from);
    }
}

/// Grows `stack`, whose values (`len` of them) a [`HotStack`] holds, by room for at
/// least `n` more; returns the new buffer and capacity. The vector is left empty.
#[cold]
#[inline(never)]
fn grown(stack: &mut Vec<Value>, len: usize, n: usize) -> (*mut Value, usize) {
    debug_assert_eq!(stack.len(), 0);
    // SAFETY: the first `len` elements of the buffer are the values (see `put`);
    // they are handed back to the `HotStack` below.
    unsafe { stack.set_len(len) };
    stack.reserve(n.max(len.max(16)));
    // SAFETY: as in `take`.
    unsafe { stack.set_len(0) };
    (stack.as_mut_ptr(), stack.capacity())
}
