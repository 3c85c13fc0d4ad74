//! [`Graph`]: the public API, writes and queries.

use crate::engine::Engine;
use crate::error::GraphError;
use crate::kind::Kind;
use crate::layer::Layer;
use crate::names::{Names, NodeId};
use hashbrown::{HashMap, HashSet};

/// A node's edge counts of one kind (or of every kind, each edge counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Degree {
    /// Edges ending at the node (an edge of a symmetric kind, and a self-loop, count
    /// in both directions).
    pub incoming: usize,
    /// Edges starting at the node.
    pub outgoing: usize,
}

/// Batches of more edges than this may be loaded by rebuilding the condensation
/// (see [`Graph::relate_many`]).
pub const BULK: usize = 256;

/// One edge of a path: from, to, and its kind.
pub type Step = (String, String, String);

#[derive(Debug)]
struct KindLayer {
    name: String,
    layer: Layer,
}

/// Typed edges between opaque string nodes, with every query answered from what
/// the engine and the layers keep derived (see the crate docs).
///
/// Writes saturate the engine before they return, so every query reads a complete
/// state. Costs below: `V`, `E` are the nodes and edges of the kind queried; `C`
/// and `D` the components and condensed edges of its condensation; `k` the size of
/// the answer.
#[derive(Debug)]
pub struct Graph {
    engine: Engine,
    names: Names,
    kinds: HashMap<String, usize>,
    layers: Vec<KindLayer>,
    any: Layer,
    bulk: usize,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Result<Self, GraphError> {
        Ok(Graph {
            engine: Engine::new()?,
            names: Names::default(),
            kinds: HashMap::new(),
            layers: Vec::new(),
            any: Layer::new(false),
            bulk: BULK,
        })
    }

    /// Sets the batch size past which [`relate_many`](Self::relate_many) may rebuild
    /// the condensation instead of maintaining it edge by edge ([`BULK`] by default;
    /// for tuning and tests).
    pub fn set_bulk_threshold(&mut self, edges: usize) {
        self.bulk = edges;
    }

    /// The engine holding the edge facts (`edge(src, dst, kind)`, one per edge, a
    /// symmetric edge with its ends sorted) and the condensation's closure.
    pub fn database(&self) -> &datalog::Database {
        self.engine.db()
    }

    /// The engine's work for the last write, over all its saturations (tuples
    /// derived, probes): what the work-counter tests measure.
    pub fn last_work(&self) -> datalog::Counters {
        self.engine.write_work()
    }

    fn kind_index(&mut self, kind: &str) -> usize {
        if let Some(&k) = self.kinds.get(kind) {
            return k;
        }
        self.layers.push(KindLayer {
            name: kind.to_string(),
            layer: Layer::new(false),
        });
        self.kinds.insert(kind.to_string(), self.layers.len() - 1);
        self.layers.len() - 1
    }

    fn layer(&self, kind: Kind<'_>) -> Option<&Layer> {
        match kind {
            Kind::Any => Some(&self.any),
            Kind::Named(n) => self.kinds.get(n).map(|&k| &self.layers[k].layer),
        }
    }

    /// Whether `kind` is declared symmetric.
    pub fn is_symmetric(&self, kind: &str) -> bool {
        self.kinds
            .get(kind)
            .is_some_and(|&k| self.layers[k].layer.undirected)
    }

    /// Declares `kind` symmetric: its edges hold both ways, and `relate(b, a)` after
    /// `relate(a, b)` changes nothing. True when it was not yet; an error, changing
    /// nothing, when the kind already has edges. O(1).
    pub fn declare_symmetric(&mut self, kind: &str) -> Result<bool, GraphError> {
        let k = match self.kinds.get(kind) {
            Some(&k) => k,
            None => self.kind_index(kind),
        };
        let layer = &mut self.layers[k].layer;
        if layer.undirected {
            return Ok(false);
        }
        if !layer.is_empty() {
            return Err(GraphError::KindHasEdges(kind.to_string()));
        }
        layer.undirected = true;
        Ok(true)
    }

    /// Adds one edge to the adjacency only (see [`Layer::rebuild`]); the index of
    /// its kind when it was new.
    fn relate_unlabelled(
        &mut self,
        src: &str,
        dst: &str,
        kind: &str,
    ) -> Result<Option<usize>, GraphError> {
        let k = self.kind_index(kind);
        let sym = self.layers[k].layer.undirected;
        let (src, dst) = oriented(sym, src, dst);
        let (u, v) = (self.names.intern(src), self.names.intern(dst));
        let layer = &mut self.layers[k].layer;
        if layer.has_arc(u, v) {
            return Ok(None);
        }
        layer.add_arc_unlabelled(u, v);
        self.any.add_arc_unlabelled(u, v);
        if sym && u != v {
            layer.add_arc_unlabelled(v, u);
            self.any.add_arc_unlabelled(v, u);
        }
        self.engine.set_edge(src, dst, kind, true)?;
        Ok(Some(k))
    }

