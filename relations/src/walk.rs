//! Shortest walks: fewest arcs, then smallest by node names, element by element.

use crate::engine::Engine;
use crate::layer::Layer;
use crate::names::{Names, NodeId};
use hashbrown::HashMap;

impl Layer {
    /// Whether `a` reaches `b` by one or more arcs: the same component (which then
    /// holds a cycle) or one the engine's closure says its component reaches.
    pub(crate) fn reaches(&self, a: NodeId, b: NodeId, eng: &Engine) -> bool {
        let (Some(&ca), Some(&cb)) = (self.comp_of.get(&a), self.comp_of.get(&b)) else {
            return false;
        };
        if ca == cb {
            return self.comps.get(&ca).is_some_and(|c| c.cyclic());
        }
        eng.reaches(ca, cb)
    }

    /// The shortest walk of one or more arcs from `from` to `to` (a cycle when they
    /// are equal), the smallest by names among the shortest; `None` when there is
    /// none.
    ///
    /// A breadth-first search backward from `to`, visiting only nodes `from`
    /// reaches (the engine's closure prunes it), stops at the level where it meets
    /// `from`; the walk then goes forward, each step to the smallest next node one
    /// level closer.
    pub(crate) fn shortest_walk(
        &self,
        from: NodeId,
        to: NodeId,
        eng: &Engine,
        names: &Names,
    ) -> Option<Vec<NodeId>> {
        if !self.reaches(from, to, eng) {
            return None;
        }
        let mut dist: HashMap<NodeId, u32> = HashMap::from_iter([(to, 0)]);
        let mut frontier = vec![to];
        let mut level = 0;
        let mut found = false;
        while !found && !frontier.is_empty() {
            let mut next = Vec::new();
            for &y in &frontier {
                for (w, _) in self.in_of(y) {
                    found |= w == from;
                    if !dist.contains_key(&w) && (w == from || self.reaches(from, w, eng)) {
                        dist.insert(w, level + 1);
                        next.push(w);
                    }
                }
            }
            frontier = next;
            level += 1;
        }
        if !found {
            return None;
        }
        let mut walk = vec![from];
        let mut at = from;
        loop {
            let step = self
                .out_of(at)
                .filter_map(|(x, _)| dist.get(&x).map(|&d| (d, names.name(x), x)))
                .min()?;
            walk.push(step.2);
            if step.2 == to {
                return Some(walk);
            }
            at = step.2;
        }
    }
}
