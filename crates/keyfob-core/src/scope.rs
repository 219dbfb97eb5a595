//! Scope sets: parsing with any separator, union, and the superset test.

use std::collections::BTreeSet;

/// A set of scopes, ordered for stable output.
pub type Scopes = BTreeSet<String>;

/// Parses a scope string the way servers write it: split on spaces and commas.
pub fn parse(s: &str) -> Scopes {
    s.split([' ', ','])
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Joins scopes with a provider's separator.
pub fn join(scopes: &Scopes, separator: &str) -> String {
    scopes
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(separator)
}

/// Whether `granted` covers every scope in `wanted`.
pub fn covers(granted: &Scopes, wanted: &Scopes) -> bool {
    wanted.is_subset(granted)
}

/// Builds a set from string slices.
pub fn from_iter<'a>(it: impl IntoIterator<Item = &'a str>) -> Scopes {
    it.into_iter()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_join_cover() {
        let s = parse("repo, read:user  gist");
        assert_eq!(join(&s, ","), "gist,read:user,repo");
        assert!(covers(&s, &from_iter(["repo"])));
        assert!(!covers(&s, &from_iter(["repo", "admin"])));
        assert!(covers(&s, &Scopes::new()));
    }
}
