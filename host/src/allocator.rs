//! The `sx` binary's allocator, mimalloc, and what it tells the interpreter about it.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::ffi::c_void;

/// mimalloc as the global allocator, asked for plain blocks when a layout needs no
/// more than word alignment (every SX value, every `Rc` and `Vec` of them), aligned
/// blocks otherwise.
///
/// The `mimalloc` crate's allocator asks `mi_malloc_aligned` for everything. In
/// mimalloc v3 that takes the fast path only while the size's page has a free block;
/// after that a size whose block is not a power of two is over-allocated into the
/// next size class, whose free blocks the fast path never looks at, so every later
/// allocation of that size takes the slow path. The engine's sg127 answers (160-byte
/// dicts) all went that way: 160 instructions each in `mi_malloc_aligned` under
/// callgrind, against about 20 through `mi_malloc`.
pub struct Allocator;

/// mimalloc's blocks are multiples of a word, starting at word-aligned addresses.
const WORD: usize = size_of::<usize>();

// SAFETY: each method hands the layout to the mimalloc function with the same
// contract: `mi_malloc`/`mi_zalloc`/`mi_realloc` give word-aligned blocks (enough for
// an alignment of at most `WORD`), the `_aligned` ones any power-of-two alignment;
// `mi_free` frees either kind.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: see the impl.
        unsafe {
            if layout.align() <= WORD {
                libmimalloc_sys::mi_malloc(layout.size()) as *mut u8
            } else {
                libmimalloc_sys::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: see the impl.
        unsafe {
            if layout.align() <= WORD {
                libmimalloc_sys::mi_zalloc(layout.size()) as *mut u8
            } else {
                libmimalloc_sys::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: `ptr` came from this allocator, so from mimalloc.
        unsafe { libmimalloc_sys::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: see the impl; `ptr` came from this allocator.
        unsafe {
            if layout.align() <= WORD {
                libmimalloc_sys::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
            } else {
                libmimalloc_sys::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align())
                    as *mut u8
            }
        }
    }
}

thread_local! {
    /// Bytes this thread has allocated and not yet freed (a block freed here that
    /// another thread allocated counts against this thread).
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

/// Adds `delta` to this thread's live bytes (nothing once the thread's locals are
/// gone, at its exit).
#[inline(always)]
fn count(delta: isize) {
    let _ = LIVE.try_with(|live| live.set(live.get().wrapping_add(delta)));
}

/// The bytes the calling thread's program holds: what it allocated through
/// [`Allocator`] and has not freed. The interpreter's cycle collector paces itself by
/// it ([`lang::cycles::HeapProbe`]). Memory the allocator keeps after a free (mimalloc
/// returns it to the system a second or more later) does not count, so a collection
/// that freed a gigabyte of garbage lowers it at once.
pub fn heap_bytes() -> usize {
    LIVE.try_with(Cell::get).unwrap_or(0).max(0) as usize
}

/// Gives the memory mimalloc keeps after frees back to the system now (it would
/// a second or more later), so the process's resident set drops to what it holds.
/// The memory limit measures the resident set: after an evaluation stopped for
/// holding too much, the next one must not be stopped for memory already freed.
pub fn release_free_memory() {
    // SAFETY: mi_collect has no preconditions; it frees only unused memory.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout};

    #[test]
    fn blocks_have_their_alignment_and_keep_their_contents_when_grown() {
        let a = super::Allocator;
        for (size, align) in [(8, 8), (24, 8), (160, 8), (48, 16), (100, 32), (4096, 4096)] {
            let layout = Layout::from_size_align(size, align).expect("a valid layout");
            // SAFETY: non-zero sizes; each block is written within its size, grown
            // with the same layout, and freed once.
            unsafe {
                let p = a.alloc(layout);
                assert!(
                    !p.is_null() && (p as usize).is_multiple_of(align),
                    "{size}/{align}"
                );
                std::ptr::write_bytes(p, 7, size);
                let q = a.realloc(p, layout, size * 3);
                assert!(
                    !q.is_null() && (q as usize).is_multiple_of(align),
                    "{size}/{align} grown"
                );
                assert!((0..size).all(|i| *q.add(i) == 7));
                a.dealloc(q, Layout::from_size_align(size * 3, align).expect("valid"));
                let z = a.alloc_zeroed(layout);
                assert!((z as usize).is_multiple_of(align) && (0..size).all(|i| *z.add(i) == 0));
                a.dealloc(z, layout);
            }
        }
    }

    #[test]
    fn the_heap_probe_counts_what_this_thread_holds() {
        // This test binary's global allocator is the system's: use ours directly.
        let a = super::Allocator;
        let before = super::heap_bytes();
        let size = 64 << 20;
        let layout = Layout::from_size_align(size, 8).expect("a valid layout");
        // SAFETY: a plain allocation, written and freed below.
        let p = unsafe { a.alloc(layout) };
        assert!(!p.is_null());
        // SAFETY: `p` has `size` bytes.
        unsafe { std::ptr::write_bytes(p, 1, size) };
        let during = super::heap_bytes();
        // SAFETY: allocated above with this layout.
        unsafe { a.dealloc(p, layout) };
        let after = super::heap_bytes();
        assert!(during >= before + size, "{before} -> {during}");
        // Freed memory stops counting at once, whatever the allocator keeps.
        assert!(after + size <= during, "{during} -> {after}");
    }
}
