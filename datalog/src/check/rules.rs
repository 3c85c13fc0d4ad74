//! Static checks: declarations, arity, types, safety (range restriction).
//! Stratification lives in `stratify`.

use crate::ast::*;
use crate::error::{CheckError, Loc};
use hashbrown::{HashMap, HashSet};
use std::sync::Arc;

/// Variable types of one rule, inferred from the atoms it uses.
pub type VarTypes = HashMap<String, ColumnType>;

/// Checks the whole program; returns the inferred variable types of each rule.
pub fn check_program(prog: &Program, file: &Arc<str>) -> Result<Vec<VarTypes>, CheckError> {
    check_program_from(prog, file, 0)
}

/// As [`check_program`], but takes the rules before `first_rule` as checked already
/// (against these declarations): returns the variable types of the others.
pub fn check_program_from(
    prog: &Program,
    file: &Arc<str>,
    first_rule: usize,
) -> Result<Vec<VarTypes>, CheckError> {
    let decls = decl_map(prog, file)?;
    for d in &prog.io {
        if !decls.contains_key(d.relation.as_str()) {
            return Err(CheckError::Undeclared {
                loc: Loc::new(file, d.span),
                name: d.relation.clone(),
            });
        }
    }
    for fact in &prog.facts {
        check_fact(fact, &decls, file)?;
    }
    prog.rules
        .iter()
        .skip(first_rule)
        .map(|r| check_rule(r, &decls, file, prog.sx_values))
        .collect()
}

/// Name -> declaration, rejecting duplicates.
pub fn decl_map<'a>(
    prog: &'a Program,
    file: &Arc<str>,
) -> Result<HashMap<&'a str, &'a RelationDecl>, CheckError> {
    let mut decls = HashMap::new();
    for d in &prog.decls {
        if decls.insert(d.name.as_str(), d).is_some() {
            return Err(CheckError::Redeclared {
                loc: Loc::new(file, d.span),
                name: d.name.clone(),
            });
        }
    }
    Ok(decls)
}

fn lookup<'a>(
    atom: &Atom,
    decls: &HashMap<&str, &'a RelationDecl>,
    file: &Arc<str>,
) -> Result<&'a RelationDecl, CheckError> {
    let d = decls
        .get(atom.relation.as_str())
        .ok_or_else(|| CheckError::Undeclared {
            loc: Loc::new(file, atom.span),
            name: atom.relation.clone(),
        })?;
    if d.columns.len() != atom.args.len() {
        return Err(CheckError::Arity {
            loc: Loc::new(file, atom.span),
            name: atom.relation.clone(),
            expected: d.columns.len(),
            found: atom.args.len(),
        });
    }
    Ok(d)
}

/// Checks one ground fact against its declaration.
pub fn check_fact(
    fact: &Atom,
    decls: &HashMap<&str, &RelationDecl>,
    file: &Arc<str>,
) -> Result<(), CheckError> {
    let d = lookup(fact, decls, file)?;
    if !fact.args.iter().all(Term::is_ground) {
        return Err(CheckError::NonGroundFact {
            loc: Loc::new(file, fact.span),
            fact: fact.to_string(),
        });
    }
    let mut types = VarTypes::new();
    for (arg, (_, ty)) in fact.args.iter().zip(&d.columns) {
        expect_type(arg, *ty, &mut types, file, fact.span, false)?;
    }
    Ok(())
}

/// The type of a term, inferring variable types as it goes (None: not yet known).
fn type_of(
    t: &Term,
    types: &mut VarTypes,
    file: &Arc<str>,
    span: Span,
    sx: bool,
) -> Result<Option<ColumnType>, CheckError> {
    Ok(match t {
        Term::Var(v) => types.get(v).copied(),
        Term::Wildcard => None,
        Term::Number(_) => Some(ColumnType::Number),
        Term::Symbol(_) => Some(ColumnType::Symbol),
        Term::Binary(op, a, b) => {
            for operand in [a, b] {
                expect_type(operand, ColumnType::Number, types, file, span, sx).map_err(|_| {
                    CheckError::Type {
                        loc: Loc::new(file, span),
                        what: if sx {
                            format!(
                                "operator `{}` needs numbers, and `{operand}` may hold strings \
                                 or symbols (the engine computes only with arguments that \
                                 hold numbers alone)",
                                op.symbol()
                            )
                        } else {
                            format!(
                                "operator `{}` needs numbers, `{operand}` is a symbol",
                                op.symbol()
                            )
                        },
                    }
                })?;
            }
            Some(ColumnType::Number)
        }
    })
}

