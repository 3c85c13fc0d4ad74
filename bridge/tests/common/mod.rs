//! Helpers shared by the bridge's agreement tests.

/// The part of a rejection every tier words the same: the kind, and the variable,
/// fact or cycle it names (the engine prints rules in Datalog syntax, SX as forms).
pub fn normalise_error(msg: &str) -> String {
    if let Some(i) = msg.find(" is not bound by a positive atom") {
        return msg[..i].to_string();
    }
    msg.to_string()
}
