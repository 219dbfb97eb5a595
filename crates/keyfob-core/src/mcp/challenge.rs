//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1): what a protected MCP server says when it
//! wants a token — where its resource metadata is (RFC 9728 §5.1), which scopes (RFC 6750 §3),
//! and why a token was refused.
//!
//! Invariants:
//! - Parsing never fails: what does not parse is skipped, and a header without a `Bearer`
//!   challenge yields none.
//! - Scheme and parameter names compare without case; values are kept as sent (quoted strings
//!   unescaped).

/// The parameters of a `Bearer` challenge that keyfob acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bearer {
    /// RFC 9728: the URL of the protected resource metadata.
    pub resource_metadata: Option<String>,
    /// RFC 6750: the scopes the request needs, space-separated.
    pub scope: Option<String>,
    /// RFC 6750: `invalid_token`, `insufficient_scope`, …
    pub error: Option<String>,
}

/// The first `Bearer` challenge among `headers` (each a `WWW-Authenticate` value, which may hold
/// several challenges).
pub fn bearer<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<Bearer> {
    headers.into_iter().find_map(|h| {
        challenges(h)
            .into_iter()
            .find(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, params)| {
                let get = |name: &str| {
                    params
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.clone())
                };
                Bearer {
                    resource_metadata: get("resource_metadata"),
                    scope: get("scope"),
                    error: get("error"),
                }
            })
    })
}

type Challenge = (String, Vec<(String, String)>);

/// Every challenge of one header value: `Bearer realm="a", scope="x y", Basic realm="b"`.
fn challenges(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = header.trim_start();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        let (word, after) = token(rest);
        if word.is_empty() {
            // Not a token: skip a stray quoted string whole, else one character, and go on.
            rest = if rest.starts_with('"') {
                value(rest).1
            } else {
                &rest[rest.chars().next().map_or(0, char::len_utf8)..]
            };
            continue;
        }
        let after_ws = after.trim_start();
        if let (Some(stripped), Some(current)) = (after_ws.strip_prefix('='), out.last_mut()) {
            // `name=value`: a parameter of the current challenge (not `==`, a token68's padding).
            if !stripped.starts_with('=') {
                let (value, next) = value(stripped.trim_start());
                current.1.push((word.to_owned(), value));
                rest = next;
                continue;
            }
        }
        // A new challenge; a token68 after it (`Negotiate abc==`) is skipped.
        out.push((word.to_owned(), Vec::new()));
        rest = after;
        let t = rest.trim_start();
        let (t68, after68) = token(t);
        if !t68.is_empty() && !after68.trim_start().starts_with('=') {
            let end = after68.trim_start_matches('=');
            if end.trim_start().is_empty() || end.trim_start().starts_with(',') {
                rest = end;
            }
        }
    }
    out
}

/// A token (RFC 9110 `tchar`s) at the start of `s`, and what follows it.
fn token(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)))
        .unwrap_or(s.len());
    s.split_at(end)
}

/// A parameter value (a token or a quoted string) at the start of `s`, and what follows it.
fn value(s: &str) -> (String, &str) {
    let Some(quoted) = s.strip_prefix('"') else {
        let (t, rest) = token(s);
        return (t.to_owned(), rest);
    };
    let mut out = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    out.push(escaped);
                }
            }
            '"' => return (out, &quoted[i + 1..]),
            c => out.push(c),
        }
    }
    // An unterminated string runs to the end.
    (out, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parameters_keyfob_acts_on() {
        let b = bearer([
            r#"Bearer error="insufficient_scope", scope="mcp:basic mcp:write", resource_metadata="http://localhost:1/.well-known/oauth-protected-resource/mcp", error_description="needs \"write\"""#,
        ])
        .unwrap();
        assert_eq!(b.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(b.scope.as_deref(), Some("mcp:basic mcp:write"));
        assert_eq!(
            b.resource_metadata.as_deref(),
            Some("http://localhost:1/.well-known/oauth-protected-resource/mcp")
        );
    }

    #[test]
    fn finds_bearer_among_other_challenges_and_headers() {
        let b = bearer([
            "Basic realm=\"x\"",
            "Negotiate abc==, BEARER Scope=files realm=\"r\", resource_metadata=\"https://a/m\"",
        ])
        .unwrap();
        assert_eq!(b.scope.as_deref(), Some("files"));
        assert_eq!(b.resource_metadata.as_deref(), Some("https://a/m"));
        let b = bearer(["Bearer"]).unwrap();
        assert_eq!(b, Bearer::default());
    }

    #[test]
    fn nonsense_yields_nothing_rather_than_an_error() {
        for h in [
            "",
            "Basic realm=\"x\"",
            "\"Bearer\"",
            "=,=,",
            "Bearer scope=\"unterminated",
        ] {
            let got = bearer([h]);
            if h.starts_with("Bearer") {
                assert_eq!(got.unwrap().scope.as_deref(), Some("unterminated"));
            } else {
                assert!(got.is_none(), "{h:?} gave {got:?}");
            }
        }
    }
}
