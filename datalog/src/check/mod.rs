//! Checks a program before planning: declarations, arities, types and range
//! restriction ([`rules`]), then stratification ([`stratify`]).

pub mod rules;
pub mod stratify;

pub use rules::*;
