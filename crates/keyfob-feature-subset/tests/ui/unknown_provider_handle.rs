//! A typed handle to a provider this build does not have.

fn main() {
    let _ = keyfob::ToolAuth::new(&keyfob::providers::nosuch::PROVIDER);
}
