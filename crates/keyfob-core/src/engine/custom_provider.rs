//! Config-defined providers: a `[providers.<id>]` table becomes a provider with one OAuth2
//! handler, served exactly like a provider crate.
//!
//! Invariants:
//! - Its strings and spec are leaked to `'static` when the engine is built (config is read once
//!   per process), so the rest of the engine sees the same `&'static` types as for crates.
//! - What the table leaves out is `OAuth2Spec::DEFAULTS`; the handler is named
//!   `<id with - for _>-oauth2`, and the env key is `<ID>_TOKEN` unless configured.

use crate::config::CustomProvider;
use crate::spec::{ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh};

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Turns a `[providers.<id>]` table into a provider. Config is read once per process, so the
/// few bytes leaked here buy the same `&'static` specs that compiled-in providers have.
pub(super) fn custom_provider(id: &str, c: &CustomProvider) -> &'static Provider {
    let id = leak(id.to_owned());
    let scopes: Vec<&'static str> = c.scopes.iter().map(|s| leak(s.clone())).collect();
    let spec: &'static OAuth2Spec = Box::leak(Box::new(OAuth2Spec {
        name: leak(format!("{}-oauth2", id.replace('_', "-"))),
        env_key: leak(
            c.env_key
                .clone()
                .unwrap_or_else(|| format!("{}_TOKEN", id.to_ascii_uppercase())),
        ),
        authorize_url: leak(c.authorize_url.clone().unwrap_or_default()),
        token_url: leak(c.token_url.clone().unwrap_or_default()),
        revoke_url: c.revoke_url.clone().map(leak),
        device_url: c.device_url.clone().map(leak),
        userinfo_url: c.userinfo_url.clone().map(leak),
        scope_separator: leak(c.scope_separator.clone()),
        recommended_scopes: Box::leak(scopes.into_boxed_slice()),
        client_auth: if c.client_auth == "body" {
            ClientAuth::Body
        } else {
            ClientAuth::Basic
        },
        pkce: if c.pkce { Pkce::S256 } else { Pkce::None },
        refresh: match c.refresh.as_str() {
            "none" => Refresh::None,
            "rotating" => Refresh::Rotating,
            _ => Refresh::Plain,
        },
        ..OAuth2Spec::DEFAULTS
    }));
    let handlers: &'static [Handler] = Box::leak(vec![Handler::OAuth2(spec)].into_boxed_slice());
    Box::leak(Box::new(Provider {
        id,
        display_name: leak(c.display_name.clone().unwrap_or_else(|| id.to_owned())),
        handlers,
    }))
}
