//! The SX API of [`Database`]: adding rules and facts as forms, and queries whose
//! answers come back as bindings in SX's order (sorted by the values, in the order
//! the variables first appear).

use super::*;
use super::{infer::*, lower::*};
use crate::error::DatalogError;
use crate::storage::intern::{Interner, SymbolKind};
use crate::value::Value;
use crate::Database;

/// A constant argument of an SX fact, borrowed from the host's values (see
/// [`Database::add_sx_fact_consts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SxConst<'a> {
    /// An integer.
    Int(i64),
    /// A string.
    Str(&'a str),
    /// A symbol (a variable or `_` makes the fact non-ground).
    Sym(&'a str),
}

/// One answer to an SX query: each variable (in order of first appearance) and its value.
pub type Bindings = Vec<(String, Datum)>;

impl Database {
    /// Adds an SX rule `(<- head body…)`, declaring new relations implicitly.
    /// Unsafe rules and unstratifiable programs are rejected here.
    pub fn add_sx_rule(&mut self, rule: &Datum) -> Result<(), DatalogError> {
        let r = rule_from_datum(rule)?;
        let mut atoms = vec![&r.head];
        collect_atoms(&r.body, &mut atoms);
        let mut decls = infer_decls(self, &atoms, false);
        let widen = Classes::of(self, &[&r], &mut decls, None);
        self.widen_columns(
            &widen,
            Program {
                decls,
                rules: vec![r],
                sx_values: true,
                ..Default::default()
            },
        )
    }

    /// Adds an SX fact `(edge 1 2)`; returns whether it was new.
    pub fn add_sx_fact(&mut self, fact: &Datum) -> Result<bool, DatalogError> {
        let a = fact_from_datum(fact)?;
        if self.relation_types(&a.relation).is_none() {
            let decls = infer_decls(self, &[&a], true);
            self.add_program(Program {
                decls,
                sx_values: true,
                ..Default::default()
            })?;
        }
        let vals = a
            .args
            .iter()
            .map(ground_of)
            .collect::<Result<Vec<Value>, _>>()?;
        if let Some(types) = self.relation_types(&a.relation) {
            let text_in_number = vals
                .iter()
                .zip(&types)
                .any(|(v, ty)| v.column_type() == ColumnType::Symbol && *ty == ColumnType::Number);
            if types.len() == vals.len() && text_in_number {
                // Text where the relation held numbers: widen the argument (and every
                // argument a rule connects to it) to hold both, as SX relations do.
                let widen = Classes::of(self, &[], &mut [], Some((&a.relation, &vals)));
                self.widen_columns(
                    &widen,
                    Program {
                        sx_values: true,
                        ..Default::default()
                    },
                )
                .map_err(|e| {
                    DatalogError::Usage(format!(
                        "`{fact}` mixes numbers and text in `{}`, which a rule cannot take: {e}",
                        a.relation
                    ))
                })?;
            }
        }
        self.add_fact(&a.relation, &vals)
    }

    /// Adds the SX fact `(relation arg…)` whose arguments are constants, as
    /// [`add_sx_fact`](Self::add_sx_fact) does but without building a datum: the fast
    /// path for hosts. `Ok(None)` when it does not apply (a relation not declared yet, a
    /// symbol argument that is a variable, a wrong arity or type): the caller then uses
    /// `add_sx_fact`, which declares the relation or words the error.
    pub fn add_sx_fact_consts(
        &mut self,
        relation: &str,
        args: &[SxConst<'_>],
    ) -> Result<Option<bool>, DatalogError> {
        let Ok(rel) = self.rel_id(relation) else {
            return Ok(None);
        };
        let columns = &self.program().decls[rel].columns;
        if columns.len() != args.len() {
            return Ok(None);
        }
        for (a, (_, ty)) in args.iter().zip(columns) {
            let fits = match a {
                // A number in a symbol-typed argument takes the general path.
                SxConst::Int(_) => *ty == ColumnType::Number,
                SxConst::Str(_) => *ty == ColumnType::Symbol,
                SxConst::Sym(s) => *ty == ColumnType::Symbol && !is_var(s),
            };
            if !fits {
                return Ok(None);
            }
        }
        let interner = self.interner_mut();
        let mut encode = |a: &SxConst<'_>| match a {
            SxConst::Int(n) => *n,
            SxConst::Str(s) => interner.intern(SymbolKind::Str, s) as i64,
            SxConst::Sym(s) => interner.intern(SymbolKind::Sym, s) as i64,
        };
        // Facts of up to 8 values are encoded on the stack.
        let mut buf = [0i64; 8];
        let t: Vec<i64>;
        let t: &[i64] = if args.len() <= buf.len() {
            for (slot, a) in buf.iter_mut().zip(args) {
                *slot = encode(a);
            }
            &buf[..args.len()]
        } else {
            t = args.iter().map(encode).collect();
            &t
        };
        Ok(Some(self.add_encoded(rel, t)))
    }

    /// Removes an SX fact; returns whether it was asserted.
    pub fn retract_sx_fact(&mut self, fact: &Datum) -> Result<bool, DatalogError> {
        let a = fact_from_datum(fact)?;
        if self.relation_types(&a.relation).is_none() {
            return Ok(false);
        }
        let vals = a
            .args
            .iter()
            .map(ground_of)
            .collect::<Result<Vec<Value>, _>>()?;
        self.retract_fact(&a.relation, &vals)
    }

    /// Answers `(rel arg…)`: one [`Bindings`] per distinct answer, sorted by the values
    /// in the order the variables first appear. A ground query answers `[[]]` or `[]`.
    /// Saturates first if needed.
    pub fn query_sx(&mut self, pattern: &Datum) -> Result<Vec<Bindings>, DatalogError> {
        let answers = self.query_sx_answers(pattern)?;
        Ok(answers
            .rows()
            .map(|row| {
                answers
                    .vars()
                    .iter()
                    .zip(row)
                    .enumerate()
                    .map(|(i, (var, &raw))| (var.clone(), answers.value(i, raw).to_datum()))
                    .collect()
            })
            .collect())
    }

    /// Answers `(rel arg…)` as [`query_sx`](Self::query_sx) does (same answers, same
    /// order), but without copying: the variables once, then each answer as a row of
    /// stored values that [`SxAnswers::value`] reads. Saturates first if needed.
    pub fn query_sx_answers(&mut self, pattern: &Datum) -> Result<SxAnswers<'_>, DatalogError> {
        self.saturate()?;
        let a = atom(pattern)?;
        if let Ok(r) = self.rel_id(&a.relation) {
            let bound = a.args.iter().enumerate().fold(0u32, |m, (c, t)| match t {
                Term::Var(_) | Term::Wildcard => m,
                _ => m | (1 << c),
            });
            self.index_for_query(r, bound);
        }
        let mut answers = SxAnswers {
            vars: Vec::new(),
            types: Vec::new(),
            rows: Vec::new(),
            len: 0,
            interner: self.interner(),
        };
        let Ok(r) = self.rel_id(&a.relation) else {
            return Ok(answers);
        };
        let types: Vec<ColumnType> = self.program().decls[r]
            .columns
            .iter()
            .map(|c| c.1)
            .collect();
        if types.len() != a.args.len() {
            return Err(DatalogError::Usage(format!(
                "`{}` has arity {}, query has {} arguments",
                a.relation,
                types.len(),
                a.args.len()
            )));
        }
        let mut bound: Vec<Option<Value>> = Vec::new();
        // Per argument: the index of its variable, if it is one.
        let mut slot: Vec<Option<usize>> = Vec::new();
        for (t, ty) in a.args.iter().zip(&types) {
            match t {
                Term::Var(v) => {
                    let i = match answers.vars.iter().position(|x| x == v) {
                        Some(i) => {
                            if answers.types[i] != *ty {
                                // In columns of two types: SX values compare as values
                                // (a text column holds numbers too, interned); the
                                // Datalog language's typed columns never meet.
                                if !self.program().sx_values {
                                    return Ok(answers);
                                }
                                answers.types[i] = ColumnType::Symbol;
                            }
                            i
                        }
                        None => {
                            answers.vars.push(v.clone());
                            answers.types.push(*ty);
                            answers.vars.len() - 1
                        }
                    };
                    slot.push(Some(i));
                    bound.push(None);
                }
                Term::Wildcard => {
                    slot.push(None);
                    bound.push(None);
                }
                other => {
                    let v = value_of(other).ok_or_else(|| bad("bad query argument", pattern))?;
                    let mixed = *ty == ColumnType::Symbol && self.program().sx_values;
                    if v.column_type() != *ty && !mixed {
                        return Ok(answers);
                    }
                    slot.push(None);
                    bound.push(Some(v));
                }
            }
        }
        let width = answers.vars.len();
        // Number columns whose variable also meets a text column: their values are
        // compared (and answered) in the text column's encoding.
        let widen: Vec<bool> = slot
            .iter()
            .zip(&types)
            .map(|(s, ty)| {
                s.is_some_and(|i| {
                    *ty == ColumnType::Number && answers.types[i] == ColumnType::Symbol
                })
            })
            .collect();
        let interner = self.interner();
        let mut rows: Vec<i64> = Vec::new();
        let mut row = vec![0i64; width];
        let mut set = vec![false; width];
        let mut n = 0usize;
        // Every column its own variable, in order: each tuple is its answer row.
        let identity = slot.iter().enumerate().all(|(c, s)| *s == Some(c));
        if identity {
            let size = self.size(&a.relation).unwrap_or(0);
            rows.reserve(size.saturating_mul(width));
        }
        self.query_encoded(r, &bound, |t| {
            if identity {
                rows.extend_from_slice(t);
                n += 1;
                return;
            }
            set.iter_mut().for_each(|s| *s = false);
            for ((&v, s), &wide) in t.iter().zip(&slot).zip(&widen) {
                if let Some(i) = *s {
                    let v = if wide {
                        match interner.get_int(v) {
                            Some(id) => i64::from(id),
                            // A number no text column holds: equals nothing there.
                            None => return,
                        }
                    } else {
                        v
                    };
                    if set[i] && row[i] != v {
                        return;
                    }
                    row[i] = v;
                    set[i] = true;
                }
            }
            rows.extend_from_slice(&row);
            n += 1;
        })?;
        if width == 0 {
            answers.len = n.min(1);
            return Ok(answers);
        }
        let numbers_only = answers.types.iter().all(|&t| t == ColumnType::Number);
        if numbers_only && rows_strictly_increasing(&rows, width) {
            // Already in order and distinct.
            answers.rows = rows;
            answers.len = n;
            return Ok(answers);
        }
        if numbers_only && width == 2 {
            if let Some(sorted) = sort_grouped_pairs(&rows) {
                answers.len = sorted.len() / 2;
                answers.rows = sorted;
                return Ok(answers);
            }
        }
        // Each i64 mapped to a u64 in the same order; up to two make one u128 key.
        let ordered = |x: i64| u128::from((x as u64) ^ (1 << 63));
        let unordered = |x: u128| (x as u64 ^ (1 << 63)) as i64;
        if numbers_only && width <= 2 {
            // The key is the row itself: sort keys, no row numbers.
            let mut packed: Vec<u128> = if width == 2 {
                rows.chunks_exact(2)
                    .map(|r| ordered(r[0]) << 64 | ordered(r[1]))
                    .collect()
            } else {
                rows.iter().map(|&x| ordered(x)).collect()
            };
            // Stable: row storage yields ascending runs (one per key), which it merges.
            packed.sort();
            packed.dedup();
            answers.rows = Vec::with_capacity(packed.len() * width);
            for k in &packed {
                if width == 2 {
                    answers.rows.push(unordered(k >> 64));
                }
                answers.rows.push(unordered(k & u128::from(u64::MAX)));
            }
            answers.len = packed.len();
            return Ok(answers);
        }
        // Sort keys: numbers as they are, text by its rank among the ids that occur,
        // so rows compare as plain integers.
        let mut keys = rows.clone();
        for (c, &ty) in answers.types.iter().enumerate() {
            if ty != ColumnType::Symbol {
                continue;
            }
            // Each row's rank among the column's distinct ids ordered by value: through a
            // table indexed by id when the ids are few enough for one, else by sorting
            // and binary search.
            let column = || (0..n).map(|i| rows[i * width + c]);
            let (lo, hi) = column().fold((i64::MAX, i64::MIN), |(l, h), x| (l.min(x), h.max(x)));
            if n > 0 && lo >= 0 && id_table_fits(hi, n) {
                let mut seen = vec![false; hi as usize + 1];
                column().for_each(|id| seen[id as usize] = true);
                let mut by_value: Vec<i64> = (0..=hi).filter(|&id| seen[id as usize]).collect();
                by_value.sort_by_key(|&id| answer_value(ty, id, interner));
                let mut rank_of = vec![0i64; hi as usize + 1];
                for (r, &id) in by_value.iter().enumerate() {
                    rank_of[id as usize] = r as i64;
                }
                for i in 0..n {
                    keys[i * width + c] = rank_of[rows[i * width + c] as usize];
                }
            } else {
                let mut ids: Vec<i64> = column().collect();
                ids.sort_unstable();
                ids.dedup();
                let mut by_value = ids.clone();
                by_value.sort_by_key(|&id| answer_value(ty, id, interner));
                // `rank[k]`: the rank of `ids[k]` (ids sorted by id, for binary search).
                let mut rank = vec![0i64; ids.len()];
                for (r, id) in by_value.iter().enumerate() {
                    if let Ok(k) = ids.binary_search(id) {
                        rank[k] = r as i64;
                    }
                }
                for i in 0..n {
                    let id = rows[i * width + c];
                    if let Ok(k) = ids.binary_search(&id) {
                        keys[i * width + c] = rank[k];
                    }
                }
            }
        }
        // Sort the row numbers by key, then keep one of each run of equal rows. Up to
        // two columns, a key packs into one u128 (each i64 mapped to a u64 in order);
        // wider rows whose columns' ranks and row number fit in 64 bits sort as u64s.
        let packed_wide = if width > 2 {
            pack_ranked_rows(&mut keys, &answers.types, n)
        } else {
            None
        };
        let key = |i: usize| &keys[i * width..(i + 1) * width];
        let order: Vec<usize> = if let Some(order) = packed_wide {
            order
        } else if width <= 2 {
            let mut packed: Vec<(u128, usize)> = (0..n)
                .map(|i| {
                    let k = key(i);
                    let hi = ordered(k[0]);
                    (
                        if width == 2 {
                            hi << 64 | ordered(k[1])
                        } else {
                            hi
                        },
                        i,
                    )
                })
                .collect();
            // Stable: row storage yields ascending runs (one per key), which it merges.
            packed.sort_by_key(|p| p.0);
            packed.dedup_by_key(|p| p.0);
            packed.into_iter().map(|p| p.1).collect()
        } else {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_unstable_by(|&x, &y| key(x).cmp(key(y)));
            order.dedup_by(|x, y| key(*x) == key(*y));
            order
        };
        let key = |i: usize| &rows[i * width..(i + 1) * width];
        answers.rows = Vec::with_capacity(order.len() * width);
        for i in &order {
            answers.rows.extend_from_slice(key(*i));
        }
        answers.len = order.len();
        Ok(answers)
    }
}

