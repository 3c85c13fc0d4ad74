//! The SX host: the driver that answers `perform` requests, its in-memory store,
//! the blog server (`sx serve`), and the pieces of the `sx` command.
#![warn(missing_docs)]

pub mod allocator;
pub mod driver;
pub mod kv;
pub mod limits;
pub mod request;
pub mod serve;

pub use driver::{format_error, with_big_stack, Host, HostOptions, Services};
pub use limits::{LimitHints, Limits};
