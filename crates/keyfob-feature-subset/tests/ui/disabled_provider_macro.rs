//! `#[keyfob::tool]` names `stripe`, a real provider whose feature this build leaves off.

#[keyfob::tool(auth_provider = "stripe")]
async fn t(_creds: keyfob::Credentials) -> Result<(), String> {
    Ok(())
}

fn main() {}
