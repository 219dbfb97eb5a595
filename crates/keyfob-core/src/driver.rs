//! The `FlowDriver` trait, what runs a handler's flow, and `TokenDriver`, the driver of every token
//! handler.
//!
//! A handler (`spec::Handler`, named like `github-token`) is data: one way to authenticate with a
//! provider. A driver is the behaviour that runs it: it starts the handler's flow, completes it
//! with what the browser brought back, and refreshes its grants. The engine makes one per call
//! from the handler's spec (`OAuth2Driver` in `oauth/driver.rs` for OAuth2 handlers).

use std::fmt;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, ErrorKind, Result};
use crate::scope::Scopes;
use crate::session::Grant;
use crate::spec::{TokenEntry, TokenSpec};
use crate::store::PendingFlow;

/// What a driver needs to start a flow.
pub struct FlowStart {
    /// The fresh, single-use `state`.
    pub state: SecretString,
    /// The OAuth2 redirect URI on the callback server.
    pub redirect_uri: String,
    /// The token-entry page on the callback server (its URL carries the `state`).
    pub page_url: String,
    /// Scopes to ask for, merged already.
    pub scopes: Scopes,
}

impl fmt::Debug for FlowStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowStart")
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// What starting a flow yields.
pub struct Started {
    /// The URL the user must visit.
    pub url: String,
    /// The PKCE verifier to keep until the code comes back.
    pub verifier: Option<SecretString>,
}

impl fmt::Debug for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Started").finish_non_exhaustive()
    }
}

/// What the browser brought back.
pub enum FlowInput {
    /// An OAuth2 authorization code.
    Code(SecretString),
    /// Fields of the token-entry page, by name.
    Fields(Vec<(String, SecretString)>),
    /// A grant the engine already obtained (by polling a device code); drivers never see it.
    Granted(Box<Grant>),
}

impl fmt::Debug for FlowInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowInput::Code(_) => f.write_str("Code([redacted])"),
            FlowInput::Fields(v) => f.debug_list().entries(v.iter().map(|(k, _)| k)).finish(),
            FlowInput::Granted(g) => f.debug_tuple("Granted").field(g).finish(),
        }
    }
}

/// What runs one handler's flow. Dyn-compatible: the engine holds `Box<dyn FlowDriver>`.
#[async_trait]
pub trait FlowDriver: Send + Sync + fmt::Debug {
    /// Starts a flow: the URL the user must visit, and what to keep for completing it.
    async fn start(&self, flow: &FlowStart) -> Result<Started>;

    /// Completes a flow with what the browser brought back.
    async fn complete(&self, pending: &PendingFlow, input: FlowInput) -> Result<Grant>;

