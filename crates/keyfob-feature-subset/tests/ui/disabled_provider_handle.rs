//! A typed handle to `stripe`, a real provider whose feature this build leaves off.

fn main() {
    let _ = keyfob::ToolAuth::new(&keyfob::providers::stripe::PROVIDER);
}
