//! The same code as the `disabled_*` cases, naming `github`, which this build has: it compiles.

#[keyfob::tool(auth_provider = "github", scopes = ["repo"])]
async fn t(_creds: keyfob::Credentials) -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = keyfob::ToolAuth::new(&keyfob::providers::github::PROVIDER);
}