/// Pairs (`rows`, two values each) as row storage yields them: in runs with one first
/// value each and strictly increasing second values. Sorted by reordering the runs,
/// or `None` when `rows` is not of that shape (two runs with one first value).
pub(crate) fn sort_grouped_pairs(rows: &[i64]) -> Option<Vec<i64>> {
    let n = rows.len() / 2;
    // (first value, start, end) of each run, in row numbers.
    let mut runs: Vec<(i64, usize, usize)> = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        let ends = i == n || rows[2 * i] != rows[2 * start];
        if !ends && rows[2 * i + 1] <= rows[2 * i - 1] {
            return None;
        }
        if ends {
            runs.push((rows[2 * start], start, i));
            start = i;
        }
    }
    runs.sort_unstable_by_key(|r| r.0);
    if runs.windows(2).any(|w| w[0].0 == w[1].0) {
        return None;
    }
    let mut out = Vec::with_capacity(rows.len());
    for (_, a, b) in runs {
        out.extend_from_slice(&rows[2 * a..2 * b]);
    }
    Some(out)
}

/// The row numbers of `n` rows of sort keys (`keys`, text columns already ranks),
/// sorted by key with one row of each run of equal keys, when every column's range
/// and the row number pack into a u64; `None` when they do not fit. A column packs as
/// its distance from its least value, or failing that (number columns spread wide) as
/// its rank among its distinct values, computed here in place.
pub(crate) fn pack_ranked_rows(
    keys: &mut [i64],
    types: &[ColumnType],
    n: usize,
) -> Option<Vec<usize>> {
    if n == 0 {
        return Some(Vec::new());
    }
    let width = types.len();
    let bits_for = |count: u64| u64::BITS - count.saturating_sub(1).leading_zeros();
    let row_bits = bits_for(n as u64);
    // Per column: its least value and the bits its range takes.
    let range = |keys: &[i64], c: usize| -> (i64, u32) {
        let column = (0..n).map(|i| keys[i * width + c]);
        let (lo, hi) = column.fold((i64::MAX, i64::MIN), |(lo, hi), k| (lo.min(k), hi.max(k)));
        match hi.checked_sub(lo).and_then(|d| u64::try_from(d).ok()) {
            Some(d) => (lo, bits_for(d.saturating_add(1))),
            None => (lo, 64),
        }
    };
    let mut columns: Vec<(i64, u32)> = (0..width).map(|c| range(keys, c)).collect();
    if columns.iter().map(|c| c.1).sum::<u32>() + row_bits > 64 {
        // Rank the number columns (text columns are ranks already).
        for (c, &ty) in types.iter().enumerate() {
            if ty == ColumnType::Symbol {
                continue;
            }
            let mut distinct: Vec<i64> = (0..n).map(|i| keys[i * width + c]).collect();
            distinct.sort_unstable();
            distinct.dedup();
            for i in 0..n {
                let k = &mut keys[i * width + c];
                *k = distinct.binary_search(k).unwrap_or(0) as i64;
            }
            columns[c] = range(keys, c);
        }
        if columns.iter().map(|c| c.1).sum::<u32>() + row_bits > 64 {
            return None;
        }
    }
    let mut packed: Vec<u64> = (0..n)
        .map(|i| {
            let key = columns.iter().enumerate().fold(0u64, |k, (c, &(lo, b))| {
                (k << b) | keys[i * width + c].wrapping_sub(lo) as u64
            });
            (key << row_bits) | i as u64
        })
        .collect();
    packed.sort_unstable();
    packed.dedup_by_key(|p| *p >> row_bits);
    let mask = (1u64 << row_bits) - 1;
    Some(packed.into_iter().map(|p| (p & mask) as usize).collect())
}

