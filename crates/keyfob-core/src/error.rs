//! The one error type of every keyfob library crate.

use std::fmt;

/// What went wrong, for callers that branch on it.
///
/// Match on this rather than on message text; new kinds may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Configuration is missing or invalid (client id, endpoint, config file).
    Config,
    /// No provider of that name is compiled in or configured.
    UnknownProvider,
    /// The provider or handler cannot do what was asked.
    Unsupported,
    /// The user or the authorization server refused.
    Denied,
    /// The network request failed or timed out, or the server was unavailable (HTTP 5xx, 429):
    /// worth a retry later.
    Transport,
    /// A server answered something that breaks the protocol.
    Protocol,
    /// A flow or `state` has expired or was already used.
    Expired,
    /// The session store failed.
    Store,
    /// A compare-and-swap write lost to a concurrent writer.
    Conflict,
    /// There is no session for that key.
    NoSession,
    /// The session can no longer be refreshed: the user must log in again.
    ReauthRequired,
    /// The caller's input is malformed (a callback without `code`, a bad id).
    InvalidInput,
    /// Waiting for the user took longer than allowed.
    Timeout,
}

impl ErrorKind {
    /// A stable lowercase name, used in JSON output and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::UnknownProvider => "unknown_provider",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Denied => "denied",
            ErrorKind::Transport => "transport",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Expired => "expired",
            ErrorKind::Store => "store",
            ErrorKind::Conflict => "conflict",
            ErrorKind::NoSession => "no_session",
            ErrorKind::ReauthRequired => "reauth_required",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Timeout => "timeout",
        }
    }

    /// The kind named by [`ErrorKind::as_str`]; unknown names read as `Protocol`.
    pub fn parse(name: &str) -> ErrorKind {
        const ALL: [ErrorKind; 13] = [
            ErrorKind::Config,
            ErrorKind::UnknownProvider,
            ErrorKind::Unsupported,
            ErrorKind::Denied,
            ErrorKind::Transport,
            ErrorKind::Protocol,
            ErrorKind::Expired,
            ErrorKind::Store,
            ErrorKind::Conflict,
            ErrorKind::NoSession,
            ErrorKind::ReauthRequired,
            ErrorKind::InvalidInput,
            ErrorKind::Timeout,
        ];
        ALL.into_iter()
            .find(|k| k.as_str() == name)
            .unwrap_or(ErrorKind::Protocol)
    }
}

/// An error from any keyfob operation.
///
/// Messages never carry a secret, an authorization code, a `state` or a URL with a query string.
pub struct Error {
    kind: ErrorKind,
    message: String,
    provider: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The result type of keyfob's library crates.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a lowercase, secret-free message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            provider: None,
            source: None,
        }
    }

    /// Names the provider the error concerns.
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Attaches the underlying cause. The cause must not render a secret either.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The provider id, when the error concerns one.
    pub fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    /// The message without provider prefix or cause.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.provider {
            Some(p) => write!(f, "{p}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("provider", &self.provider)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Keeps text from outside (a server's error description) printable and short.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .take(200)
        .collect()
}

/// Characters that reorder what a terminal shows (Trojan Source, CVE-2021-42574): embeddings,
/// overrides, isolates and marks. A provider's message must not be able to hide or reverse text.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MUTATION: dropping `is_bidi_control` from `printable` fails this.
    #[test]
    fn printable_drops_controls_and_bidi_overrides() {
        let hostile = "bad\u{202E}gnp.exe\u{2066}x\u{2069}\u{200F}\n\u{1b}[31mred";
        assert_eq!(printable(hostile), "badgnp.exex[31mred");
    }

    #[test]
    fn display_prefixes_provider_and_keeps_source() {
        let io = std::io::Error::other("disk gone");
        let e = Error::new(ErrorKind::Store, "cannot write session")
            .with_provider("github")
            .with_source(io);
        assert_eq!(e.to_string(), "github: cannot write session");
        assert_eq!(
            std::error::Error::source(&e).unwrap().to_string(),
            "disk gone"
        );
        assert_eq!(e.kind().as_str(), "store");
    }
}
