//! Files in and out, for `sx datalog` and for library users who run a program file
//! with its I/O directives: `.facts`/CSV reading and writing ([`facts`]) and one-shot
//! runs ([`run`]). Nothing below the front ends depends on this module.

pub mod facts;
pub mod run;
