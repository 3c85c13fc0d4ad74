//! A graph model and every query answered from first principles: plain searches
//! over the edge list, no condensation, no engine.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Edges as related: `(src, dst, kind)`, a symmetric edge with its ends sorted.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub edges: BTreeSet<(String, String, String)>,
    pub symmetric: BTreeSet<String>,
}

/// `None` is every kind.
pub type K<'a> = Option<&'a str>;

impl Model {
    fn norm<'a>(&self, s: &'a str, d: &'a str, k: &str) -> (String, String, String) {
        if self.symmetric.contains(k) && d < s {
            (d.into(), s.into(), k.into())
        } else {
            (s.into(), d.into(), k.into())
        }
    }

    pub fn relate(&mut self, s: &str, d: &str, k: &str) -> bool {
        let e = self.norm(s, d, k);
        self.edges.insert(e)
    }

    pub fn unrelate(&mut self, s: &str, d: &str, k: &str) -> bool {
        let e = self.norm(s, d, k);
        self.edges.remove(&e)
    }

    pub fn unrelate_node(&mut self, n: &str) -> usize {
        let before = self.edges.len();
        self.edges.retain(|(s, d, _)| s != n && d != n);
        before - self.edges.len()
    }

    /// Arcs of a kind, one per edge and direction (a symmetric edge both ways, a
    /// self-loop once), with the kind they come from.
    pub fn arcs(&self, k: K) -> Vec<(String, String, String)> {
        let mut v = Vec::new();
        for (s, d, kind) in &self.edges {
            if k.is_some_and(|k| k != kind) {
                continue;
            }
            v.push((s.clone(), d.clone(), kind.clone()));
            if self.symmetric.contains(kind) && s != d {
                v.push((d.clone(), s.clone(), kind.clone()));
            }
        }
        v
    }

    pub fn nodes(&self, k: K) -> BTreeSet<String> {
        self.arcs(k)
            .into_iter()
            .flat_map(|(s, d, _)| [s, d])
            .collect()
    }

    fn succ(&self, k: K) -> BTreeMap<String, BTreeSet<String>> {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (s, d, _) in self.arcs(k) {
            m.entry(s).or_default().insert(d);
        }
        m
    }

    fn pred(&self, k: K) -> BTreeMap<String, BTreeSet<String>> {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (s, d, _) in self.arcs(k) {
            m.entry(d).or_default().insert(s);
        }
        m
    }

    pub fn children(&self, n: &str, k: K) -> Vec<String> {
        self.succ(k)
            .get(n)
            .map_or_else(Vec::new, |s| s.iter().cloned().collect())
    }

    pub fn parents(&self, n: &str, k: K) -> Vec<String> {
        self.pred(k)
            .get(n)
            .map_or_else(Vec::new, |s| s.iter().cloned().collect())
    }

    /// Everything `n` reaches by one or more arcs.
    pub fn reach(&self, n: &str, k: K) -> BTreeSet<String> {
        let succ = self.succ(k);
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = succ.get(n).into_iter().flatten().cloned().collect();
        while let Some(x) = todo.pop() {
            if seen.insert(x.clone()) {
                todo.extend(succ.get(&x).into_iter().flatten().cloned());
            }
        }
        seen
    }

    pub fn descendants(&self, n: &str, k: K) -> Vec<String> {
        self.reach(n, k).into_iter().collect()
    }

    pub fn ancestors(&self, n: &str, k: K) -> Vec<String> {
        self.nodes(k)
            .into_iter()
            .filter(|x| self.reach(x, k).contains(n))
            .collect()
    }

    pub fn reachable(&self, a: &str, b: &str, k: K) -> bool {
        self.reach(a, k).contains(b)
    }

    /// Per node, the smallest of the shortest paths from `a` (a forward search by
    /// levels: a node's best path is the least best path of its predecessors on the
    /// level before, then itself).
    fn best_paths(&self, a: &str, k: K) -> BTreeMap<String, Vec<String>> {
        let succ = self.succ(k);
        let mut best: BTreeMap<String, Vec<String>> = BTreeMap::new();
        best.insert(a.to_string(), vec![a.to_string()]);
        let mut level = vec![a.to_string()];
        while !level.is_empty() {
            let mut next: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for x in &level {
                for y in succ.get(x).into_iter().flatten() {
                    if best.contains_key(y) {
                        continue;
                    }
                    let mut p = best[x].clone();
                    p.push(y.clone());
                    match next.get(y) {
                        Some(q) if *q <= p => {}
                        _ => {
                            next.insert(y.clone(), p);
                        }
                    }
                }
            }
            level = next.keys().cloned().collect();
            best.extend(next);
        }
        best
    }

    pub fn path(&self, a: &str, b: &str, k: K) -> Option<Vec<String>> {
        if a == b {
            return Some(vec![a.to_string()]);
        }
        self.best_paths(a, k).remove(b)
    }

    /// The smallest shortest cycle through `s`.
    pub fn cycle_through(&self, s: &str, k: K) -> Option<Vec<String>> {
        let best = self.best_paths(s, k);
        self.pred(k)
            .get(s)
            .into_iter()
            .flatten()
            .filter_map(|p| best.get(p))
            .map(|p| {
                let mut c = p.clone();
                c.push(s.to_string());
                (c.len(), c)
            })
            .min()
            .map(|x| x.1)
    }

    pub fn why(&self, a: &str, b: &str, k: K) -> Option<Vec<(String, String, String)>> {
        let path = self.path(a, b, k)?;
        let arcs = self.arcs(k);
        Some(
            path.windows(2)
                .map(|w| {
                    let kind = arcs
                        .iter()
                        .filter(|(s, d, _)| *s == w[0] && *d == w[1])
                        .map(|a| a.2.clone())
                        .min()
                        .unwrap();
                    (w[0].clone(), w[1].clone(), kind)
                })
                .collect(),
        )
    }

    pub fn roots(&self, k: K) -> Vec<String> {
        let pred = self.pred(k);
        self.nodes(k)
            .into_iter()
            .filter(|n| !pred.contains_key(n))
            .collect()
    }

    pub fn leaves(&self, k: K) -> Vec<String> {
        let succ = self.succ(k);
        self.nodes(k)
            .into_iter()
            .filter(|n| !succ.contains_key(n))
            .collect()
    }

    pub fn on_cycle(&self, n: &str, k: K) -> bool {
        self.reachable(n, n, k)
    }

    pub fn cycles(&self, k: K) -> Vec<Vec<String>> {
        let mut out: BTreeSet<Vec<String>> = BTreeSet::new();
        for n in self.nodes(k) {
            if !self.on_cycle(&n, k) {
                continue;
            }
            let r = self.reach(&n, k);
            let scc: Vec<String> = self
                .nodes(k)
                .into_iter()
                .filter(|m| *m == n || (r.contains(m) && self.reachable(m, &n, k)))
                .collect();
            out.insert(scc);
        }
        out.into_iter().collect()
    }

    pub fn components(&self, k: K) -> Vec<Vec<String>> {
        let mut und: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (s, d, _) in self.arcs(k) {
            und.entry(s.clone()).or_default().insert(d.clone());
            und.entry(d).or_default().insert(s);
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for n in und.keys() {
            if seen.contains(n) {
                continue;
            }
            let mut comp = BTreeSet::new();
            let mut q = VecDeque::from([n.clone()]);
            while let Some(x) = q.pop_front() {
                if comp.insert(x.clone()) {
                    q.extend(und[&x].iter().cloned());
                }
            }
            seen.extend(comp.iter().cloned());
            out.push(comp.into_iter().collect::<Vec<_>>());
        }
        out.sort();
        out
    }

    /// Kahn's order, smallest ready first, or the cycle through the smallest node on
    /// one.
    pub fn topo_order(&self, k: K) -> Result<Vec<String>, Vec<String>> {
        if let Some(s) = self.nodes(k).into_iter().find(|n| self.on_cycle(n, k)) {
            return Err(self.cycle_through(&s, k).unwrap());
        }
        let arcs = self.arcs(k);
        let mut left = self.nodes(k);
        let mut order = Vec::new();
        while let Some(n) = left
            .iter()
            .find(|n| !arcs.iter().any(|(s, d, _)| d == *n && left.contains(s)))
            .cloned()
        {
            left.remove(&n);
            order.push(n);
        }
        Ok(order)
    }

    pub fn lca(&self, a: &str, b: &str, k: K) -> Vec<String> {
        let nodes = self.nodes(k);
        if !nodes.contains(a) || !nodes.contains(b) {
            return Vec::new();
        }
        let up = |n: &str| -> BTreeSet<String> {
            nodes
                .iter()
                .filter(|x| *x == n || self.reachable(x, n, k))
                .cloned()
                .collect()
        };
        let common: BTreeSet<String> = up(a).intersection(&up(b)).cloned().collect();
        common
            .iter()
            .filter(|c| {
                let r = self.reach(c, k);
                !common.iter().any(|d| d != *c && r.contains(d))
            })
            .cloned()
            .collect()
    }

    pub fn siblings(&self, n: &str, k: K) -> Vec<String> {
        let arcs = self.arcs(k);
        let parents: BTreeSet<&String> = arcs.iter().filter(|a| a.1 == n).map(|a| &a.0).collect();
        arcs.iter()
            .filter(|a| parents.contains(&a.0) && a.1 != n)
            .map(|a| a.1.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// (in, out), every arc counted.
    pub fn degree(&self, n: &str, k: K) -> (usize, usize) {
        let arcs = self.arcs(k);
        (
            arcs.iter().filter(|a| a.1 == n).count(),
            arcs.iter().filter(|a| a.0 == n).count(),
        )
    }
}