/// Whether interned ids up to `max` are few enough, for `n` answers, to be looked up
/// in a table indexed by id (interned ids count up from 0) rather than searched.
pub fn id_table_fits(max: i64, n: usize) -> bool {
    (0..=(4 * n + 1024) as i64).contains(&max)
}

/// Whether the rows of `width` values in `rows` are in strictly increasing order.
pub(crate) fn rows_strictly_increasing(rows: &[i64], width: usize) -> bool {
    match width {
        1 => rows.windows(2).all(|w| w[0] < w[1]),
        2 => rows
            .chunks_exact(2)
            .zip(rows.chunks_exact(2).skip(1))
            .all(|(a, b)| (a[0], a[1]) < (b[0], b[1])),
        _ => rows
            .chunks_exact(width)
            .zip(rows.chunks_exact(width).skip(1))
            .all(|(a, b)| a < b),
    }
}

/// One value of an answer, borrowing text from the database. Ordered as SX orders
/// Datalog values: numbers < strings < symbols, text by bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnswerValue<'a> {
    /// A number.
    Int(i64),
    /// A string.
    Str(&'a str),
    /// A symbol.
    Sym(&'a str),
}

impl AnswerValue<'_> {
    /// The value as an owned datum.
    pub fn to_datum(self) -> Datum {
        match self {
            AnswerValue::Int(n) => Datum::Int(n),
            AnswerValue::Str(s) => Datum::Str(s.to_string()),
            AnswerValue::Sym(s) => Datum::Sym(s.to_string()),
        }
    }
}

