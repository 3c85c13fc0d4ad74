//! Stratification: strongly connected components of the predicate dependency graph,
//! ordered so that every relation is computed after what it depends on. Recursion
//! through negation or aggregation is rejected, naming the cycle.

use crate::ast::*;
use crate::error::{CheckError, Loc};
use hashbrown::HashMap;
use std::sync::Arc;

/// One stratum: relations computed together (an SCC) and the rules deriving them.
#[derive(Clone, Debug, PartialEq)]
pub struct Stratum {
    /// Relation names (indices into the declaration list).
    pub relations: Vec<usize>,
    /// Rule indices (into `Program::rules`).
    pub rules: Vec<usize>,
    /// Whether some rule reads a relation of this same stratum.
    pub recursive: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Dep {
    Positive,
    Negation,
    Aggregation,
}

/// Computes strata in evaluation order.
pub fn stratify(prog: &Program, file: &Arc<str>) -> Result<Vec<Stratum>, CheckError> {
    let index: HashMap<&str, usize> = prog
        .decls
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.as_str(), i))
        .collect();
    let n = prog.decls.len();
    // edges[h] = (body relation, kind, rule index)
    let mut edges: Vec<Vec<(usize, Dep, usize)>> = vec![Vec::new(); n];
    for (ri, rule) in prog.rules.iter().enumerate() {
        let Some(&h) = index.get(rule.head.relation.as_str()) else {
            continue;
        };
        let mut add = |name: &str, dep: Dep| {
            if let Some(&b) = index.get(name) {
                edges[h].push((b, dep, ri));
            }
        };
        for lit in &rule.body {
            match lit {
                Literal::Positive(a) => add(&a.relation, Dep::Positive),
                Literal::Negative(a) => add(&a.relation, Dep::Negation),
                Literal::Aggregate { goal, .. } => {
                    for g in goal {
                        if let Literal::Positive(a) | Literal::Negative(a) = g {
                            add(&a.relation, Dep::Aggregation);
                        }
                    }
                }
                Literal::Compare { .. } => {}
            }
        }
    }
    let comps = tarjan(n, &edges);
    let mut comp_of = vec![0usize; n];
    for (ci, c) in comps.iter().enumerate() {
        for &r in c {
            comp_of[r] = ci;
        }
    }
    // Reject negative edges inside a component.
    for (h, es) in edges.iter().enumerate() {
        for &(b, dep, ri) in es {
            if dep != Dep::Positive && comp_of[h] == comp_of[b] {
                let path = path_within(b, h, &edges, &comp_of);
                let mut cycle = prog.decls[h].name.clone();
                let bang = if dep == Dep::Negation {
                    "!"
                } else {
                    "aggregate "
                };
                cycle.push_str(&format!(" -> {bang}{}", prog.decls[b].name));
                for r in path.iter().skip(1) {
                    cycle.push_str(&format!(" -> {}", prog.decls[*r].name));
                }
                return Err(CheckError::Unstratifiable {
                    loc: Loc::new(file, prog.rules[ri].span),
                    kind: if dep == Dep::Negation {
                        "negation".into()
                    } else {
                        "aggregation".into()
                    },
                    cycle,
                });
            }
        }
    }
    let mut strata: Vec<Stratum> = comps
        .iter()
        .map(|c| Stratum {
            relations: c.clone(),
            rules: Vec::new(),
            recursive: c.len() > 1 || c.iter().any(|&r| edges[r].iter().any(|e| e.0 == r)),
        })
        .collect();
    for (ri, rule) in prog.rules.iter().enumerate() {
        if let Some(&h) = index.get(rule.head.relation.as_str()) {
            strata[comp_of[h]].rules.push(ri);
        }
    }
    Ok(strata)
}

/// A path from `from` to `to` through relations of the same component (BFS).
fn path_within(
    from: usize,
    to: usize,
    edges: &[Vec<(usize, Dep, usize)>],
    comp_of: &[usize],
) -> Vec<usize> {
    let mut prev: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([from]);
    prev.insert(from, from);
    while let Some(x) = queue.pop_front() {
        if x == to {
            break;
        }
        for &(y, _, _) in &edges[x] {
            if comp_of[y] == comp_of[from] && !prev.contains_key(&y) {
                prev.insert(y, x);
                queue.push_back(y);
            }
        }
    }
    let mut path = vec![to];
    let mut cur = to;
    while cur != from {
        match prev.get(&cur) {
            Some(&p) => {
                path.push(p);
                cur = p;
            }
            None => break,
        }
    }
    path.reverse();
    path
}

/// Tarjan's algorithm (iterative); components come out dependencies-first.
fn tarjan(n: usize, edges: &[Vec<(usize, Dep, usize)>]) -> Vec<Vec<usize>> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut comps = Vec::new();
    let mut next = 0usize;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut ei)) = call.last_mut() {
            if *ei < edges[v].len() {
                let w = edges[v][*ei].0;
                *ei += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(u, _)) = call.last() {
                    low[u] = low[u].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    comp.sort_unstable();
                    comps.push(comp);
                }
            }
        }
    }
    comps
}