    /// Adds one edge, without saturating.
    fn relate_one(&mut self, src: &str, dst: &str, kind: &str) -> Result<bool, GraphError> {
        let k = self.kind_index(kind);
        let sym = self.layers[k].layer.undirected;
        let (src, dst) = oriented(sym, src, dst);
        let (u, v) = (self.names.intern(src), self.names.intern(dst));
        let layer = &mut self.layers[k].layer;
        if layer.has_arc(u, v) {
            return Ok(false);
        }
        if sym {
            layer.add_undirected(u, v, &mut self.engine)?;
            self.any.add_arc(u, v, &mut self.engine)?;
            if u != v {
                self.any.add_arc(v, u, &mut self.engine)?;
            }
        } else {
            layer.add_arc(u, v, &mut self.engine)?;
            self.any.add_arc(u, v, &mut self.engine)?;
        }
        self.engine.set_edge(src, dst, kind, true)?;
        Ok(true)
    }

    /// Removes one edge, without saturating.
    fn unrelate_one(&mut self, src: &str, dst: &str, kind: &str) -> Result<bool, GraphError> {
        let Some(&k) = self.kinds.get(kind) else {
            return Ok(false);
        };
        let sym = self.layers[k].layer.undirected;
        let (src, dst) = oriented(sym, src, dst);
        let (Some(u), Some(v)) = (self.names.get(src), self.names.get(dst)) else {
            return Ok(false);
        };
        let layer = &mut self.layers[k].layer;
        if !layer.has_arc(u, v) {
            return Ok(false);
        }
        if sym {
            layer.remove_undirected(u, v, &mut self.engine)?;
            self.any.remove_arc(u, v, &mut self.engine)?;
            if u != v {
                self.any.remove_arc(v, u, &mut self.engine)?;
            }
        } else {
            layer.remove_arc(u, v, &mut self.engine)?;
            self.any.remove_arc(u, v, &mut self.engine)?;
        }
        self.engine.set_edge(src, dst, kind, false)?;
        Ok(true)
    }

    /// Adds the edge `src -> dst` of `kind` (a new kind is directed); true when it
    /// was not there. Cost: the new closure pairs the engine derives, plus, when the
    /// edge closes a cycle, the arcs of the components it merges (all but the
    /// largest).
    pub fn relate(&mut self, src: &str, dst: &str, kind: &str) -> Result<bool, GraphError> {
        self.engine.start_write();
        let added = self.relate_one(src, dst, kind)?;
        self.engine.saturate()?;
        Ok(added)
    }

    /// Removes the edge `src -> dst` of `kind` (either way round for a symmetric
    /// kind); true when it was there. Cost: the closure pairs the engine deletes and
    /// rederives; for an edge inside a component, a search from both ends (the
    /// smaller side, or until they meet), and when the component splits, Tarjan over
    /// it (directed) or the relabelling of the smaller side (symmetric).
    pub fn unrelate(&mut self, src: &str, dst: &str, kind: &str) -> Result<bool, GraphError> {
        self.engine.start_write();
        let removed = self.unrelate_one(src, dst, kind)?;
        self.engine.saturate()?;
        Ok(removed)
    }

    /// Adds every edge `(src, dst, kind)`, saturating once; the number that were new.
    /// Cost: the sum of the [`relate`](Self::relate)s, with one saturation; a batch
    /// of more than [`BULK`] edges (see
    /// [`set_bulk_threshold`](Self::set_bulk_threshold)) that is at least a quarter of the graph instead
    /// rebuilds the condensation of each layer it touches, O(V + E).
    pub fn relate_many<'a, I>(&mut self, edges: I) -> Result<usize, GraphError>
    where
        I: IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    {
        self.engine.start_write();
        let edges: Vec<(&str, &str, &str)> = edges.into_iter().collect();
        let mut n = 0;
        if edges.len() > self.bulk && edges.len() * 4 >= self.any.arcs() {
            let mut touched = vec![false; self.layers.len()];
            for (s, d, k) in edges {
                if let Some(k) = self.relate_unlabelled(s, d, k)? {
                    touched.resize(self.layers.len(), false);
                    touched[k] = true;
                    n += 1;
                }
            }
            for (k, t) in touched.into_iter().enumerate() {
                if t {
                    self.layers[k].layer.rebuild(&mut self.engine)?;
                }
            }
            if n > 0 {
                self.any.rebuild(&mut self.engine)?;
            }
        } else {
            for (s, d, k) in edges {
                n += self.relate_one(s, d, k)? as usize;
            }
        }
        self.engine.saturate()?;
        Ok(n)
    }

