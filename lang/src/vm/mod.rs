//! The bytecode tier: a compiler from the analysed [`Node`](crate::ast::Node) tree to
//! bytecode, a verifier, a disassembler, and the VM loop.
//!
//! The VM is not a separate machine: it is a second way for the one machine in
//! [`crate::cek`] to run a function. VM activations are frames on the same heap
//! continuation as CEK frames, and the operand stack is part of the same state, so a
//! `perform` anywhere (inside a `map` callback, across CEK and VM calls in either
//! direction) suspends all of it and resuming pushes exactly one value.
//!
//! # Inlined loops
//!
//! A higher-order call given a literal callback (`(map (fn (x) …) xs)`, and `filter`,
//! `for-each`, `some`, `every?`, `reduce`) compiles to a loop in the caller's own code
//! (`LoopStart`/`LoopStep`/`LoopEnd`): the loop state (`f xs index acc`) is on the
//! operand stack, so it suspends and resumes like any VM state, and the callback's
//! slots are stack slots of the caller (`Chunk::inline_slots`). The operator is loaded
//! first and checked at `LoopStart`, as for inline primitives: a redefined name or a
//! non-list takes the call as written (the closure is made then). Each element takes
//! the fuel and depth check a call would. A callback is inlined only when nothing can
//! capture its slots and only `let` initialises them (`SetLocal::init`), so one set of
//! slots serves every element; a fallback closure made inside an inlined callback gets
//! copies of the callbacks' frames (`ClosureIn`), exact for the same reason. A
//! `reduce` accumulator read once is moved out of its slot (`MoveLocal`), and `assoc`
//! and `append` called from VM code grow a first argument nothing else holds
//! (`grow_in_place`) instead of copying it. A shared value is copied as before, so
//! values stay immutable to everyone who can see them.
//!
//! # The hot loop
//!
//! The VM's hot loop (`run_vm_inner`) keeps the running activation's code, next pc and
//! stack base in locals and handles the common instructions and the common case of the
//! others (int arithmetic and comparisons, calls of compiled closures and plain
//! primitives, returns to a VM caller or a higher-order loop); everything else goes to
//! `step`, out of line, which runs any instruction the general way (and is all that runs
//! under `vm-trace`). Values and frames are pushed with `push_in_place!`
//! (`lang/src/inplace.rs`): a value built in a temporary from narrow stores and copied
//! with wide loads stalls store forwarding, which profiling showed as the VM's largest
//! single cost. For the same reason clones are written straight into their slot
//! (`Value::clone_to`), and int and bool results with one 16-byte store
//! (`Value::write_int`, `Value::write_bool`), which rely on `Value` being `repr(u8)`: a
//! one-byte tag, then each variant's fields as in C.
//!
//! While the hot loop runs, it holds the operand stack itself (`vm/hot.rs`,
//! `HotStack`): the buffer, height and capacity are locals, so a push or pop is
//! register arithmetic, not a read and write of the `Vec`'s length in memory (a
//! store-to-load chain through every instruction). Meanwhile the vector's own length is
//! 0; everything out of line (`step`, primitives, higher-order loops) runs with the
//! values handed back (`HotStack::put`) and taken again after (`HotStack::take`). A VM
//! call, and the next callback of a higher-order loop, checks everything about its
//! callee with one compare (`vm::exec::direct_entry` on `tiering::JitState::vm_entry`,
//! keyed by the policy epoch and the argument count;
//! a change of mode starts a new epoch and a demotion clears the key). A tail call to
//! such a callee also stays in the hot loop: callee and operands slide down over the
//! running activation (`HotStack::slide_down`), so the continuation does not grow. A
//! primitive that works on the interpreter (`PrimImpl::Interp`: the Datalog bridge, the
//! tools) is called from the VM's own call path, not through the CEK's `apply`. A
//! primitive that may hand its call on (`PrimImpl::Dispatch`) has its value returned, or
//! the function it names called in its place (`Dispatched::Call`) as the call written.
//! A plain or interpreter primitive in tail position, with a VM caller waiting, returns its
//! value to that caller from the hot loop; its error is raised as the general path
//! raises it (a plain primitive's at the call, one on the interpreter unwinding). A
//! primitive's int or bool result is read by its fields and written with one store
//! (`take_result`), and the step of a `map` or `for-each` loop works on `HotStack`
//! (`loop_step_hot`), telling a body value that owns nothing by its tag.
//!
//! Inside the hot loop a `Call` or `Return` has one copy of its code, after the
//! `match`: an instruction whose fast path leaves exactly what the next `Call` or
//! `Return` consumes (`PrimLC` before `Call`, `LoadLocal` or an int `Prim` before
//! `Return`) runs that next instruction at once instead of dispatching it, so the two
//! still run in order. An inline primitive on a slot and an int that fits in 32 bits
//! is an instruction of its own per operator (`AddI`, `SubI`, `LtI` … `EqI`, the int
//! held in it): the dispatch itself selects the operator, and no constant is loaded
//! or checked; anything but an int operand with the primitive intact goes to
//! `step`, which runs it as the unfused instructions would (`binary_general`). A return moves the value into the callee's slot and the
//! caller's frame into place without copies through temporaries.

pub(crate) mod borrowed;
mod calls;
pub mod chunk;
pub mod compile;
pub mod disasm;
pub(crate) mod exec;
pub mod fault;
pub(crate) mod hot;
mod loops;
pub mod shape;
mod step;
pub mod verify;

pub use chunk::{Chunk, Instr};
pub use compile::{compile_lambda, compile_toplevel, CompileError};
