//! One layer of a graph: the arcs of one kind (or of every kind at once) and their
//! condensation, kept up to date arc by arc.
//!
//! Every node with an arc belongs to one component: its strongly connected component
//! (for an undirected layer, a symmetric kind, its connected component). The
//! condensed edges between components, counted by the arcs behind them, are the
//! engine's `dag` facts, so the engine's `reach` is the closure of the condensation.
//!
//! 1. Adding an arc `u -> v` between components `cu != cv` first asks the engine
//!    whether `cv` already reaches `cu`. If not, the arc is one more condensed edge.
//!    If so, the components on the paths from `cv` to `cu` merge into the largest of
//!    them: only the other components' nodes are relabelled (their arcs move from the
//!    old condensed edges to the new ones).
//! 2. Removing an arc between components drops one count of its condensed edge.
//!    Removing an arc inside a component `c` searches from both ends at once for
//!    another way from `u` to `v` inside `c` (so the search stops at the smaller
//!    side's size, or where the two searches meet); if there is none, `c` splits: in
//!    an undirected layer the side the search exhausted is the new component, in a
//!    directed one Tarjan's algorithm reruns over `c`. The largest part keeps the
//!    id; the others are relabelled as in step 1.
//! 3. A node with no arc left leaves the layer, and its component id is freed.
//!
//! A large batch of new arcs instead goes straight into the adjacency, and the
//! condensation is rebuilt once from scratch ([`Layer::rebuild`], Tarjan over the
//! whole layer): merging arc by arc would first have the engine close long chains
//! that the batch then folds into one component.

use crate::engine::{CompId, Engine};
use crate::error::GraphError;
use crate::names::NodeId;
use crate::scc::tarjan;
use hashbrown::{HashMap, HashSet};

/// Arcs by one end: the other end and how many edges make the arc (more than one
/// only in the layer of every kind).
pub(crate) type Adj = HashMap<NodeId, HashMap<NodeId, u32>>;

/// A component: its nodes, and how many of them have a self-loop.
#[derive(Debug, Default)]
pub(crate) struct Comp {
    pub(crate) members: HashSet<NodeId>,
    pub(crate) self_loops: u32,
}

impl Comp {
    /// Whether the component holds a cycle: more than one node, or a self-loop.
    pub(crate) fn cyclic(&self) -> bool {
        self.members.len() > 1 || self.self_loops > 0
    }
}

/// The arcs of a layer and their condensation.
#[derive(Debug, Default)]
pub(crate) struct Layer {
    /// Every arc holds both ways (a symmetric kind): components are connected ones.
    pub(crate) undirected: bool,
    pub(crate) out: Adj,
    pub(crate) inn: Adj,
    pub(crate) comp_of: HashMap<NodeId, CompId>,
    pub(crate) comps: HashMap<CompId, Comp>,
    /// Condensed edges, each counted by its arcs.
    pub(crate) cout: HashMap<CompId, HashMap<CompId, u32>>,
    pub(crate) cin: HashMap<CompId, HashMap<CompId, u32>>,
    /// Nodes with an arc and no arc in (out).
    pub(crate) roots: HashSet<NodeId>,
    pub(crate) leaves: HashSet<NodeId>,
    /// Components that hold a cycle.
    pub(crate) cyclic: HashSet<CompId>,
    arcs: usize,
}

impl Layer {
    /// A layer with no arcs.
    pub(crate) fn new(undirected: bool) -> Self {
        Layer {
            undirected,
            ..Default::default()
        }
    }

    /// Whether the layer has no arcs.
    pub(crate) fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// How many distinct arcs the layer has.
    pub(crate) fn arcs(&self) -> usize {
        self.arcs
    }

    /// Adds one edge's worth to the arc `u -> v` in the adjacency only: the
    /// condensation is stale until [`rebuild`](Self::rebuild).
    pub(crate) fn add_arc_unlabelled(&mut self, u: NodeId, v: NodeId) {
        let n = self.out.entry(u).or_default().entry(v).or_insert(0);
        *n += 1;
        self.arcs += (*n == 1) as usize;
        *self.inn.entry(v).or_default().entry(u).or_insert(0) += 1;
    }

