//! Front ends: Soufflé text ([`lexer`], [`components`] expansion, [`parser`]) and SX
//! forms ([`sexpr`]), each producing an [`crate::ast::Program`].

pub mod components;
pub mod lexer;
pub mod parser;
pub mod sexpr;
