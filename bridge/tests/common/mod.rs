//! Helpers shared by the bridge's agreement tests.

/// One way of running the `dl-*` library.
#[derive(Clone, Copy, Debug)]
pub enum Tier {
    /// Pure SX on the CEK: JIT off and `dl-*` excluded.
    SxCek,
    /// Pure SX on the VM: eager JIT, `(dl-program :sx)`.
    SxVm,
    /// The Rust engine: `(dl-program)` with nothing excluded.
    Engine,
}

/// Every way, the reference (the SX library on the CEK) first.
pub const TIERS: [Tier; 3] = [Tier::SxCek, Tier::SxVm, Tier::Engine];

/// The part of a rejection every tier words the same: the kind, and the variable,
/// fact or cycle it names (the engine prints rules in Datalog syntax, SX as forms).
pub fn normalise_error(msg: &str) -> String {
    if let Some(i) = msg.find(" is not bound by a positive atom") {
        return msg[..i].to_string();
    }
    msg.to_string()
}
