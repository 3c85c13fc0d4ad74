//! Implicit declarations: each relation's column types, inferred from the values and
//! typed columns its arguments meet (numbers otherwise), by unifying classes of
//! variables and columns.

use super::*;
use crate::value::Value;
use crate::Database;
use hashbrown::HashMap;

pub(crate) fn infer_decls(db: &Database, atoms: &[&Atom], consts_only: bool) -> Vec<RelationDecl> {
    // Types of variables met in typed columns of known relations.
    let mut var_ty: HashMap<String, ColumnType> = HashMap::new();
    for a in atoms {
        if let Some(tys) = db.relation_types(&a.relation) {
            for (t, ty) in a.args.iter().zip(tys) {
                if let Term::Var(v) = t {
                    var_ty.insert(v.clone(), ty);
                }
            }
        }
    }
    let mut out: Vec<RelationDecl> = Vec::new();
    for a in atoms {
        if db.relation_types(&a.relation).is_some() || out.iter().any(|d| d.name == a.relation) {
            continue;
        }
        let columns = a
            .args
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let ty = match t {
                    Term::Symbol(_) => ColumnType::Symbol,
                    Term::Var(v) if !consts_only => {
                        var_ty.get(v).copied().unwrap_or(ColumnType::Number)
                    }
                    _ => ColumnType::Number,
                };
                (format!("c{i}"), ty)
            })
            .collect();
        out.push(RelationDecl {
            name: a.relation.clone(),
            columns,
            span: Span::default(),
        });
    }
    out
}

/// Column typing of SX programs, which may mix numbers and text in one argument as SX
/// relations do. The arguments (relation, position) a rule variable connects, and the
/// values compared with or bound to it, form one class; a class that holds or meets
/// text is symbol-typed (its numbers interned), any other is number-typed.
#[derive(Default)]
pub(crate) struct Classes {
    /// Per relation, the node of each argument (looked up by name, not allocated).
    columns: HashMap<String, Vec<Option<usize>>>,
    /// Per rule, the node of each variable.
    vars: Vec<HashMap<String, usize>>,
    parent: Vec<usize>,
    text: Vec<bool>,
}

impl Classes {
    fn node(&mut self) -> usize {
        self.parent.push(self.parent.len());
        self.text.push(false);
        self.parent.len() - 1
    }

    fn column(&mut self, rel: &str, c: usize) -> usize {
        if let Some(Some(n)) = self.columns.get(rel).and_then(|cols| cols.get(c)) {
            return *n;
        }
        let n = self.node();
        let cols = match self.columns.get_mut(rel) {
            Some(cols) => cols,
            None => self.columns.entry(rel.to_string()).or_default(),
        };
        if cols.len() <= c {
            cols.resize(c + 1, None);
        }
        cols[c] = Some(n);
        n
    }

    fn var(&mut self, rule: usize, v: &str) -> usize {
        if let Some(&n) = self.vars.get(rule).and_then(|vars| vars.get(v)) {
            return n;
        }
        let n = self.node();
        if self.vars.len() <= rule {
            self.vars.resize_with(rule + 1, HashMap::new);
        }
        self.vars[rule].insert(v.to_string(), n);
        n
    }

    fn find(&mut self, mut n: usize) -> usize {
        while self.parent[n] != n {
            self.parent[n] = self.parent[self.parent[n]];
            n = self.parent[n];
        }
        n
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.parent[a] = b;
            self.text[b] |= self.text[a];
        }
    }

    fn mark_text(&mut self, n: usize) {
        let r = self.find(n);
        self.text[r] = true;
    }

    fn is_text(&mut self, n: usize) -> bool {
        let r = self.find(n);
        self.text[r]
    }

    /// Joins `t` (a term of rule number `rule`) to node `n`.
    fn term(&mut self, n: usize, t: &Term, rule: usize) {
        match t {
            Term::Var(v) => {
                let m = self.var(rule, v);
                self.union(n, m);
            }
            Term::Symbol(_) => self.mark_text(n),
            Term::Number(_) | Term::Wildcard | Term::Binary(..) => {}
        }
    }

    fn atom(&mut self, a: &Atom, rule: usize) {
        for (c, t) in a.args.iter().enumerate() {
            let n = self.column(&a.relation, c);
            self.term(n, t, rule);
        }
    }

    fn literals(&mut self, lits: &[Literal], rule: usize) {
        for l in lits {
            match l {
                Literal::Positive(a) | Literal::Negative(a) => self.atom(a, rule),
                Literal::Compare { lhs, rhs, .. } => {
                    for (x, y) in [(lhs, rhs), (rhs, lhs)] {
                        if let Term::Var(v) = x {
                            let n = self.var(rule, v);
                            self.term(n, y, rule);
                        }
                    }
                }
                Literal::Aggregate { goal, .. } => self.literals(goal, rule),
            }
        }
    }

    /// The classes of `db`'s program plus `rules`, the new relations `decls` and a new
    /// fact's values. Answers the arguments of declared relations that must widen to
    /// symbol-typed, and sets the types of `decls`.
    pub(crate) fn of(
        db: &Database,
        rules: &[&Rule],
        decls: &mut [RelationDecl],
        fact: Option<(&str, &[Value])>,
    ) -> Vec<(usize, usize)> {
        let mut k = Classes::default();
        let program = db.program();
        for d in &program.decls {
            for (c, (_, ty)) in d.columns.iter().enumerate() {
                let n = k.column(&d.name, c);
                if *ty == ColumnType::Symbol {
                    k.mark_text(n);
                }
            }
        }
        for d in decls.iter() {
            for c in 0..d.columns.len() {
                k.column(&d.name, c);
            }
        }
        for (ri, r) in program
            .rules
            .iter()
            .chain(rules.iter().copied())
            .enumerate()
        {
            k.atom(&r.head, ri);
            k.literals(&r.body, ri);
        }
        if let Some((rel, vals)) = fact {
            for (c, v) in vals.iter().enumerate() {
                if v.column_type() == ColumnType::Symbol {
                    let n = k.column(rel, c);
                    k.mark_text(n);
                }
            }
        }
        for d in decls.iter_mut() {
            for (c, col) in d.columns.iter_mut().enumerate() {
                let n = k.column(&d.name, c);
                if k.is_text(n) {
                    col.1 = ColumnType::Symbol;
                }
            }
        }
        let mut widen = Vec::new();
        for (r, d) in program.decls.iter().enumerate() {
            for (c, (_, ty)) in d.columns.iter().enumerate() {
                let n = k.column(&d.name, c);
                if *ty == ColumnType::Number && k.is_text(n) {
                    widen.push((r, c));
                }
            }
        }
        widen
    }
}

pub(crate) fn collect_atoms<'a>(lits: &'a [Literal], out: &mut Vec<&'a Atom>) {
    for l in lits {
        match l {
            Literal::Positive(a) | Literal::Negative(a) => out.push(a),
            Literal::Aggregate { goal, .. } => collect_atoms(goal, out),
            Literal::Compare { .. } => {}
        }
    }
}