pub(crate) fn answer_value(ty: ColumnType, raw: i64, interner: &Interner) -> AnswerValue<'_> {
    match ty {
        ColumnType::Number => AnswerValue::Int(raw),
        ColumnType::Symbol => match interner.resolve(raw as u32) {
            Some((SymbolKind::Sym, s)) => AnswerValue::Sym(s),
            Some((SymbolKind::Str, s)) => AnswerValue::Str(s),
            Some((SymbolKind::Int, s)) => AnswerValue::Int(s.parse().unwrap_or(raw)),
            None => AnswerValue::Int(raw),
        },
    }
}

/// The answers to an SX query (see [`Database::query_sx_answers`]): the query's
/// variables in order of first appearance, and the distinct answers, sorted, each a row
/// of one stored value per variable.
#[derive(Debug)]
pub struct SxAnswers<'a> {
    vars: Vec<String>,
    types: Vec<ColumnType>,
    /// The rows, one after another (`vars.len()` values each).
    rows: Vec<i64>,
    len: usize,
    interner: &'a Interner,
}

impl<'a> SxAnswers<'a> {
    /// The variables, in the order they first appear in the query.
    pub fn vars(&self) -> &[String] {
        &self.vars
    }

    /// How many answers there are (a ground query has one empty answer or none).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no answers.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The answers in order, each one stored value per variable (read them with
    /// [`value`](Self::value)).
    pub fn rows(&self) -> impl Iterator<Item = &[i64]> + '_ {
        let width = self.vars.len();
        (0..self.len).map(move |i| &self.rows[i * width..(i + 1) * width])
    }

    /// The value stored as `raw` for variable number `var`. Two equal `raw` values of
    /// one variable are the same value, so callers may cache conversions by
    /// `(var, raw)` (or by `raw` alone among [`is_text`](Self::is_text) variables).
    pub fn value(&self, var: usize, raw: i64) -> AnswerValue<'a> {
        answer_value(self.types[var], raw, self.interner)
    }

    /// Whether variable number `var` holds strings or symbols (stored as ids shared by
    /// every such column), rather than numbers.
    pub fn is_text(&self, var: usize) -> bool {
        self.types[var] == ColumnType::Symbol
    }
}
