//! Closures and the frames (environments) they capture.

use std::cell::RefCell;
use std::rc::Rc;

use crate::ast::LambdaInfo;
use crate::symbol::Sym;
use crate::value::Value;

/// One function activation's slots: parameters, then its `let`/`define` bindings.
/// Inner closures capture the whole frame, so `set!` is seen by all of them.
#[derive(Debug)]
pub struct Env {
    /// The slots.
    pub slots: RefCell<Vec<Value>>,
    /// The frame of the enclosing function (None at top level).
    pub parent: Option<Rc<Env>>,
}

impl Env {
    /// A frame of `size` nil slots inside `parent`.
    pub fn new(size: usize, parent: Option<Rc<Env>>) -> Rc<Env> {
        Rc::new(Env {
            slots: RefCell::new(vec![Value::Nil; size]),
            parent,
        })
    }

    /// The frame `depth` levels out (0 = this one).
    pub fn ancestor(self: &Rc<Env>, depth: u32) -> &Rc<Env> {
        let mut e = self;
        for _ in 0..depth {
            e = e
                .parent
                .as_ref()
                .expect("analysis guarantees the frame depth exists");
        }
        e
    }

    /// Reads a slot.
    #[inline]
    pub fn get(&self, idx: u32) -> Value {
        self.slots.borrow()[idx as usize].clone()
    }

    /// Writes a slot.
    #[inline]
    pub fn set(&self, idx: u32, v: Value) {
        self.slots.borrow_mut()[idx as usize] = v;
    }
}

/// A function value made by `fn`: its code and the frame it was made in.
#[derive(Debug)]
pub struct Closure {
    /// The code.
    pub info: Rc<LambdaInfo>,
    /// The defining frame.
    pub env: Option<Rc<Env>>,
}

impl Closure {
    /// The function's name, if it has one.
    pub fn name(&self) -> Option<Sym> {
        self.info.name
    }
}