    /// Removes every edge touching `node`, of every kind; how many. Cost: the sum of
    /// the [`unrelate`](Self::unrelate)s, with one saturation.
    pub fn unrelate_node(&mut self, node: &str) -> Result<usize, GraphError> {
        self.engine.start_write();
        let Some(x) = self.names.get(node) else {
            return Ok(0);
        };
        let mut edges: Vec<(NodeId, NodeId, usize)> = Vec::new();
        for (k, kl) in self.layers.iter().enumerate() {
            let l = &kl.layer;
            edges.extend(l.out_of(x).map(|(y, _)| (x, y, k)));
            edges.extend(l.in_of(x).filter(|&(w, _)| w != x).map(|(w, _)| (w, x, k)));
        }
        let mut n = 0;
        for (a, b, k) in edges {
            let (a, b) = (
                self.names.name(a).to_string(),
                self.names.name(b).to_string(),
            );
            let kind = self.layers[k].name.clone();
            n += self.unrelate_one(&a, &b, &kind)? as usize;
        }
        self.engine.saturate()?;
        Ok(n)
    }

    fn id_in(&self, layer: &Layer, node: &str) -> Option<NodeId> {
        self.names
            .get(node)
            .filter(|x| layer.comp_of.contains_key(x))
    }

    fn node_list(&self, kind: Kind<'_>, node: &str, out: bool) -> Vec<String> {
        let Some(l) = self.layer(kind) else {
            return Vec::new();
        };
        let Some(x) = self.id_in(l, node) else {
            return Vec::new();
        };
        if out {
            self.names.sorted(l.out_of(x).map(|a| a.0))
        } else {
            self.names.sorted(l.in_of(x).map(|a| a.0))
        }
    }

    /// The nodes `node` has an edge to, sorted by bytes. O(k log k).
    pub fn children(&self, node: &str, kind: Kind<'_>) -> Vec<String> {
        self.node_list(kind, node, true)
    }

    /// The nodes with an edge to `node`, sorted by bytes. O(k log k).
    pub fn parents(&self, node: &str, kind: Kind<'_>) -> Vec<String> {
        self.node_list(kind, node, false)
    }

    /// The nodes `node` reaches by one or more edges (itself only on a cycle), sorted.
    /// Reads the engine's closure row of its component: O(k log k).
    pub fn descendants(&self, node: &str, kind: Kind<'_>) -> Vec<String> {
        let Some(l) = self.layer(kind) else {
            return Vec::new();
        };
        let Some(x) = self.id_in(l, node) else {
            return Vec::new();
        };
        let c = l.comp_of[&x];
        let mut ids: Vec<NodeId> = Vec::new();
        if l.comps[&c].cyclic() {
            ids.extend(l.comps[&c].members.iter().copied());
        }
        for d in self.engine.reached_from(c) {
            if let Some(m) = l.comps.get(&d) {
                ids.extend(m.members.iter().copied());
            }
        }
        self.names.sorted(ids)
    }

    /// The nodes that reach `node` by one or more edges (itself only on a cycle),
    /// sorted. A search backward over the condensation: O(k log k + the condensed
    /// edges into the components found).
    pub fn ancestors(&self, node: &str, kind: Kind<'_>) -> Vec<String> {
        let Some(l) = self.layer(kind) else {
            return Vec::new();
        };
        let Some(x) = self.id_in(l, node) else {
            return Vec::new();
        };
        self.names.sorted(ancestor_ids(l, x))
    }

    /// Whether `a` reaches `b` by one or more edges (so `a` reaches itself only on a
    /// cycle). One lookup in the engine's closure: O(1).
    pub fn reachable(&self, a: &str, b: &str, kind: Kind<'_>) -> bool {
        let Some(l) = self.layer(kind) else {
            return false;
        };
        match (self.id_in(l, a), self.id_in(l, b)) {
            (Some(x), Some(y)) => l.reaches(x, y, &self.engine),
            _ => false,
        }
    }