fn expect_type(
    t: &Term,
    ty: ColumnType,
    types: &mut VarTypes,
    file: &Arc<str>,
    span: Span,
    sx: bool,
) -> Result<(), CheckError> {
    if let Term::Var(v) = t {
        match types.get(v) {
            Some(&have) if have != ty => {
                return Err(CheckError::Type {
                    loc: Loc::new(file, span),
                    what: format!("variable `{v}` is used as {have} and as {ty}"),
                })
            }
            Some(_) => {}
            None => {
                types.insert(v.clone(), ty);
            }
        }
        return Ok(());
    }
    match type_of(t, types, file, span, sx)? {
        // SX programs: a symbol-typed column holds numbers too.
        Some(ColumnType::Number)
            if sx && ty == ColumnType::Symbol && !matches!(t, Term::Binary(..)) =>
        {
            Ok(())
        }
        Some(have) if have != ty => Err(CheckError::Type {
            loc: Loc::new(file, span),
            what: format!("`{t}` is a {have}, expected a {ty}"),
        }),
        _ => Ok(()),
    }
}

/// Infers types across all literals until nothing changes, then checks safety.
fn check_rule(
    rule: &Rule,
    decls: &HashMap<&str, &RelationDecl>,
    file: &Arc<str>,
    sx_values: bool,
) -> Result<VarTypes, CheckError> {
    let mut types = VarTypes::new();
    for _ in 0..4 {
        infer_atom(&rule.head, decls, &mut types, file, sx_values)?;
        for lit in &rule.body {
            infer_literal(lit, decls, &mut types, file, sx_values)?;
        }
    }
    for lit in &rule.body {
        infer_literal(lit, decls, &mut types, file, sx_values)?;
    }
    check_safety(rule, file)?;
    Ok(types)
}

fn infer_atom(
    atom: &Atom,
    decls: &HashMap<&str, &RelationDecl>,
    types: &mut VarTypes,
    file: &Arc<str>,
    sx: bool,
) -> Result<(), CheckError> {
    let d = lookup(atom, decls, file)?;
    for (arg, (_, ty)) in atom.args.iter().zip(&d.columns) {
        expect_type(arg, *ty, types, file, atom.span, sx)?;
    }
    Ok(())
}

