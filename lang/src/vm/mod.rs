//! The bytecode tier: a compiler from the analysed [`Node`](crate::ast::Node) tree to
//! bytecode, a verifier, a disassembler, and the VM loop.
//!
//! The VM is not a separate machine: it is a second way for the one machine in
//! [`crate::cek`] to run a function. VM activations are frames on the same heap
//! continuation as CEK frames, and the operand stack is part of the same state, so a
//! `perform` anywhere (inside a `map` callback, across CEK and VM calls in either
//! direction) suspends all of it and resuming pushes exactly one value.

pub(crate) mod borrowed;
pub mod chunk;
pub mod compile;
pub mod disasm;
pub(crate) mod exec;
pub mod fault;
pub(crate) mod hot;
pub mod shape;
pub mod verify;

pub use chunk::{Chunk, Instr};
pub use compile::{compile_lambda, compile_toplevel, CompileError};
