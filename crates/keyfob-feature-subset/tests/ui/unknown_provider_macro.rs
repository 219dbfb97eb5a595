//! `#[keyfob::tool]` names a provider this build does not have.

#[keyfob::tool(auth_provider = "nosuch", scopes = ["repo"])]
async fn t(_creds: keyfob::Credentials) -> Result<(), String> {
    Ok(())
}

fn main() {}
