//! SX's Datalog saturation engine.
//!
//! Pipeline, one module per stage: a front end ([`parser`] for the Soufflé subset,
//! [`sexpr`] for SX forms) builds an [`ast::Program`]; [`check`] enforces declarations,
//! arity, types and range restriction; [`stratify`] orders strongly connected components
//! and rejects recursion through negation or aggregation; [`planner`] lowers rules to the
//! [`plan`] IR (semi-naive delta versions, join order, index selection, and the choice
//! between hash tuples and row storage); [`eval`] interprets that IR. Storage is
//! [`tuples`] (hash tuples with indexes per access pattern) and [`rows`] (binary
//! relations as bitset, sorted-list or roaring rows, unioned set at a time); [`closure`]
//! saturates transitive-closure strata by SCC condensation. [`Database`] is the
//! library API, incremental when only facts are added; [`facts`] reads `.facts` files and
//! writes outputs for the `sx datalog` command.
#![forbid(missing_docs)]

pub mod ast;
pub mod check;
pub mod closure;
pub mod components;
pub mod database;
pub mod distinct;
pub mod error;
pub mod eval;
pub mod facts;
pub mod intern;
pub mod lexer;
pub mod normalise;
pub mod parser;
pub mod plan;
pub mod planner;
pub mod relation;
pub mod rows;
pub mod run;
pub mod sexpr;
pub mod stratify;
pub mod tuples;
pub mod value;

pub use database::{Database, Retraction};
pub use error::{CheckError, DatalogError, FactsError, ParseError};
pub use eval::{Counters, RuleStats};
pub use parser::parse_program;
pub use value::Value;
