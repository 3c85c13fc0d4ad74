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
//!
//! # Example
//!
//! Rules in Soufflé syntax, facts from Rust, then queries. Reads see the state of the
//! last [`Database::saturate`]: facts added or retracted since are not visible until
//! the next one, which maintains the relations incrementally rather than re-deriving
//! them.
//!
//! ```
//! use datalog::{Database, Value};
//!
//! let mut db = Database::new();
//! db.add_rules(
//!     ".decl edge(a: symbol, b: symbol)
//!      .decl path(a: symbol, b: symbol)
//!      path(x, y) :- edge(x, y).
//!      path(x, z) :- path(x, y), edge(y, z).",
//!     "paths.dl",
//! )?;
//! db.add_facts("edge", [["a", "b"], ["b", "c"]].map(|r| r.map(Value::from).to_vec()))?;
//! db.saturate()?;
//! assert_eq!(db.size("path")?, 3);
//!
//! // Everything reachable from "a": bound columns are `Some`, free ones `None`.
//! let mut from_a: Vec<Value> = db
//!     .query("path", &[Some("a".into()), None])?
//!     .map(|t| t[1].clone())
//!     .collect();
//! from_a.sort();
//! assert_eq!(from_a, ["b".into(), "c".into()]);
//!
//! // A retraction is seen after the next saturation.
//! db.retract_fact("edge", &["b".into(), "c".into()])?;
//! assert_eq!(db.size("path")?, 3);
//! db.saturate()?;
//! assert_eq!(db.size("path")?, 1);
//!
//! // Bad input is an error naming what and where, never a panic.
//! let err = db.add_rules("p(x) :- q(x).", "bad.dl").unwrap_err();
//! assert!(err.to_string().contains("bad.dl:1:"), "{err}");
//! # Ok::<(), datalog::DatalogError>(())
//! ```
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