    /// The shortest path from `a` to `b` as its nodes, the smallest by bytes element
    /// by element among the shortest; `[a]` when `a == b`; `None` when unreachable.
    /// A breadth-first search backward from `b` over the nodes `a` reaches (the
    /// closure prunes the rest), up to the path's length.
    pub fn path(&self, a: &str, b: &str, kind: Kind<'_>) -> Option<Vec<String>> {
        if a == b {
            return Some(vec![a.to_string()]);
        }
        let l = self.layer(kind)?;
        let (x, y) = (self.id_in(l, a)?, self.id_in(l, b)?);
        let walk = l.shortest_walk(x, y, &self.engine, &self.names)?;
        Some(
            walk.into_iter()
                .map(|n| self.names.name(n).to_string())
                .collect(),
        )
    }

    /// The number of edges of [`path`](Self::path); `None` when unreachable.
    pub fn distance(&self, a: &str, b: &str, kind: Kind<'_>) -> Option<usize> {
        self.path(a, b, kind).map(|p| p.len() - 1)
    }

    /// The edges of [`path`](Self::path) in order, each with its kind (for
    /// [`Kind::Any`], the smallest kind name among those joining the pair). Cost: the
    /// path's, plus the kinds per step for `Any`.
    pub fn why(&self, a: &str, b: &str, kind: Kind<'_>) -> Option<Vec<Step>> {
        let path = self.path(a, b, kind)?;
        let mut steps = Vec::with_capacity(path.len().saturating_sub(1));
        for w in path.windows(2) {
            let name = match kind {
                Kind::Named(n) => n.to_string(),
                Kind::Any => {
                    let (x, y) = (self.names.get(&w[0])?, self.names.get(&w[1])?);
                    self.layers
                        .iter()
                        .filter(|kl| kl.layer.has_arc(x, y))
                        .map(|kl| kl.name.as_str())
                        .min()?
                        .to_string()
                }
            };
            steps.push((w[0].clone(), w[1].clone(), name));
        }
        Some(steps)
    }

    /// The nodes with an edge of the kind and none into them, sorted (a symmetric
    /// kind has none). Kept as the layer changes: O(k log k).
    pub fn roots(&self, kind: Kind<'_>) -> Vec<String> {
        self.layer(kind)
            .map_or_else(Vec::new, |l| self.names.sorted(l.roots.iter().copied()))
    }

    /// The nodes with an edge of the kind and none out of them, sorted. O(k log k).
    pub fn leaves(&self, kind: Kind<'_>) -> Vec<String> {
        self.layer(kind)
            .map_or_else(Vec::new, |l| self.names.sorted(l.leaves.iter().copied()))
    }

    /// Whether `node` lies on a cycle (reaches itself). O(1).
    pub fn on_cycle(&self, node: &str, kind: Kind<'_>) -> bool {
        self.reachable(node, node, kind)
    }

    /// Whether the kind's edges hold no cycle. O(1).
    pub fn is_acyclic(&self, kind: Kind<'_>) -> bool {
        self.layer(kind).is_none_or(|l| l.cyclic.is_empty())
    }

    /// The strongly connected components holding a cycle (more than one node, or a
    /// self-loop), each sorted, sorted by first node. O(k log k) in the nodes on
    /// cycles.
    pub fn cycles(&self, kind: Kind<'_>) -> Vec<Vec<String>> {
        let Some(l) = self.layer(kind) else {
            return Vec::new();
        };
        let mut out: Vec<Vec<String>> = l
            .cyclic
            .iter()
            .map(|c| self.names.sorted(l.comps[c].members.iter().copied()))
            .collect();
        out.sort();
        out
    }

    /// The weakly connected components of the nodes with an edge of the kind, each
    /// sorted, sorted by first node. A union-find over the condensation:
    /// O(C + D + V log V).
    pub fn components(&self, kind: Kind<'_>) -> Vec<Vec<String>> {
        let Some(l) = self.layer(kind) else {
            return Vec::new();
        };
        let mut out: Vec<Vec<String>> = l
            .weak_components()
            .into_iter()
            .map(|g| self.names.sorted(g))
            .collect();
        out.sort();
        out
    }

