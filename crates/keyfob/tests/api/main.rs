//! The facade's API tests, one binary (link time: every binary links the providers of the
//! build): the tools API, a session's lifecycle (device login, revocation, key checks, identity,
//! refresh ahead), and fault injection. The provider conformance binary is `tests/registry.rs`.

mod faults;
mod lifecycle;
mod mcp;
mod tools;
