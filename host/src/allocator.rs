//! What the `sx` binary tells the interpreter about its allocator, mimalloc.

/// The memory mimalloc holds for the process, in bytes (its estimate of committed
/// memory). The interpreter's cycle collector paces itself by it
/// ([`lang::cycles::HeapProbe`]).
pub fn heap_bytes() -> usize {
    let mut fields = [0usize; 8];
    let [elapsed, user, system, rss, peak_rss, commit, peak_commit, faults] = &mut fields;
    // SAFETY: mimalloc writes one `size_t` through each pointer, all valid.
    unsafe {
        libmimalloc_sys::mi_process_info(
            elapsed,
            user,
            system,
            rss,
            peak_rss,
            commit,
            peak_commit,
            faults,
        )
    };
    fields[5]
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_heap_probe_sees_memory_mimalloc_hands_out() {
        // This test binary's global allocator is the system's, so use mimalloc
        // directly: a block it hands out and touches is committed memory.
        let before = super::heap_bytes();
        let size = 64 << 20;
        // SAFETY: a plain allocation, written and freed below.
        let p = unsafe { libmimalloc_sys::mi_malloc(size) } as *mut u8;
        assert!(!p.is_null());
        // SAFETY: `p` has `size` bytes.
        unsafe { std::ptr::write_bytes(p, 1, size) };
        let during = super::heap_bytes();
        // SAFETY: allocated above.
        unsafe { libmimalloc_sys::mi_free(p.cast()) };
        assert!(during >= before + size, "{before} -> {during}");
    }
}
