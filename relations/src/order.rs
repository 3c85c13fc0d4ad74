//! Whole-layer answers computed over the condensation: weakly connected components
//! and topological order.

use crate::engine::CompId;
use crate::layer::Layer;
use crate::names::{Names, NodeId};
use hashbrown::HashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

impl Layer {
    /// The weakly connected components, as node ids: a union-find over the
    /// components and their condensed edges, then each node to its group.
    pub(crate) fn weak_components(&self) -> Vec<Vec<NodeId>> {
        let mut parent: HashMap<CompId, CompId> = self.comps.keys().map(|&c| (c, c)).collect();
        fn find(p: &mut HashMap<CompId, CompId>, mut c: CompId) -> CompId {
            while p[&c] != c {
                let up = p[&p[&c]];
                p.insert(c, up);
                c = up;
            }
            c
        }
        for (&a, row) in &self.cout {
            for &b in row.keys() {
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                if ra != rb {
                    parent.insert(ra.max(rb), ra.min(rb));
                }
            }
        }
        let mut groups: HashMap<CompId, Vec<NodeId>> = HashMap::new();
        for (&c, comp) in &self.comps {
            let r = find(&mut parent, c);
            groups
                .entry(r)
                .or_default()
                .extend(comp.members.iter().copied());
        }
        groups.into_values().collect()
    }

    /// Kahn's order of an acyclic layer, the smallest ready node first.
    pub(crate) fn kahn(&self, names: &Names) -> Vec<NodeId> {
        let mut waiting: HashMap<NodeId, usize> = HashMap::new();
        let mut ready = BinaryHeap::new();
        for &x in self.comp_of.keys() {
            let n = self.inn.get(&x).map_or(0, |m| m.len());
            if n == 0 {
                ready.push(Reverse((names.name(x), x)));
            } else {
                waiting.insert(x, n);
            }
        }
        let mut order = Vec::with_capacity(self.comp_of.len());
        while let Some(Reverse((_, x))) = ready.pop() {
            order.push(x);
            for (y, _) in self.out_of(x) {
                if let Some(n) = waiting.get_mut(&y) {
                    *n -= 1;
                    if *n == 0 {
                        waiting.remove(&y);
                        ready.push(Reverse((names.name(y), y)));
                    }
                }
            }
        }
        order
    }
}
