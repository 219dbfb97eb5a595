//! Prints the catalog of every provider crate as one JSON document on stdout: each provider's
//! id, display name and handlers (name, kind, env keys and the whole spec, serialized from the
//! real `keyfob_core::spec` types), plus the spec defaults so a reader can tell which fields a
//! provider set.
//!
//! `cargo xtask codegen` runs this binary and turns its output into docs/providers.md, the
//! README's summary, the feature groups and each provider README's generated part. Because the
//! data comes from the compiled statics, a provider may build them with any const expression,
//! and a new spec field reaches the catalog without touching xtask.

use keyfob::spec::{Handler, OAuth2Spec, Provider, TokenSpec};
use serde::Serialize;

/// The document.
#[derive(Serialize)]
struct Catalog {
    /// `OAuth2Spec::DEFAULTS` and `TokenSpec::DEFAULTS`.
    defaults: Defaults,
    /// Every linked provider, sorted by id.
    providers: Vec<Entry>,
}

#[derive(Serialize)]
struct Defaults {
    oauth2: &'static OAuth2Spec,
    token: &'static TokenSpec,
}

#[derive(Serialize)]
struct Entry {
    id: &'static str,
    display_name: &'static str,
    handlers: Vec<HandlerEntry>,
}

#[derive(Serialize)]
struct HandlerEntry {
    name: &'static str,
    kind: &'static str,
    env_keys: Vec<&'static str>,
    spec: Handler,
}

fn entry(p: &Provider) -> Entry {
    Entry {
        id: p.id,
        display_name: p.display_name,
        handlers: p
            .handlers
            .iter()
            .map(|h| HandlerEntry {
                name: h.name(),
                kind: h.kind().as_str(),
                env_keys: h.env_keys(),
                spec: *h,
            })
            .collect(),
    }
}

fn main() {
    let mut providers: Vec<Entry> = keyfob::providers::ENABLED
        .iter()
        .map(|p| entry(p))
        .collect();
    providers.sort_by_key(|e| e.id);
    let catalog = Catalog {
        defaults: Defaults {
            oauth2: &OAuth2Spec::DEFAULTS,
            token: &TokenSpec::DEFAULTS,
        },
        providers,
    };
    let json = serde_json::to_string_pretty(&catalog).expect("the spec types serialize");
    println!("{json}");
}
