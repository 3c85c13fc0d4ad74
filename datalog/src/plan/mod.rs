//! From checked rules to the plan IR: [`normalise`] rewrites rules into the shape the
//! planner expects, [`planner`] lowers them (semi-naive versions, join order, index and
//! storage choice) to the IR of [`ir`], which every back end runs, once [`verify`]
//! has checked it.

pub mod ir;
mod maintenance;
pub mod normalise;
pub mod planner;
mod reprs;
pub mod verify;

pub use ir::*;