    /// Recomputes the condensation from the adjacency: every component and
    /// condensed edge anew. O(V + E), and the engine's closure of the layer
    /// recomputed.
    pub(crate) fn rebuild(&mut self, eng: &mut Engine) -> Result<(), GraphError> {
        for (&a, row) in &self.cout {
            for &b in row.keys() {
                eng.retract_dag(a, b)?;
            }
        }
        self.cout.clear();
        self.cin.clear();
        for (c, _) in self.comps.drain() {
            eng.release(c);
        }
        self.comp_of.clear();
        self.cyclic.clear();
        let mut nodes: Vec<NodeId> = self.out.keys().chain(self.inn.keys()).copied().collect();
        nodes.sort_unstable();
        nodes.dedup();
        for part in tarjan(&nodes, |x| self.out_of(x).map(|(y, _)| y).collect()) {
            let c = eng.alloc();
            let mut comp = Comp::default();
            for x in part {
                comp.self_loops += self.has_arc(x, x) as u32;
                comp.members.insert(x);
                self.comp_of.insert(x, c);
            }
            self.comps.insert(c, comp);
            self.refresh_cyclic(c);
        }
        let arcs: Vec<(NodeId, NodeId)> = self
            .out
            .iter()
            .flat_map(|(&a, row)| row.keys().map(move |&b| (a, b)))
            .collect();
        for (a, b) in arcs {
            let (ca, cb) = (self.comp_of[&a], self.comp_of[&b]);
            if ca != cb {
                self.condensed_inc(ca, cb, eng)?;
            }
        }
        self.roots.clear();
        self.leaves.clear();
        for x in nodes {
            self.refresh_ends(x);
        }
        Ok(())
    }

    /// Whether the arc `u -> v` is there.
    pub(crate) fn has_arc(&self, u: NodeId, v: NodeId) -> bool {
        self.out.get(&u).is_some_and(|o| o.contains_key(&v))
    }

