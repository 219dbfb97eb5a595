//! The provider registry: compiled-in providers collected through `inventory`, plus the
//! catalog an engine serves (compiled-in and config-defined providers together).
//!
//! rustc links a crate only when some path names it, so a provider crate that nothing names
//! registers nothing. The facade names every enabled provider crate for that reason.

use std::collections::BTreeMap;

use crate::error::{Error, ErrorKind, Result};
use crate::spec::{Handler, Provider};

/// One provider registration, submitted by [`register_provider!`](crate::register_provider).
#[derive(Debug)]
pub struct Registration(pub &'static Provider);

inventory::collect!(Registration);

/// Registers a provider `static` with the core. Use once per provider crate.
#[macro_export]
macro_rules! register_provider {
    ($provider:path) => {
        $crate::__inventory::submit! { $crate::registry::Registration(&$provider) }
    };
}

/// Every compiled-in provider, sorted by id (inventory's own order is unspecified).
pub fn all() -> Vec<&'static Provider> {
    let mut v: Vec<_> = inventory::iter::<Registration>
        .into_iter()
        .map(|r| r.0)
        .collect();
    v.sort_by_key(|p| p.id);
    v
}

/// The compiled-in provider `id`.
pub fn get(id: &str) -> Option<&'static Provider> {
    inventory::iter::<Registration>
        .into_iter()
        .map(|r| r.0)
        .find(|p| p.id == id)
}

/// The providers an engine serves, with lookups that explain what is missing.
#[derive(Debug, Clone)]
pub struct Catalog {
    providers: BTreeMap<&'static str, &'static Provider>,
    known: &'static [&'static str],
}

impl Catalog {
    /// The compiled-in providers. `known` lists every provider id that exists as a crate (enabled
    /// or not), so that a disabled one can be named with the feature that enables it.
    pub fn compiled(known: &'static [&'static str]) -> Self {
        Catalog {
            providers: all().into_iter().map(|p| (p.id, p)).collect(),
            known,
        }
    }

    /// Adds (or replaces) a provider, e.g. one defined in config.
    pub fn insert(&mut self, provider: &'static Provider) {
        self.providers.insert(provider.id, provider);
    }

    /// All providers, sorted by id.
    pub fn iter(&self) -> impl Iterator<Item = &'static Provider> + '_ {
        self.providers.values().copied()
    }

    /// The provider `id`.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownProvider`], naming the enabled ids, or the feature to turn on when
    /// the provider exists but is not compiled in.
    pub fn provider(&self, id: &str) -> Result<&'static Provider> {
        if let Some(p) = self.providers.get(id) {
            return Ok(p);
        }
        let message = if self.known.contains(&id) {
            format!(
                "provider `{id}` is not compiled into this build; enable the Cargo feature `{id}` of the `keyfob` crate (or `all-providers`); {}",
                self.enabled_hint()
            )
        } else {
            let shown = if id.len() > 64 || !id.chars().all(|c| c.is_ascii_graphic()) {
                "<invalid>"
            } else {
                id
            };
            let near = self
                .providers
                .keys()
                .chain(self.known.iter())
                .map(|k| (strsim::damerau_levenshtein(id, k), *k))
                .filter(|(d, k)| *d <= 2.max(k.len() / 4))
                .min();
            match near {
                Some((_, k)) => format!(
                    "unknown provider `{shown}`; did you mean `{k}`? {}",
                    self.enabled_hint()
                ),
                None => format!("unknown provider `{shown}`; {}", self.enabled_hint()),
            }
        };
        Err(Error::new(ErrorKind::UnknownProvider, message))
    }

    /// Names the enabled providers, or counts them when there are too many to read in one line.
    fn enabled_hint(&self) -> String {
        let n = self.providers.len();
        if n <= 12 {
            let ids: Vec<_> = self.providers.keys().copied().collect();
            format!("enabled providers: {}", ids.join(", "))
        } else {
            format!("{n} providers are enabled; `keyfob providers` lists them")
        }
    }

    /// The handler `name` of provider `id`, or its default handler.
    ///
    /// # Errors
    /// Unknown provider, or [`ErrorKind::UnknownProvider`] listing the provider's handlers.
    pub fn handler(
        &self,
        id: &str,
        name: Option<&str>,
    ) -> Result<(&'static Provider, &'static Handler)> {
        let provider = self.provider(id)?;
        match name {
            None => Ok((provider, provider.default_handler())),
            Some(n) => provider.handler(n).map(|h| (provider, h)).ok_or_else(|| {
                let names: Vec<_> = provider.handlers.iter().map(|h| h.name()).collect();
                Error::new(
                    ErrorKind::UnknownProvider,
                    format!(
                        "provider `{id}` has no handler `{n}`; its handlers: {}",
                        names.join(", ")
                    ),
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_explain_what_is_missing() {
        let catalog = Catalog::compiled(&["zz_disabled"]);
        let e = catalog.provider("zz_disabled").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownProvider);
        assert!(
            e.to_string()
                .contains("enable the Cargo feature `zz_disabled`"),
            "{e}"
        );
        let e = catalog.provider("nope").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("unknown provider `nope`; enabled providers:"),
            "{e}"
        );
        let e = catalog.provider("zz_disabeld").unwrap_err();
        assert!(e.to_string().contains("did you mean `zz_disabled`?"), "{e}");
        let e = catalog.provider("<script>\u{0}").unwrap_err();
        assert!(e.to_string().contains("<invalid>"), "{e}");
    }
}
