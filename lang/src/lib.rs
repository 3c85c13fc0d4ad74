//! SX: a small s-expression language, the host of the SX Datalog engine.
//!
//! Source text is read into [`reader::Form`]s, analysed into the [`ast::Node`] tree
//! that every evaluator tier consumes, and run. The CEK machine ([`cek`]) is the
//! reference tier: its continuation lives on the heap, so recursion is bounded by
//! memory and `perform` can suspend a program anywhere and resume it exactly where
//! it stopped. `lang` never does IO itself: everything but `print`/`println` goes
//! through `perform` to the host.
#![warn(missing_docs)]
// `Value` hashes closures by identity, never through their mutable frames.
#![allow(clippy::mutable_key_type)]

pub mod analyze;
pub mod ast;
mod cek;
pub mod closure;
pub mod cycles;
pub mod dict;
mod higher;
mod inplace;
pub mod interp;
mod machine;
pub mod prims;
pub mod printer;
pub mod reader;
pub mod span;
pub mod symbol;
pub mod tiering;
pub mod value;
pub mod vm;

pub use interp::{
    Interp, LimitHints, Outcome, OutputBuffer, PerformHandler, Suspended, SxError, Tier,
    DEFAULT_MAX_DEPTH, INTERRUPTED,
};
pub use value::Value;