    /// The arcs out of `x` (other end, edges behind it).
    pub(crate) fn out_of(&self, x: NodeId) -> impl Iterator<Item = (NodeId, u32)> + '_ {
        self.out
            .get(&x)
            .into_iter()
            .flatten()
            .map(|(&y, &n)| (y, n))
    }

    /// The arcs into `x` (other end, edges behind it).
    pub(crate) fn in_of(&self, x: NodeId) -> impl Iterator<Item = (NodeId, u32)> + '_ {
        self.inn
            .get(&x)
            .into_iter()
            .flatten()
            .map(|(&y, &n)| (y, n))
    }

    fn ensure_node(&mut self, x: NodeId, eng: &mut Engine) {
        if self.comp_of.contains_key(&x) {
            return;
        }
        let c = eng.alloc();
        let mut comp = Comp::default();
        comp.members.insert(x);
        self.comps.insert(c, comp);
        self.comp_of.insert(x, c);
    }

    fn refresh_ends(&mut self, x: NodeId) {
        let here = self.comp_of.contains_key(&x);
        let no_in = self.inn.get(&x).is_none_or(|m| m.is_empty());
        let no_out = self.out.get(&x).is_none_or(|m| m.is_empty());
        set(&mut self.roots, x, here && no_in);
        set(&mut self.leaves, x, here && no_out);
    }

    fn refresh_cyclic(&mut self, c: CompId) {
        let cyclic = self.comps.get(&c).is_some_and(Comp::cyclic);
        set(&mut self.cyclic, c, cyclic);
    }

    fn condensed_inc(&mut self, a: CompId, b: CompId, eng: &mut Engine) -> Result<(), GraphError> {
        let n = self.cout.entry(a).or_default().entry(b).or_insert(0);
        *n += 1;
        let first = *n == 1;
        *self.cin.entry(b).or_default().entry(a).or_insert(0) += 1;
        if first {
            eng.add_dag(a, b)?;
        }
        Ok(())
    }

    fn condensed_dec(&mut self, a: CompId, b: CompId, eng: &mut Engine) -> Result<(), GraphError> {
        if dec(&mut self.cout, a, b) {
            dec(&mut self.cin, b, a);
            eng.retract_dag(a, b)?;
        } else {
            dec(&mut self.cin, b, a);
        }
        Ok(())
    }

    /// Adds one edge's worth to the arc `u -> v` (step 1 of the module doc).
    pub(crate) fn add_arc(
        &mut self,
        u: NodeId,
        v: NodeId,
        eng: &mut Engine,
    ) -> Result<(), GraphError> {
        self.ensure_node(u, eng);
        self.ensure_node(v, eng);
        let n = self.out.entry(u).or_default().entry(v).or_insert(0);
        *n += 1;
        let first = *n == 1;
        *self.inn.entry(v).or_default().entry(u).or_insert(0) += 1;
        if !first {
            return Ok(());
        }
        self.arcs += 1;
        self.refresh_ends(u);
        self.refresh_ends(v);
        let (cu, cv) = (self.comp_of[&u], self.comp_of[&v]);
        if u == v {
            if let Some(c) = self.comps.get_mut(&cu) {
                c.self_loops += 1;
            }
            self.refresh_cyclic(cu);
            return Ok(());
        }
        if cu == cv {
            return Ok(());
        }
        // `cv` can reach `cu` only if it has a way out and `cu` a way in.
        let may_close = self.cout.get(&cv).is_some_and(|m| !m.is_empty())
            && self.cin.get(&cu).is_some_and(|m| !m.is_empty());
        if may_close {
            eng.saturate()?;
            if eng.reaches(cv, cu) {
                let on_paths = self.comps_between(cv, cu, eng);
                // Counted first, so that the merge moves it like every other arc.
                self.condensed_inc(cu, cv, eng)?;
                return self.merge(on_paths, eng);
            }
        }
        self.condensed_inc(cu, cv, eng)
    }

    /// Adds the edge `a — b` of an undirected layer (both arcs, one for a self-loop):
    /// the two components merge, the smaller relabelled.
    pub(crate) fn add_undirected(
        &mut self,
        a: NodeId,
        b: NodeId,
        eng: &mut Engine,
    ) -> Result<(), GraphError> {
        self.ensure_node(a, eng);
        self.ensure_node(b, eng);
        self.add_arc_unlabelled(a, b);
        if a != b {
            self.add_arc_unlabelled(b, a);
        }
        self.refresh_ends(a);
        self.refresh_ends(b);
        let (ca, cb) = (self.comp_of[&a], self.comp_of[&b]);
        if a == b {
            if let Some(c) = self.comps.get_mut(&ca) {
                c.self_loops += 1;
            }
            self.refresh_cyclic(ca);
            return Ok(());
        }
        if ca != cb {
            self.merge(vec![ca, cb], eng)?;
        }
        Ok(())
    }

    /// The components on the paths from `from` to `to` (both included), given that
    /// `from` reaches `to`: a backward search from `to` keeping what `from` reaches.
    fn comps_between(&self, from: CompId, to: CompId, eng: &Engine) -> Vec<CompId> {
        let mut seen: HashSet<CompId> = HashSet::from_iter([to]);
        let mut todo = vec![to];
        while let Some(c) = todo.pop() {
            for (&p, _) in self.cin.get(&c).into_iter().flatten() {
                if !seen.contains(&p) && (p == from || eng.reaches(from, p)) {
                    seen.insert(p);
                    todo.push(p);
                }
            }
        }
        seen.insert(from);
        seen.into_iter().collect()
    }

    /// Merges `comps` into the largest of them.
    fn merge(&mut self, comps: Vec<CompId>, eng: &mut Engine) -> Result<(), GraphError> {
        let Some(&keeper) = comps
            .iter()
            .max_by_key(|&&c| self.comps.get(&c).map_or(0, |m| m.members.len()))
        else {
            return Ok(());
        };
        let moves: Vec<(NodeId, CompId)> = comps
            .iter()
            .filter(|&&c| c != keeper)
            .flat_map(|c| self.comps[c].members.iter().map(|&x| (x, keeper)))
            .collect();
        self.relabel(&moves, eng)
    }

    /// Moves each node to its new component, moving its arcs' condensed edges with it.
    fn relabel(&mut self, moves: &[(NodeId, CompId)], eng: &mut Engine) -> Result<(), GraphError> {
        let moving: HashSet<NodeId> = moves.iter().map(|m| m.0).collect();
        let mut arcs: Vec<(NodeId, NodeId)> = Vec::new();
        for &(x, _) in moves {
            arcs.extend(self.out_of(x).filter(|&(y, _)| y != x).map(|(y, _)| (x, y)));
            arcs.extend(
                self.in_of(x)
                    .filter(|&(w, _)| w != x && !moving.contains(&w))
                    .map(|(w, _)| (w, x)),
            );
        }
        for &(a, b) in &arcs {
            let (ca, cb) = (self.comp_of[&a], self.comp_of[&b]);
            if ca != cb {
                self.condensed_dec(ca, cb, eng)?;
            }
        }
        let mut touched: HashSet<CompId> = HashSet::new();
        for &(x, to) in moves {
            let from = self.comp_of[&x];
            if from == to {
                continue;
            }
            let looped = self.has_arc(x, x) as u32;
            if let Some(c) = self.comps.get_mut(&from) {
                c.members.remove(&x);
                c.self_loops -= looped;
            }
            let c = self.comps.entry(to).or_default();
            c.members.insert(x);
            c.self_loops += looped;
            self.comp_of.insert(x, to);
            touched.insert(from);
            touched.insert(to);
        }
        for c in touched {
            if self.comps.get(&c).is_some_and(|m| m.members.is_empty()) {
                self.comps.remove(&c);
                eng.release(c);
            }
            self.refresh_cyclic(c);
        }
        for &(a, b) in &arcs {
            let (ca, cb) = (self.comp_of[&a], self.comp_of[&b]);
            if ca != cb {
                self.condensed_inc(ca, cb, eng)?;
            }
        }
        Ok(())
    }

    /// Takes one edge's worth from the arc `u -> v`, which must be there (step 2).
    pub(crate) fn remove_arc(
        &mut self,
        u: NodeId,
        v: NodeId,
        eng: &mut Engine,
    ) -> Result<(), GraphError> {
        let gone = dec(&mut self.out, u, v);
        dec(&mut self.inn, v, u);
        if !gone {
            return Ok(());
        }
        self.arcs -= 1;
        let (cu, cv) = (self.comp_of[&u], self.comp_of[&v]);
        if u == v {
            if let Some(c) = self.comps.get_mut(&cu) {
                c.self_loops -= 1;
            }
            self.refresh_cyclic(cu);
        } else if cu != cv {
            self.condensed_dec(cu, cv, eng)?;
        } else if !self.joined(u, v, cu) {
            self.split_directed(cu, eng)?;
        }
        self.settle(u, eng);
        self.settle(v, eng);
        Ok(())
    }

    /// Removes the edge `a — b` of an undirected layer (step 2).
    pub(crate) fn remove_undirected(
        &mut self,
        a: NodeId,
        b: NodeId,
        eng: &mut Engine,
    ) -> Result<(), GraphError> {
        self.arcs -= dec(&mut self.out, a, b) as usize;
        dec(&mut self.inn, b, a);
        if a != b {
            self.arcs -= dec(&mut self.out, b, a) as usize;
            dec(&mut self.inn, a, b);
        }
        let ca = self.comp_of[&a];
        if a == b {
            if let Some(c) = self.comps.get_mut(&ca) {
                c.self_loops -= 1;
            }
            self.refresh_cyclic(ca);
        } else if let Some(side) = self.exhausted_side(a, b) {
            let c = eng.alloc();
            let moves: Vec<(NodeId, CompId)> = side.into_iter().map(|x| (x, c)).collect();
            self.relabel(&moves, eng)?;
        }
        self.settle(a, eng);
        self.settle(b, eng);
        Ok(())
    }

    /// Whether `u` still reaches `v` inside component `c`: a search forward from `u`
    /// and backward from `v`, growing the smaller frontier, until they meet or one
    /// side runs out.
    fn joined(&self, u: NodeId, v: NodeId, c: CompId) -> bool {
        let mut fwd: HashSet<NodeId> = HashSet::from_iter([u]);
        let mut bwd: HashSet<NodeId> = HashSet::from_iter([v]);
        let (mut ff, mut bf) = (vec![u], vec![v]);
        loop {
            if ff.is_empty() || bf.is_empty() {
                return false;
            }
            let forward = ff.len() <= bf.len();
            let (frontier, seen, other) = if forward {
                (&mut ff, &mut fwd, &bwd)
            } else {
                (&mut bf, &mut bwd, &fwd)
            };
            let mut next = Vec::new();
            for &x in frontier.iter() {
                let step: Box<dyn Iterator<Item = (NodeId, u32)>> = if forward {
                    Box::new(self.out_of(x))
                } else {
                    Box::new(self.in_of(x))
                };
                for (y, _) in step {
                    if self.comp_of.get(&y) != Some(&c) {
                        continue;
                    }
                    if other.contains(&y) {
                        return true;
                    }
                    if seen.insert(y) {
                        next.push(y);
                    }
                }
            }
            *frontier = next;
        }
    }

    /// After removing the edge `a — b` of an undirected layer: `None` when `a` and
    /// `b` are still connected, else the smaller side, found by growing both searches
    /// in turn until one runs out.
    fn exhausted_side(&self, a: NodeId, b: NodeId) -> Option<HashSet<NodeId>> {
        let mut sides = [HashSet::from_iter([a]), HashSet::from_iter([b])];
        let mut fronts = [vec![a], vec![b]];
        loop {
            for i in 0..2 {
                if fronts[i].is_empty() {
                    return Some(std::mem::take(&mut sides[i]));
                }
                let mut next = Vec::new();
                for &x in &fronts[i] {
                    for (y, _) in self.out_of(x) {
                        if sides[1 - i].contains(&y) {
                            return None;
                        }
                        if sides[i].insert(y) {
                            next.push(y);
                        }
                    }
                }
                fronts[i] = next;
            }
        }
    }

    /// Reruns Tarjan's algorithm over component `c`; the largest part keeps `c`.
    fn split_directed(&mut self, c: CompId, eng: &mut Engine) -> Result<(), GraphError> {
        let nodes: Vec<NodeId> = self.comps[&c].members.iter().copied().collect();
        let mut parts = tarjan(&nodes, |x| self.out_of(x).map(|(y, _)| y).collect());
        if parts.len() < 2 {
            return Ok(());
        }
        parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
        let mut moves = Vec::new();
        for part in &parts[1..] {
            let id = eng.alloc();
            moves.extend(part.iter().map(|&x| (x, id)));
        }
        tracing::debug!(parts = parts.len(), nodes = nodes.len(), "component split");
        self.relabel(&moves, eng)
    }

    /// Drops `x` from the layer if it has no arc left; refreshes its root and leaf
    /// standing (step 3).
    fn settle(&mut self, x: NodeId, eng: &mut Engine) {
        let no_in = self.inn.get(&x).is_none_or(|m| m.is_empty());
        let no_out = self.out.get(&x).is_none_or(|m| m.is_empty());
        if no_in && no_out {
            self.inn.remove(&x);
            self.out.remove(&x);
            if let Some(c) = self.comp_of.remove(&x) {
                self.comps.remove(&c);
                self.cyclic.remove(&c);
                eng.release(c);
            }
        }
        self.refresh_ends(x);
    }
}

fn set<T: std::hash::Hash + Eq>(s: &mut HashSet<T>, x: T, on: bool) {
    if on {
        s.insert(x);
    } else {
        s.remove(&x);
    }
}

/// Takes one from the count of `a -> b`; true when it reached zero (the entry is
/// then removed, and `a`'s map if it emptied).
fn dec<K: std::hash::Hash + Eq + Copy>(m: &mut HashMap<K, HashMap<K, u32>>, a: K, b: K) -> bool {
    let Some(row) = m.get_mut(&a) else {
        return false;
    };
    let Some(n) = row.get_mut(&b) else {
        return false;
    };
    *n -= 1;
    if *n > 0 {
        return false;
    }
    row.remove(&b);
    if row.is_empty() {
        m.remove(&a);
    }
    true
}
