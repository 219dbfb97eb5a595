//! The key layout: every Redis key and channel name the store uses, built from the prefix, and
//! the escaping that keeps session keys apart and inside one hash tag.
//!
//! A session key `(provider, thread, profile)` becomes the hash tag `{p/t/f}`, each part escaped
//! so that only `A-Z a-z 0-9 - _ . ~` stay as they are and every other byte becomes `%XX`. The
//! separator `/`, the tag's braces, Redis glob characters and `:` are therefore never part of an
//! escaped part: two different keys never share a tag, a tag always ends at its own `}`, and a
//! `SCAN` pattern built from an escaped thread matches only that thread.

use keyfob_core::{Error, ErrorKind, Result, SessionKey};

/// The longest prefix accepted.
const MAX_PREFIX: usize = 100;

/// What the store calls the engine's refresh lease (see [`Keys::lease`]).
const ENGINE_REFRESH_LEASE: &str = "refresh";

/// Builds every key name for one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    /// Names under `prefix`, which [`check_prefix`] accepted.
    pub(crate) fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    /// The prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>:{p/t/f}:<what>`: a key in the session's slot.
    fn in_slot(&self, key: &SessionKey, what: &str) -> String {
        format!("{}:{{{}}}:{what}", self.prefix, tag(key))
    }

    /// The session hash: `v` (version) and `d` (sealed record).
    pub(crate) fn session(&self, key: &SessionKey) -> String {
        self.in_slot(key, "session")
    }

    /// The last version given to the session key; outlives a delete so versions never repeat.
    pub(crate) fn version(&self, key: &SessionKey) -> String {
        self.in_slot(key, "version")
    }

    /// The session key's pending flow: `h` (state hash), `st` (status), `exp` (expiry),
    /// `d` (sealed record) and `by` (the claimer's token, once claimed).
    pub(crate) fn flow(&self, key: &SessionKey) -> String {
        self.in_slot(key, "flow")
    }

    /// The pub/sub channel announcing changes of the session key's session or flow.
    pub(crate) fn events(&self, key: &SessionKey) -> String {
        self.in_slot(key, "events")
    }

    /// The pattern matching every [`Keys::events`] channel of this prefix.
    pub(crate) fn events_pattern(&self) -> String {
        format!("{}:{{*}}:events", self.prefix)
    }

    /// The lease `name`. The engine names its refresh lease `refresh\0<provider>\0<thread>\0<profile>`;
    /// that lease is put in the session's slot, beside what it guards. Any other name gets a key
    /// of its own.
    pub(crate) fn lease(&self, name: &str) -> String {
        let parts: Vec<&str> = name.split('\0').collect();
        match parts.as_slice() {
            [ENGINE_REFRESH_LEASE, provider, thread, profile] => {
                let key = SessionKey {
                    provider: (*provider).to_owned(),
                    thread: (*thread).to_owned(),
                    profile: (*profile).to_owned(),
                };
                self.in_slot(&key, "lease:refresh")
            }
            _ => format!("{}:lease:{}", self.prefix, escape(name)),
        }
    }

    /// The index from a state hash to the session key whose flow it is.
    pub(crate) fn state(&self, state_hash: &str) -> String {
        format!("{}:state:{}", self.prefix, escape(state_hash))
    }

    /// The sorted set of flows by expiry, which `purge_expired` walks.
    pub(crate) fn expiries(&self) -> String {
        format!("{}:expiries", self.prefix)
    }

    /// The sealed constant that recognises the encryption key.
    pub(crate) fn key_check(&self) -> String {
        format!("{}:keycheck", self.prefix)
    }

    /// A `SCAN` pattern for the session hashes of one thread, or of all.
    pub(crate) fn session_pattern(&self, thread: Option<&str>) -> String {
        match thread {
            Some(t) => format!("{}:{{*/{}/*}}:session", self.prefix, escape(t)),
            None => format!("{}:{{*}}:session", self.prefix),
        }
    }

    /// The session key of a session hash's name; `None` for a name this layout does not make.
    pub(crate) fn parse_session(&self, name: &str) -> Option<SessionKey> {
        let inner = name
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(":{")?
            .strip_suffix("}:session")?;
        parse_tag(inner)
    }
}

/// The member of [`Keys::expiries`] for a flow: `p/t/f` and the escaped state hash, joined by
/// `:` (which escaping keeps out of both).
pub(crate) fn expiry_member(key: &SessionKey, state_hash: &str) -> String {
    format!("{}:{}", tag(key), escape(state_hash))
}

/// The session key and state hash of an [`expiry_member`].
pub(crate) fn parse_expiry_member(member: &str) -> Option<(SessionKey, String)> {
    let (tag, hash) = member.split_once(':')?;
    Some((parse_tag(tag)?, unescape(hash)?))
}

