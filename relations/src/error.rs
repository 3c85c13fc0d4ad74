//! What can go wrong on a graph.

/// An error of a graph operation. Nothing is changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// `topo_order` of a kind whose edges hold a cycle: the cycle's nodes in order,
    /// starting from its smallest node and ending with it again.
    #[error("cycle through {}", cycle.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(" -> "))]
    Cycle {
        /// `a, b, …, a`.
        cycle: Vec<String>,
    },
    /// `declare_symmetric` on a kind that already has directed edges.
    #[error("kind {0:?} already has directed edges; declare it symmetric before relating")]
    KindHasEdges(String),
    /// The engine refused a change (a bug of this crate, reported rather than hidden).
    #[error("datalog engine: {0}")]
    Engine(String),
}

impl From<datalog::DatalogError> for GraphError {
    fn from(e: datalog::DatalogError) -> Self {
        GraphError::Engine(e.to_string())
    }
}