    /// Every node with an edge of the kind, each after its parents, ties broken by
    /// bytes (Kahn's order, smallest ready node first): O(V log V + E). A cyclic kind
    /// gives [`GraphError::Cycle`] with the shortest cycle (smallest by bytes)
    /// through the smallest node on a cycle.
    pub fn topo_order(&self, kind: Kind<'_>) -> Result<Vec<String>, GraphError> {
        let Some(l) = self.layer(kind) else {
            return Ok(Vec::new());
        };
        let on_cycle = l
            .cyclic
            .iter()
            .flat_map(|c| l.comps[c].members.iter().copied())
            .min_by_key(|&x| self.names.name(x));
        if let Some(s) = on_cycle {
            let walk = l
                .shortest_walk(s, s, &self.engine, &self.names)
                .unwrap_or_default();
            return Err(GraphError::Cycle {
                cycle: walk
                    .into_iter()
                    .map(|n| self.names.name(n).to_string())
                    .collect(),
            });
        }
        Ok(l.kahn(&self.names)
            .into_iter()
            .map(|n| self.names.name(n).to_string())
            .collect())
    }

    /// The lowest common ancestors of `a` and `b`: of the nodes from which both are
    /// reached by zero or more edges, those from which no other such node is
    /// reached; sorted. Empty when either has no edge of the kind. Cost: both
    /// ancestor sets, and the edges out of their intersection.
    pub fn lowest_common_ancestors(&self, a: &str, b: &str, kind: Kind<'_>) -> Vec<String> {
        let Some(l) = self.layer(kind) else {
            return Vec::new();
        };
        let (Some(x), Some(y)) = (self.id_in(l, a), self.id_in(l, b)) else {
            return Vec::new();
        };
        let up = |n: NodeId| -> HashSet<NodeId> {
            let mut s: HashSet<NodeId> = ancestor_ids(l, n).into_iter().collect();
            s.insert(n);
            s
        };
        let (ax, ay) = (up(x), up(y));
        let common: HashSet<NodeId> = ax.intersection(&ay).copied().collect();
        // `common` is closed upward, so a node reaching another common node has a
        // child in `common`.
        let lowest = common
            .iter()
            .copied()
            .filter(|&c| !l.out_of(c).any(|(z, _)| z != c && common.contains(&z)));
        self.names.sorted(lowest)
    }

    /// The nodes sharing a parent with `node`, without `node`, sorted. O(the
    /// parents' children).
    pub fn siblings(&self, node: &str, kind: Kind<'_>) -> Vec<String> {
        let Some(l) = self.layer(kind) else {
            return Vec::new();
        };
        let Some(x) = self.id_in(l, node) else {
            return Vec::new();
        };
        let sibs: HashSet<NodeId> = l
            .in_of(x)
            .flat_map(|(p, _)| l.out_of(p).map(|a| a.0))
            .filter(|&s| s != x)
            .collect();
        self.names.sorted(sibs)
    }

    /// The edges of the kind ending and starting at `node` (for [`Kind::Any`], of
    /// every kind, each counted). O(its arcs).
    pub fn degree(&self, node: &str, kind: Kind<'_>) -> Degree {
        let Some(l) = self.layer(kind) else {
            return Degree::default();
        };
        let Some(x) = self.id_in(l, node) else {
            return Degree::default();
        };
        Degree {
            incoming: l.in_of(x).map(|a| a.1 as usize).sum(),
            outgoing: l.out_of(x).map(|a| a.1 as usize).sum(),
        }
    }

    /// The kinds with a name, sorted.
    pub fn kinds(&self) -> Vec<String> {
        let mut v: Vec<String> = self.layers.iter().map(|k| k.name.clone()).collect();
        v.sort();
        v
    }
}

/// The nodes reaching `x` by one or more arcs: its component's members when it is
/// cyclic, and the members of every component with a path into it.
fn ancestor_ids(l: &Layer, x: NodeId) -> Vec<NodeId> {
    let c = l.comp_of[&x];
    let mut ids = Vec::new();
    if l.comps[&c].cyclic() {
        ids.extend(l.comps[&c].members.iter().copied());
    }
    let mut seen: HashSet<_> = HashSet::from_iter([c]);
    let mut todo = vec![c];
    while let Some(d) = todo.pop() {
        for (&p, _) in l.cin.get(&d).into_iter().flatten() {
            if seen.insert(p) {
                todo.push(p);
                ids.extend(l.comps[&p].members.iter().copied());
            }
        }
    }
    ids
}

/// The stored orientation of an edge: a symmetric kind keeps one copy of each
/// edge, with the smaller name first; a directed kind keeps the edge as given.
fn oriented<'a>(symmetric: bool, src: &'a str, dst: &'a str) -> (&'a str, &'a str) {
    if symmetric && dst < src {
        (dst, src)
    } else {
        (src, dst)
    }
}
