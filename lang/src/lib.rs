//! SX: the language. Placeholder while the core lands.
