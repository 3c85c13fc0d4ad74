//! SX's Datalog saturation engine.
//!
//! The source tree is the pipeline, one stage a folder:
//!
//! ```text
//! front/    .dl text (lexer, components, parser) and SX forms  ─┐
//!                                                              ▼
//! ast.rs    the program: declarations, rules, facts, I/O directives
//!                                                              ▼
//! check/    declarations, arity, types, range restriction; stratification
//!                                                              ▼
//! plan/     normalisation, planner ──▶ plan IR (semi-naive versions)
//!                                                              ▼
//! exec/     the interpreter and stratum loop; transitive closure by condensation
//!                                                              ▼
//! storage/  interned symbols, hash tuples with indexes, rows (bitset/sorted/roaring)
//! ```
//!
//! [`Database`] is the library API (incremental under additions and retractions, the
//! maintenance plans in `database/maintain.rs`); [`io`] reads `.facts` files and runs a
//! program file with its I/O directives for the `sx datalog` command.
#![forbid(missing_docs)]
#![forbid(unsafe_code)]

pub mod ast;
pub mod check;
pub mod database;
pub mod error;
pub mod exec;
pub mod front;
pub mod io;
pub mod plan;
pub mod storage;
pub mod value;

pub use database::{Database, Retraction};
pub use error::{CheckError, DatalogError, FactsError, ParseError};
pub use exec::eval::{Counters, RuleStats};
pub use front::parser::parse_program;
pub use plan::planner::PlanOptions;
pub use value::Value;
