//! Typed edges between nodes, maintained incrementally over the Datalog engine, with
//! reachability, paths, cycles, components and order.
//!
//! A [`Graph`] holds edges `src -> dst` between opaque string nodes, each of a kind
//! (a string). Kinds are directed unless declared symmetric
//! ([`Graph::declare_symmetric`]), and every query is asked of one kind or of all of
//! them at once ([`Kind::Any`]).
//!
//! Design. Storing each kind's closure as pairs would be quadratic in a large
//! strongly connected component (and every node of a connected symmetric kind
//! reaches every other), so the graph keeps, per kind and for every kind together, a
//! *layer*: the arcs, and the *condensation*, each node labelled with its strongly
//! connected component (connected component, for a symmetric kind). The engine holds
//! the edges as facts (`edge(src, dst, kind)`) and the condensation's edges
//! (`dag(a, b)`, over component ids unique across layers) with their closure
//! (`reach`, two rules), which it maintains incrementally and saturates by
//! condensation. So:
//!
//! - `a` reaches `b` iff they share a component that holds a cycle, or `reach`
//!   holds for their components: one lookup, and memory in proportion to the edges
//!   plus the closure of the condensation (quadratic only for long acyclic chains
//!   of components, as any closure of a DAG is).
//! - A write costs in proportion to its change: the engine derives or deletes the
//!   closure pairs the edge adds or removes; a cycle closed merges the components on
//!   it (relabelling all but the largest); an edge removed inside a component is
//!   searched around from both ends, and splits it only when there is no other way
//!   (see the `layer` module for the steps).
//! - Queries never saturate: writes saturate before returning. Paths are
//!   breadth-first searches pruned by the closure; components and topological order
//!   are computed over the layer when asked (costs on each method).
#![forbid(missing_docs)]
#![forbid(unsafe_code)]

mod engine;
mod error;
mod graph;
mod kind;
mod layer;
mod names;
mod order;
mod scc;
mod walk;

pub use error::GraphError;
pub use graph::{Degree, Graph, Step, BULK};
pub use kind::Kind;