fn infer_literal(
    lit: &Literal,
    decls: &HashMap<&str, &RelationDecl>,
    types: &mut VarTypes,
    file: &Arc<str>,
    sx_values: bool,
) -> Result<(), CheckError> {
    let sx = sx_values;
    match lit {
        Literal::Positive(a) | Literal::Negative(a) => infer_atom(a, decls, types, file, sx_values),
        Literal::Compare { op, lhs, rhs, span } => {
            let lt = type_of(lhs, types, file, *span, sx)?;
            let rt = type_of(rhs, types, file, *span, sx)?;
            let arith = |t: &Term| matches!(t, Term::Binary(..));
            match (lt, rt) {
                // SX programs: numbers and text compare (never equal); but a computed
                // number is never put in or compared with an argument holding text.
                (Some(a), Some(b)) if a != b && sx && !arith(lhs) && !arith(rhs) => {}
                (Some(a), Some(b)) if a != b => {
                    return Err(CheckError::Type {
                        loc: Loc::new(file, *span),
                        what: format!("`{lhs}` is a {a} but `{rhs}` is a {b}"),
                    })
                }
                // A comparison types an untyped side after the other, except that in
                // SX programs it never makes a variable a number by itself: an atom
                // (in any order in the body) may bring text to it, and a text column
                // holds numbers too. A computed number does type it.
                (Some(t), None) if !sx || t == ColumnType::Symbol || arith(lhs) => {
                    expect_type(rhs, t, types, file, *span, sx)?
                }
                (None, Some(t)) if !sx || t == ColumnType::Symbol || arith(rhs) => {
                    expect_type(lhs, t, types, file, *span, sx)?
                }
                _ => {}
            }
            if op.is_ordering() {
                let t =
                    type_of(lhs, types, file, *span, sx)?.or(type_of(rhs, types, file, *span, sx)?);
                if t == Some(ColumnType::Symbol) && !sx_values {
                    return Err(CheckError::Type {
                        loc: Loc::new(file, *span),
                        what: format!("`{}` compares numbers, not symbols", op.symbol()),
                    });
                }
            }
            Ok(())
        }
        Literal::Aggregate {
            result,
            func,
            target,
            goal,
            span,
        } => {
            for g in goal {
                if matches!(g, Literal::Aggregate { .. }) {
                    return Err(CheckError::Other {
                        loc: Loc::new(file, *span),
                        message: "nested aggregates are not supported".into(),
                    });
                }
                infer_literal(g, decls, types, file, sx_values)?;
            }
            let res_ty = match (func, target) {
                (AggFunc::Count, _) => ColumnType::Number,
                (_, Some(t)) => {
                    expect_type(t, ColumnType::Number, types, file, *span, sx).map_err(|_| {
                        CheckError::Type {
                            loc: Loc::new(file, *span),
                            what: format!("`{}` needs a number, `{t}` is a symbol", func.name()),
                        }
                    })?;
                    ColumnType::Number
                }
                (_, None) => {
                    return Err(CheckError::Other {
                        loc: Loc::new(file, *span),
                        message: format!("`{}` needs a target expression", func.name()),
                    })
                }
            };
            expect_type(&Term::Var(result.clone()), res_ty, types, file, *span, sx)
        }
    }
}

fn vars_of(t: &Term, out: &mut Vec<String>) {
    t.for_each_var(&mut |v| out.push(v.to_string()));
}

/// Variables bound by the body: positive atoms' plain variables, `X = expr` with expr
/// bound, aggregate results. Returns the bound set.
pub fn bound_vars(body: &[Literal], outer: &HashSet<String>) -> HashSet<String> {
    let mut bound = outer.clone();
    loop {
        let before = bound.len();
        for lit in body {
            match lit {
                Literal::Positive(a) => {
                    for t in &a.args {
                        if let Term::Var(v) = t {
                            bound.insert(v.clone());
                        }
                    }
                }
                Literal::Compare {
                    op: CmpOp::Eq,
                    lhs,
                    rhs,
                    ..
                } => {
                    for (x, e) in [(lhs, rhs), (rhs, lhs)] {
                        if let Term::Var(v) = x {
                            let mut vs = Vec::new();
                            vars_of(e, &mut vs);
                            if !matches!(e, Term::Wildcard) && vs.iter().all(|w| bound.contains(w))
                            {
                                bound.insert(v.clone());
                            }
                        }
                    }
                }
                Literal::Aggregate { result, .. } => {
                    bound.insert(result.clone());
                }
                _ => {}
            }
        }
        if bound.len() == before {
            return bound;
        }
    }
}

fn count_occurrences(rule: &Rule) -> HashMap<String, usize> {
    let mut n = HashMap::new();
    let mut add = |t: &Term| t.for_each_var(&mut |v| *n.entry(v.to_string()).or_insert(0) += 1);
    for t in &rule.head.args {
        add(t);
    }
    fn lit_terms<'a>(l: &'a Literal, out: &mut Vec<&'a Term>) {
        match l {
            Literal::Positive(a) | Literal::Negative(a) => out.extend(&a.args),
            Literal::Compare { lhs, rhs, .. } => {
                out.push(lhs);
                out.push(rhs);
            }
            Literal::Aggregate { target, goal, .. } => {
                out.extend(target.iter());
                for g in goal {
                    lit_terms(g, out);
                }
            }
        }
    }
    let mut terms = Vec::new();
    for l in &rule.body {
        lit_terms(l, &mut terms);
    }
    for t in terms {
        add(t);
    }
    for l in &rule.body {
        if let Literal::Aggregate { result, .. } = l {
            *n.entry(result.clone()).or_insert(0) += 1;
        }
    }
    n
}

