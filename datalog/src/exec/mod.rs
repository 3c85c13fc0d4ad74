//! Running plans: the interpreter and stratum loop ([`eval`]), transitive closure by
//! condensation ([`transitive`]), and the distinct-tuple sets aggregates use
//! ([`distinct`]).

pub mod distinct;
pub mod eval;
pub mod transitive;
