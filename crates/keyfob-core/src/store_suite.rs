//! The store conformance suite: checks every `SessionStore` must pass (being written).
