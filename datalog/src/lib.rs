//! Datalog saturation engine. Placeholder while the engine lands.
