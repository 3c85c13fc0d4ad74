//! Storage: the symbol table ([`intern`]), hash tuples with indexes ([`tuples`]),
//! binary relations as rows ([`rows`]), and a relation over either ([`relation`]).

pub mod intern;
pub mod relation;
pub mod rows;
pub mod tuples;