fn unsafe_err(rule: &Rule, span: Span, var: &str, file: &Arc<str>) -> CheckError {
    CheckError::Unsafe {
        loc: Loc::new(file, span),
        var: var.to_string(),
        rule: rule.to_string(),
    }
}

/// Range restriction: every variable must be bound by a positive atom (directly or via
/// `=`), except variables local to one negated atom, which act as wildcards.
pub fn check_safety(rule: &Rule, file: &Arc<str>) -> Result<(), CheckError> {
    let outer: Vec<Literal> = rule
        .body
        .iter()
        .filter(|l| !matches!(l, Literal::Aggregate { .. }))
        .cloned()
        .collect();
    let pre = bound_vars(&outer, &HashSet::new());
    let bound = bound_vars(&rule.body, &HashSet::new());
    let occ = count_occurrences(rule);
    for t in &rule.head.args {
        if matches!(t, Term::Wildcard) {
            return Err(unsafe_err(rule, rule.head.span, "_", file));
        }
        let mut vs = Vec::new();
        vars_of(t, &mut vs);
        if let Some(v) = vs.iter().find(|v| !bound.contains(*v)) {
            return Err(unsafe_err(rule, rule.head.span, v, file));
        }
    }
    check_body_safety(rule, &rule.body, &bound, &occ, file)?;
    for lit in &rule.body {
        if let Literal::Aggregate {
            target, goal, span, ..
        } = lit
        {
            let inner = bound_vars(goal, &pre);
            if let Some(t) = target {
                let mut vs = Vec::new();
                vars_of(t, &mut vs);
                if let Some(v) = vs.iter().find(|v| !inner.contains(*v)) {
                    return Err(unsafe_err(rule, *span, v, file));
                }
            }
            // Inside a goal, a variable is local when it occurs nowhere outside the aggregate.
            check_body_safety(rule, goal, &inner, &occ, file)?;
        }
    }
    Ok(())
}

fn check_body_safety(
    rule: &Rule,
    body: &[Literal],
    bound: &HashSet<String>,
    occ: &HashMap<String, usize>,
    file: &Arc<str>,
) -> Result<(), CheckError> {
    for lit in body {
        match lit {
            Literal::Positive(a) => {
                for t in &a.args {
                    if matches!(t, Term::Binary(..)) {
                        let mut vs = Vec::new();
                        vars_of(t, &mut vs);
                        if let Some(v) = vs.iter().find(|v| !bound.contains(*v)) {
                            return Err(unsafe_err(rule, a.span, v, file));
                        }
                    }
                }
            }
            Literal::Negative(a) => {
                let mut local_count: HashMap<&str, usize> = HashMap::new();
                for t in &a.args {
                    t.for_each_var(&mut |_| {});
                    if let Term::Var(v) = t {
                        *local_count.entry(v.as_str()).or_insert(0) += 1;
                    }
                }
                for t in &a.args {
                    match t {
                        // Local: every occurrence of v in the rule is in this atom.
                        Term::Var(v)
                            if !bound.contains(v)
                                && occ.get(v).copied().unwrap_or(0) != local_count[v.as_str()] =>
                        {
                            return Err(unsafe_err(rule, a.span, v, file));
                        }
                        Term::Binary(..) => {
                            let mut vs = Vec::new();
                            vars_of(t, &mut vs);
                            if let Some(v) = vs.iter().find(|v| !bound.contains(*v)) {
                                return Err(unsafe_err(rule, a.span, v, file));
                            }
                        }
                        _ => {}
                    }
                }
            }
            Literal::Compare { lhs, rhs, span, .. } => {
                for t in [lhs, rhs] {
                    if matches!(t, Term::Wildcard) {
                        return Err(unsafe_err(rule, *span, "_", file));
                    }
                    let mut vs = Vec::new();
                    vars_of(t, &mut vs);
                    if let Some(v) = vs.iter().find(|v| !bound.contains(*v)) {
                        return Err(unsafe_err(rule, *span, v, file));
                    }
                }
            }
            Literal::Aggregate { .. } => {}
        }
    }
    Ok(())
}