/// The inside of a session's hash tag, `p/t/f` escaped.
pub(crate) fn tag(key: &SessionKey) -> String {
    format!(
        "{}/{}/{}",
        escape(&key.provider),
        escape(&key.thread),
        escape(&key.profile)
    )
}

/// The session key of a tag's inside.
pub(crate) fn parse_tag(tag: &str) -> Option<SessionKey> {
    let mut parts = tag.split('/');
    let (p, t, f) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(SessionKey {
        provider: unescape(p)?,
        thread: unescape(t)?,
        profile: unescape(f)?,
    })
}

/// Keeps `A-Z a-z 0-9 - _ . ~` and writes every other byte as `%XX`.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inverse of [`escape`]; `None` for text that [`escape`] cannot have written.
fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Accepts 1 to 100 characters of `A-Z a-z 0-9 - _ . :`: no braces (they would move the hash
/// tag), no glob characters (they would widen `SCAN` and `PSUBSCRIBE` patterns), no spaces.
///
/// # Errors
/// [`ErrorKind::Config`] naming what is wrong.
pub(crate) fn check_prefix(prefix: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if prefix.is_empty() || prefix.len() > MAX_PREFIX || !prefix.chars().all(ok_char) {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "the redis key prefix must be 1 to {MAX_PREFIX} characters of letters, digits, \
                 `-`, `_`, `.` and `:` (got {:?})",
                prefix.chars().take(MAX_PREFIX + 1).collect::<String>()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(p: &str, t: &str, f: &str) -> SessionKey {
        SessionKey::new(p, t, f)
    }

    #[test]
    fn tags_are_distinct_and_parse_back() {
        let keys = [
            k("a", "b/c", "d"),
            k("a/b", "c", "d"),
            k("a:b", "c", "d"),
            k("a", "b:c", "d"),
            k("a", "{x}", "d"),
            k("a", "%41", "d"),
            k("a", "A", "d"),
            k("a", "thread é 😀", "*"),
        ];
        let tags: std::collections::HashSet<_> = keys.iter().map(tag).collect();
        assert_eq!(tags.len(), keys.len(), "{tags:?}");
        let layout = Keys::new("kf");
        for key in &keys {
            let t = tag(key);
            assert!(
                !t.contains(['{', '}', ':', '*', '?', '[', ']', '\\']),
                "{t}"
            );
            assert_eq!(parse_tag(&t).as_ref(), Some(key));
            assert_eq!(
                layout.parse_session(&layout.session(key)).as_ref(),
                Some(key)
            );
            let member = expiry_member(key, "ab:cd");
            assert_eq!(
                parse_expiry_member(&member),
                Some((key.clone(), "ab:cd".to_owned()))
            );
        }
    }

    #[test]
    fn one_session_keeps_one_slot() {
        let layout = Keys::new("kf");
        let key = k("github", "t 1", "work");
        let tag_of = |name: &str| {
            let open = name.find('{').unwrap();
            let close = open + name[open..].find('}').unwrap();
            name[open..=close].to_owned()
        };
        let want = tag_of(&layout.session(&key));
        for name in [
            layout.version(&key),
            layout.flow(&key),
            layout.events(&key),
            layout.lease("refresh\0github\0t 1\0work"),
        ] {
            assert_eq!(tag_of(&name), want, "{name}");
        }
        assert_eq!(want, "{github/t%201/work}");
        assert_eq!(layout.lease("other"), "kf:lease:other");
        assert_eq!(
            layout.lease("refresh\0too\0few"),
            "kf:lease:refresh%00too%00few"
        );
    }

    #[test]
    fn patterns_match_only_their_thread() {
        let layout = Keys::new("app:kf");
        assert_eq!(
            layout.session_pattern(Some("t*1")),
            "app:kf:{*/t%2A1/*}:session"
        );
        assert_eq!(layout.session_pattern(None), "app:kf:{*}:session");
        assert_eq!(layout.events_pattern(), "app:kf:{*}:events");
        assert!(layout.parse_session("app:kf:{a/b}:session").is_none());
        assert!(layout.parse_session("app:kf:{a/b/c/d}:session").is_none());
        assert!(layout.parse_session("other:{a/b/c}:session").is_none());
        assert!(layout.parse_session("app:kf:{a/b/%zz}:session").is_none());
    }

    #[test]
    fn prefixes_are_checked() {
        for good in ["keyfob", "app:keyfob", "a.b-c_d", "x"] {
            check_prefix(good).unwrap();
        }
        for bad in ["", "a{b}", "a*", "a b", "a?", "a[b]", "é", &"x".repeat(101)] {
            let e = check_prefix(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{bad}");
            assert!(e.to_string().contains("prefix"), "{e}");
        }
    }
}