    /// Renews a grant with its refresh token.
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`] by default; [`ErrorKind::ReauthRequired`] when the server
    /// rejected the refresh token.
    async fn refresh(&self, _grant: &Grant) -> Result<Grant> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "this handler cannot refresh; log in again",
        ))
    }
}

/// A field of the token-entry page.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Form field name.
    pub name: &'static str,
    /// Label shown to the user.
    pub label: &'static str,
    /// Whether the input is masked.
    pub secret: bool,
}

/// The fields a token entry asks for.
pub fn fields(entry: TokenEntry) -> &'static [Field] {
    const API_KEY: &[Field] = &[Field {
        name: "token",
        label: "API key or token",
        secret: true,
    }];
    const BASIC: &[Field] = &[
        Field {
            name: "username",
            label: "Username",
            secret: false,
        },
        Field {
            name: "password",
            label: "Password",
            secret: true,
        },
    ];
    const PAIR: &[Field] = &[
        Field {
            name: "key",
            label: "API key",
            secret: true,
        },
        Field {
            name: "secret",
            label: "API secret",
            secret: true,
        },
    ];
    match entry {
        TokenEntry::ApiKey => API_KEY,
        TokenEntry::BasicAuth => BASIC,
        TokenEntry::KeyPair { .. } => PAIR,
    }
}

/// The driver of token handlers: keys a user enters.
#[derive(Debug)]
pub struct TokenDriver {
    spec: &'static TokenSpec,
}

impl TokenDriver {
    /// A driver for `spec`.
    pub fn new(spec: &'static TokenSpec) -> Self {
        TokenDriver { spec }
    }

    /// Builds the grant from entered fields (also used for keys taken from the environment).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when a field is missing, empty, too long or has control
    /// characters.
    pub fn grant_from_fields(&self, mut input: Vec<(String, SecretString)>) -> Result<Grant> {
        let mut take = |name: &str| -> Result<SecretString> {
            let pos = input.iter().position(|(k, _)| k == name);
            let value = pos
                .map(|i| input.swap_remove(i).1)
                .ok_or_else(|| missing(name))?;
            let trimmed = value.expose_secret().trim();
            if trimmed.is_empty() {
                return Err(missing(name));
            }
            if trimmed.len() > 8192 || trimmed.chars().any(char::is_control) {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("the {name} is too long or contains control characters"),
                ));
            }
            Ok(SecretString::from(trimmed.to_owned()))
        };
        let grant = match self.spec.entry {
            TokenEntry::ApiKey => Grant::bearer(take("token")?),
            TokenEntry::BasicAuth => {
                let user = take("username")?;
                let password = take("password")?;
                let joined = format!("{}:{}", user.expose_secret(), password.expose_secret());
                Grant::bearer(SecretString::from(STANDARD.encode(joined)))
            }
            TokenEntry::KeyPair { secret_env_key } => {
                let key = take("key")?;
                let secret = take("secret")?;
                let mut grant = Grant::bearer(key);
                grant
                    .extra_secrets
                    .push((secret_env_key.to_owned(), secret));
                grant
            }
        };
        // Whatever else was posted would be neither checked nor stored: refuse it rather than
        // guess which value the user meant. The name is not repeated (it is the sender's text).
        if !input.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the form has a field this page does not ask for; use the page keyfob showed you",
            ));
        }
        Ok(grant)
    }
}

fn missing(name: &str) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("the {name} field is empty"),
    )
}

#[async_trait]
impl FlowDriver for TokenDriver {
    async fn start(&self, flow: &FlowStart) -> Result<Started> {
        Ok(Started {
            url: flow.page_url.clone(),
            verifier: None,
        })
    }

    async fn complete(&self, _pending: &PendingFlow, input: FlowInput) -> Result<Grant> {
        match input {
            FlowInput::Fields(fields) => self.grant_from_fields(fields),
            FlowInput::Code(_) | FlowInput::Granted(_) => Err(Error::new(
                ErrorKind::InvalidInput,
                "a token handler takes entered keys, not an authorization code",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static BASIC: TokenSpec = TokenSpec {
        name: "x-basicauth",
        env_key: "X",
        entry: TokenEntry::BasicAuth,
        ..TokenSpec::DEFAULTS
    };
    static KEY: TokenSpec = TokenSpec {
        name: "x-token",
        env_key: "X",
        ..TokenSpec::DEFAULTS
    };

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, SecretString)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretString::from(*v)))
            .collect()
    }

    #[test]
    fn basic_auth_is_base64_of_user_colon_password() {
        let g = TokenDriver::new(&BASIC)
            .grant_from_fields(f(&[("username", "ann"), ("password", "pw")]))
            .unwrap();
        assert_eq!(g.access_token.expose_secret(), "YW5uOnB3");
    }

    #[test]
    fn rejects_empty_and_control_characters() {
        let h = TokenDriver::new(&KEY);
        assert_eq!(
            h.grant_from_fields(f(&[("token", "  ")]))
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            h.grant_from_fields(f(&[])).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let e = h.grant_from_fields(f(&[("token", "a\u{0}b")])).unwrap_err();
        assert!(!e.to_string().contains("a\u{0}b"));
        assert_eq!(
            h.grant_from_fields(f(&[("token", " tok \n")]))
                .unwrap()
                .access_token
                .expose_secret(),
            "tok"
        );
    }
}
