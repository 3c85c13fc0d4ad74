//! Reclaiming frames kept alive only by their own closures.
//!
//! Values are reference counted, and lists and dicts are immutable, so the only way
//! to make a cycle is to store into a frame a closure that captures that frame: a
//! named `let`, an internal `define` of a function, `letrec`, or a `set!` of a local
//! to such a closure. The frame holds the closure and the closure holds the frame,
//! so neither count reaches zero when the activation ends. A request handler with a
//! named `let` would leak its frame on every request.
//!
//! Every store of that kind registers the frame here (a weak reference). From time
//! to time, when the registry has doubled, [`CycleCollector::collect`] finds which
//! registered frames nothing outside the registered frames' own closures refers to,
//! by trial deletion (as CPython's collector does): each frame's count, less the
//! references from closures that only a registered frame's slot holds, is what the
//! rest of the program holds. Frames with outside holders, and everything their
//! slots' closures capture, are live; the others are garbage, and emptying their
//! slots breaks the cycles. A reference the collector does not understand (a
//! closure inside a list, a child frame's parent link) counts as an outside holder,
//! so it can only keep garbage, never free a live frame.

use std::collections::HashMap;
use std::rc::{Rc, Weak};

use crate::closure::Env;
use crate::value::Value;

/// Collect when this many frames are registered, at least.
const MIN_THRESHOLD: usize = 1024;

/// With a heap probe, how many registrations pass between two looks at the heap.
const PROBE_EVERY: u32 = 32;

/// With a heap probe, collect once the heap has doubled since the last collection
/// and grown by at least this much.
const MIN_HEAP_GROWTH: usize = 64 << 20;

/// The size of the process's heap in bytes, as the allocator counts it. The host
/// installs one ([`CycleCollector::set_heap_probe`]); the library cannot know
/// which allocator it runs on.
pub type HeapProbe = fn() -> usize;

/// The registry of frames that hold closures over themselves.
///
/// Collections are paced by the number of registered frames and, when the host
/// gave a [`HeapProbe`], by the heap too: a few garbage frames can hold a great
/// deal (an SX Datalog program is such a frame, and its relations can take a
/// hundred megabytes), so counting frames alone let six of them take 660 MB.
#[derive(Default)]
pub struct CycleCollector {
    frames: Vec<Weak<Env>>,
    threshold: usize,
    /// Frames freed so far (for tests and `jit-stats`-style reporting).
    pub freed: u64,
    /// Collections run so far.
    pub collections: u64,
    probe: Option<HeapProbe>,
    /// The heap's size after the last collection (or when the probe came).
    heap_after: usize,
    /// Registrations left before the next look at the heap.
    until_probe: u32,
}

impl CycleCollector {
    /// Stores `v` into slot `idx` of `frame`, registering the frame when `v` is a
    /// closure over it (the store makes a cycle). Every store into a frame's slot
    /// by a running program goes through here.
    #[inline(always)]
    pub fn set(&mut self, frame: &Rc<Env>, idx: u32, v: Value) {
        let cycle =
            matches!(&v, Value::Lambda(c) if c.env.as_ref().is_some_and(|e| Rc::ptr_eq(e, frame)));
        frame.set(idx, v);
        if cycle {
            self.register(frame);
        }
    }

    /// Registers a frame that now holds a closure over itself; collects when the
    /// registry has doubled since the last collection.
    #[cold]
    fn register(&mut self, frame: &Rc<Env>) {
        self.frames.push(Rc::downgrade(frame));
        if self.frames.len() >= self.threshold.max(MIN_THRESHOLD) || self.heap_grew() {
            self.collect();
        }
    }

    /// Paces collections by the heap as well, with `probe` telling its size.
    pub fn set_heap_probe(&mut self, probe: HeapProbe) {
        self.probe = Some(probe);
        self.heap_after = probe();
        self.until_probe = PROBE_EVERY;
    }

    /// Whether, at this look (one registration in [`PROBE_EVERY`]), the heap has
    /// doubled since the last collection, by at least [`MIN_HEAP_GROWTH`].
    fn heap_grew(&mut self) -> bool {
        let Some(probe) = self.probe else {
            return false;
        };
        self.until_probe = self.until_probe.saturating_sub(1);
        if self.until_probe > 0 {
            return false;
        }
        self.until_probe = PROBE_EVERY;
        let limit = self
            .heap_after
            .saturating_mul(2)
            .max(self.heap_after.saturating_add(MIN_HEAP_GROWTH));
        probe() > limit
    }

    /// Frees the registered frames that only their own closures keep alive; answers
    /// how many.
    pub fn collect(&mut self) -> usize {
        let mut frames: Vec<Rc<Env>> = self.frames.iter().filter_map(Weak::upgrade).collect();
        frames.sort_by_key(Rc::as_ptr);
        frames.dedup_by(|a, b| Rc::ptr_eq(a, b));
        let index: HashMap<*const Env, usize> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| (Rc::as_ptr(f), i))
            .collect();
        // References from outside, once those of closures held only by a
        // registered frame's slot are taken away (`frames` itself holds one).
        let mut outside: Vec<isize> = frames
            .iter()
            .map(|f| Rc::strong_count(f) as isize - 1)
            .collect();
        let captured = |v: &Value| -> Option<usize> {
            match v {
                Value::Lambda(c) if Rc::strong_count(c) == 1 => {
                    index.get(&Rc::as_ptr(c.env.as_ref()?)).copied()
                }
                _ => None,
            }
        };
        for f in &frames {
            for v in f.slots.borrow().iter() {
                if let Some(j) = captured(v) {
                    outside[j] -= 1;
                }
            }
        }
        // Live: held from outside, or captured by a closure in a live frame.
        let mut live: Vec<bool> = outside.iter().map(|&n| n > 0).collect();
        let mut work: Vec<usize> = (0..frames.len()).filter(|&i| live[i]).collect();
        while let Some(i) = work.pop() {
            for v in frames[i].slots.borrow().iter() {
                if let Value::Lambda(c) = v {
                    if let Some(&j) = c.env.as_ref().and_then(|e| index.get(&Rc::as_ptr(e))) {
                        if !live[j] {
                            live[j] = true;
                            work.push(j);
                        }
                    }
                }
            }
        }
        // Empty the garbage frames' slots (dropped after every borrow has ended).
        let mut dropped = Vec::new();
        for (f, _) in frames.iter().zip(&live).filter(|(_, &l)| !l) {
            dropped.push(std::mem::take(&mut *f.slots.borrow_mut()));
        }
        let n = dropped.len();
        self.frames = frames
            .iter()
            .zip(&live)
            .filter(|(_, &l)| l)
            .map(|(f, _)| Rc::downgrade(f))
            .collect();
        drop(frames);
        drop(dropped);
        self.threshold = 2 * self.frames.len();
        self.freed += n as u64;
        self.collections += 1;
        if let Some(probe) = self.probe {
            self.heap_after = probe();
        }
        if n > 0 {
            tracing::debug!(
                freed = n,
                kept = self.frames.len(),
                "reclaimed self-referencing frames"
            );
        }
        n
    }
}
