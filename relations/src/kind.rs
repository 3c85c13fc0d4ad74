//! Which edges a query looks at: one kind, or every kind at once.

/// The edges a query reads: those of one kind, or of every kind ([`Kind::Any`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind<'a> {
    /// The edges of the kind with this name.
    Named(&'a str),
    /// The edges of every kind, as one graph (an edge of a symmetric kind holds both
    /// ways in it too).
    Any,
}

impl<'a> From<&'a str> for Kind<'a> {
    fn from(name: &'a str) -> Self {
        Kind::Named(name)
    }
}
