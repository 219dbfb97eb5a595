//! Configuration: one `keyfob.toml` plus `KEYFOB_…` environment variables.
//!
//! The file is found at `--config`, `KEYFOB_CONFIG`, `./keyfob.toml`, then the user config
//! directory. Variables override it, `__` separating levels:
//! `KEYFOB_AUTH__GITHUB__CLIENT_SECRET`, `KEYFOB_STORE__KIND`, `KEYFOB_HOME`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use crate::error::{Error, ErrorKind, Result};

/// The default address of the callback server. OAuth apps register redirect URIs with the port
/// in them, so it is fixed rather than random.
pub const DEFAULT_BIND: &str = "127.0.0.1:8975";

/// All of keyfob's configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where keyfob keeps its data (`KEYFOB_HOME`); the platform data directory by default.
    pub home: Option<PathBuf>,
    /// The callback server.
    pub server: ServerConfig,
    /// The session store.
    pub store: StoreConfig,
    /// Session timing.
    pub session: SessionConfig,
    /// Per-provider settings, `[auth.<provider>]`.
    pub auth: BTreeMap<String, ProviderConfig>,
    /// Generic OAuth2 providers defined in config, `[providers.<id>]`.
    pub providers: BTreeMap<String, CustomProvider>,
    /// Protected remote MCP servers, `[mcp.<name>]`; each is the provider `mcp_<name>`.
    pub mcp: BTreeMap<String, McpServer>,
}

/// `[mcp.<name>]`: a protected remote MCP server keyfob logs in to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpServer {
    /// The server's URL (`https://mcp.example.com/mcp`; plain http only on loopback).
    pub url: String,
    /// A client registered in advance at its authorization server; without it keyfob registers
    /// itself (RFC 7591) where the server allows.
    pub client_id: Option<String>,
    /// That client's secret, if it has one.
    pub client_secret: Option<SecretString>,
    /// Where keyfob's Client ID Metadata Document is published (an https URL with a path):
    /// the client id at authorization servers that accept such documents, instead of
    /// registering.
    pub client_metadata_url: Option<String>,
    /// Scopes asked for besides those the server names.
    pub scopes: Vec<String>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to bind; loopback by default.
    pub bind: SocketAddr,
    /// The URL browsers reach the server at, when behind a proxy (`https://auth.example.com`).
    pub public_base_url: Option<String>,
    /// A path prefix the proxy adds (`/keyfob`).
    pub path_prefix: String,
    /// Serve https with a self-signed certificate for 127.0.0.1/localhost kept in the home
    /// directory (`tls/`) and renewed before it expires (Slack wants https redirect URIs).
    pub tls: bool,
    /// Serve https with this certificate chain (PEM); needs `tls_key`.
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of `tls_cert`.
    pub tls_key: Option<std::path::PathBuf>,
    /// How long a client may take to send a request's headers, or a form's body, and how long
    /// a keep-alive connection may sit idle, before it is closed (a stalled or slow-drip client
    /// would otherwise hold its connection and task for ever).
    pub read_timeout_secs: u64,
}

impl ServerConfig {
    /// Whether the callback server speaks https (and login links say so).
    pub fn https(&self) -> bool {
        self.tls || self.tls_cert.is_some()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: DEFAULT_BIND.parse().expect("valid default address"),
            public_base_url: None,
            path_prefix: String::new(),
            tls: false,
            tls_cert: None,
            tls_key: None,
            read_timeout_secs: 10,
        }
    }
}

/// Which store holds sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// In process memory.
    Memory,
    /// The embedded encrypted SQLite store (the CLI's default).
    #[default]
    Sqlite,
    /// Redis, for several instances.
    Redis,
    /// PostgreSQL, the durable vault for several instances.
    Postgres,
}

/// `[store]`.
#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The store kind.
    pub kind: StoreKind,
    /// The SQLite database file; `<home>/sessions.db` by default.
    pub path: Option<PathBuf>,
    /// The Redis URL, `redis://[user:password@]host[:port][/db]`, or the PostgreSQL URL,
    /// `postgres://user:password@host[:port]/database` (never shown: it may hold a password).
    pub url: Option<String>,
    /// The Redis key prefix; `keyfob` by default. Instances sharing a prefix share sessions.
    pub prefix: Option<String>,
    /// Redis: keep sessions in process memory while Redis tracks them (server-assisted
    /// client-side caching, Redis 6+); a session within `[session] refresh_margin_secs` of its
    /// expiry is always read from Redis.
    pub client_cache: bool,
    /// For a `rediss://` url, or a PostgreSQL url with `sslmode=require`: a CA certificate
    /// (PEM) to trust instead of the system's roots.
    pub tls_ca: Option<PathBuf>,
    /// For the same TLS urls: a client certificate (PEM), with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// The encryption key as base64 of 32 bytes; otherwise a key file is used.
    pub key: Option<SecretString>,
    /// The key file; `<home>/key` by default, created with mode 0600 when missing.
    pub key_file: Option<PathBuf>,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("kind", &self.kind)
            .field("path", &self.path)
            .field("key", &self.key.as_ref().map(|_| "[redacted]"))
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

/// `[session]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Refresh tokens that expire within this many seconds.
    pub refresh_margin_secs: u64,
    /// A pending flow (and its `state`) expires after this many seconds.
    pub flow_timeout_secs: u64,
    /// Timeout of each request to a provider.
    pub http_timeout_secs: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            refresh_margin_secs: 300,
            flow_timeout_secs: 300,
            http_timeout_secs: 30,
        }
    }
}

/// `[auth.<provider>]`: credentials and overrides for one provider.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    /// The OAuth2 client id.
    pub client_id: Option<String>,
    /// The OAuth2 client secret.
    pub client_secret: Option<SecretString>,
    /// Whether to ask for the provider's recommended scopes too.
    pub use_recommended_scopes: bool,
    /// Whether a token handler may take the key from its env variable (`NOTION_TOKEN`).
    pub allow_env: bool,
    /// Whether per-tenant endpoint fields (`domain_url`) may point at loopback, private or
    /// link-local addresses. Off: such a value is refused before any request.
    pub allow_internal_endpoints: bool,
    /// Discover endpoints from this OIDC issuer.
    pub issuer: Option<String>,
    /// Overrides the authorization endpoint (self-hosted or test servers).
    pub authorize_url: Option<String>,
    /// Overrides the token endpoint.
    pub token_url: Option<String>,
    /// Overrides the revocation endpoint.
    pub revoke_url: Option<String>,
    /// Overrides the device authorization endpoint.
    pub device_url: Option<String>,
    /// Overrides the endpoint that names the account (OIDC userinfo).
    pub userinfo_url: Option<String>,
    /// Whether a key entered for a token handler is checked with the provider (the spec's
    /// verification request) before it is stored.
    pub verify_key: bool,
    /// Overrides the key check's URL (a self-hosted instance, a test stub).
    pub verify_url: Option<String>,
    /// Whether logins use the device flow (a code typed on another device) by default, where
    /// the provider offers it.
    pub device_flow: bool,
    /// RFC 8707 resource indicator sent with every authorization, token and refresh request
    /// (an MCP server's canonical URI).
    pub resource: Option<String>,
    /// The issuer an authorization response's `iss` must equal exactly, without discovery (set
    /// for MCP logins from their record; not a config key).
    #[serde(skip)]
    pub exact_issuer: Option<String>,
    /// Whether that issuer names itself in every authorization response (RFC 9207), so that a
    /// response without `iss` is refused.
    #[serde(skip)]
    pub iss_always: bool,
    /// Provider fields such as Salesforce's `domain_url`.
    #[serde(flatten)]
    pub extra: BTreeMap<String, String>,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            client_id: None,
            client_secret: None,
            use_recommended_scopes: true,
            allow_env: false,
            allow_internal_endpoints: false,
            issuer: None,
            authorize_url: None,
            token_url: None,
            revoke_url: None,
            device_url: None,
            userinfo_url: None,
            verify_key: true,
            verify_url: None,
            device_flow: false,
            resource: None,
            exact_issuer: None,
            iss_always: false,
            extra: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("use_recommended_scopes", &self.use_recommended_scopes)
            .field("issuer", &self.issuer)
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// `[providers.<id>]`: a generic OAuth2 provider with no crate of its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomProvider {
    /// The name shown to people; the id by default.
    pub display_name: Option<String>,
    /// OIDC issuer to discover endpoints from (`/.well-known/openid-configuration`).
    pub issuer: Option<String>,
    /// Authorization endpoint (when there is no issuer).
    pub authorize_url: Option<String>,
    /// Token endpoint (when there is no issuer).
    pub token_url: Option<String>,
    /// Revocation endpoint.
    pub revoke_url: Option<String>,
    /// Device authorization endpoint (RFC 8628).
    pub device_url: Option<String>,
    /// The endpoint that names the account (OIDC userinfo).
    pub userinfo_url: Option<String>,
    /// Scopes always requested.
    pub scopes: Vec<String>,
    /// What joins scopes.
    pub scope_separator: String,
    /// Whether to use PKCE (S256).
    pub pkce: bool,
    /// `basic` or `body`.
    pub client_auth: String,
    /// `none`, `plain` or `rotating`.
    pub refresh: String,
    /// The env key tools read; `<ID>_TOKEN` by default.
    pub env_key: Option<String>,
}

impl Default for CustomProvider {
    fn default() -> Self {
        CustomProvider {
            display_name: None,
            issuer: None,
            authorize_url: None,
            token_url: None,
            revoke_url: None,
            device_url: None,
            userinfo_url: None,
            scopes: Vec::new(),
            scope_separator: " ".into(),
            pkce: true,
            client_auth: "basic".into(),
            refresh: "plain".into(),
            env_key: None,
        }
    }
}

impl Config {
    /// Loads the config file (if any) and the environment.
    ///
    /// Returns the config and the file it came from.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming the file and key when something does not parse.
    pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>)> {
        let path = match explicit {
            Some(p) => {
                if !p.is_file() {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!("config file {} does not exist", p.display()),
                    ));
                }
                Some(p.to_path_buf())
            }
            None => find_config_file(),
        };
        let mut figment = Figment::new();
        if let Some(p) = &path {
            figment = figment.merge(Toml::file_exact(p));
        }
        figment = figment.merge(env_provider());
        let config: Config = figment.extract().map_err(config_error)?;
        config.validate()?;
        Ok((config, path))
    }

    /// Parses config from TOML text plus the environment (for tests and embedding).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when it does not parse or validate.
    pub fn from_toml(text: &str) -> Result<Config> {
        let config: Config = Figment::new()
            .merge(Toml::string(text))
            .extract()
            .map_err(config_error)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that serde cannot.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for the first invalid value.
    pub fn validate(&self) -> Result<()> {
        if let Some(u) = &self.server.public_base_url {
            let url = endpoint_url(u, "server.public_base_url")?;
            if url.query().is_some() || url.fragment().is_some() {
                return Err(Error::new(
                    ErrorKind::Config,
                    "server.public_base_url must not have a query or fragment",
                ));
            }
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(Error::new(
                ErrorKind::Config,
                "server.tls_cert and server.tls_key go together: set both, or `tls = true` for a self-signed certificate",
            ));
        }
        let prefix = &self.server.path_prefix;
        if !prefix.is_empty() && (!prefix.starts_with('/') || prefix.ends_with('/')) {
            return Err(Error::new(
                ErrorKind::Config,
                "server.path_prefix must start with `/` and not end with one",
            ));
        }
        if self.store.kind == StoreKind::Redis && self.store.url.is_none() {
            return Err(Error::new(
                ErrorKind::Config,
                "[store] kind = \"redis\" needs url = \"redis://[user:password@]host[:port][/db]\" (or KEYFOB_STORE__URL)",
            ));
        }
        if self.store.kind == StoreKind::Postgres && self.store.url.is_none() {
            return Err(Error::new(
                ErrorKind::Config,
                "[store] kind = \"postgres\" needs url = \"postgres://user:password@host[:port]/database\" (or KEYFOB_STORE__URL)",
            ));
        }
        if self.session.flow_timeout_secs == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "session.flow_timeout_secs must be positive",
            ));
        }
        for (id, p) in &self.auth {
            for (what, v) in [
                ("issuer", &p.issuer),
                ("authorize_url", &p.authorize_url),
                ("token_url", &p.token_url),
                ("revoke_url", &p.revoke_url),
                ("device_url", &p.device_url),
            ] {
                if let Some(v) = v {
                    endpoint_url(v, &format!("auth.{id}.{what}"))?;
                }
            }
        }
        for (name, m) in &self.mcp {
            if !crate::spec::is_valid_id(&format!("mcp_{name}")) {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("mcp.{name}: names must match ^[a-z0-9_]+$"),
                ));
            }
            endpoint_url(&m.url, &format!("mcp.{name}.url"))?;
            if let Some(u) = &m.client_metadata_url {
                let what = format!("mcp.{name}.client_metadata_url");
                let url = endpoint_url(u, &what)?;
                if url.scheme() != "https" || url.path().len() < 2 {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!("{what} must be an https URL with a path (the document's address)"),
                    ));
                }
            }
        }
        for (id, p) in &self.providers {
            if !crate::spec::is_valid_id(id) {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("providers.{id}: ids must match ^[a-z][a-z0-9_]*$"),
                ));
            }
            if p.issuer.is_none() && (p.authorize_url.is_none() || p.token_url.is_none()) {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "providers.{id} needs either `issuer` or both `authorize_url` and `token_url`"
                    ),
                ));
            }
            if !matches!(p.client_auth.as_str(), "basic" | "body") {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("providers.{id}.client_auth must be `basic` or `body`"),
                ));
            }
            if !matches!(p.refresh.as_str(), "none" | "plain" | "rotating") {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("providers.{id}.refresh must be `none`, `plain` or `rotating`"),
                ));
            }
            for (what, v) in [
                ("issuer", &p.issuer),
                ("authorize_url", &p.authorize_url),
                ("token_url", &p.token_url),
            ] {
                if let Some(v) = v {
                    endpoint_url(v, &format!("providers.{id}.{what}"))?;
                }
            }
        }
        Ok(())
    }

    /// The data directory: `home`, else `<platform data dir>/keyfob`.
    pub fn home(&self) -> PathBuf {
        self.home.clone().unwrap_or_else(|| {
            dirs::data_dir()
                .unwrap_or_else(|| PathBuf::from("."))
                .join("keyfob")
        })
    }

    /// The provider's settings (defaults when it has no `[auth.<id>]` table).
    pub fn provider(&self, id: &str) -> ProviderConfig {
        self.auth.get(id).cloned().unwrap_or_default()
    }
}

/// The names of keyfob's own variables in this process's environment (`KEYFOB_…`: the store
/// key, client secrets, settings). A process started for a tool (`keyfob exec`, a manifest's
/// command) gets the credentials it asked for, never these.
pub fn own_env_vars() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| k.to_str().is_some_and(|k| k.starts_with("KEYFOB_")))
        .collect()
}

/// `KEYFOB_…` variables as config. Values stay strings (a Slack client id such as
/// `123456789012.1234567890` must not become a float, and a secret must never be echoed by a
/// type error), except the keys that are numbers, booleans or lists. Variables that name no
/// config section (`KEYFOB_CONFIG`, `KEYFOB_LOG`, a tool's own `KEYFOB_NODE`) are ignored.
fn env_provider() -> EnvConfig {
    EnvConfig
}

/// The figment provider behind [`env_provider`].
struct EnvConfig;

const SECTIONS: &[&str] = &["home", "server", "store", "session", "auth", "providers"];
const TYPED_LEAVES: &[&str] = &[
    "tls",
    "refresh_margin_secs",
    "flow_timeout_secs",
    "http_timeout_secs",
    "use_recommended_scopes",
    "allow_env",
    "allow_internal_endpoints",
    "verify_key",
    "device_flow",
    "pkce",
    "scopes",
];

impl figment::Provider for EnvConfig {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("`KEYFOB_` environment variable(s)")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        use figment::value::{Dict, Value};
        let mut dict = Dict::new();
        for (key, raw) in Env::prefixed("KEYFOB_").split("__").iter() {
            let key = key.as_str();
            let top = key.split('.').next().unwrap_or_default();
            if !SECTIONS.contains(&top) {
                continue;
            }
            let leaf = key.rsplit('.').next().unwrap_or_default();
            let value = if TYPED_LEAVES.contains(&leaf) {
                raw.parse::<Value>()
                    .unwrap_or_else(|_| Value::from(raw.clone()))
            } else {
                Value::from(raw)
            };
            insert(&mut dict, &key.split('.').collect::<Vec<_>>(), value);
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

fn insert(dict: &mut figment::value::Dict, path: &[&str], value: figment::value::Value) {
    use figment::value::{Dict, Value};
    match path {
        [] => {}
        [leaf] => {
            dict.insert((*leaf).to_owned(), value);
        }
        [head, rest @ ..] => {
            let entry = dict
                .entry((*head).to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if entry.as_dict().is_none() {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

fn find_config_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KEYFOB_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let local = PathBuf::from("keyfob.toml");
    if local.is_file() {
        return Some(local);
    }
    dirs::config_dir()
        .map(|d| d.join("keyfob").join("keyfob.toml"))
        .filter(|p| p.is_file())
}

/// A config error that names the key and the file but never repeats a value from them: a
/// wrong type or value is described by its kind (`a string`), and a TOML syntax error loses the
/// quoted source line, which may hold a `client_secret`.
fn config_error(e: figment::Error) -> Error {
    use figment::error::{Actual, Kind};
    let kind_of = |a: &Actual| match a {
        Actual::Bool(_) => "a boolean".to_owned(),
        Actual::Unsigned(_) | Actual::Signed(_) => "an integer".to_owned(),
        Actual::Float(_) => "a float".to_owned(),
        Actual::Char(_) | Actual::Str(_) => "a string".to_owned(),
        Actual::Bytes(_) => "bytes".to_owned(),
        Actual::Seq => "a list".to_owned(),
        Actual::Map => "a table".to_owned(),
        other => format!("{other}")
            .split_whitespace()
            .next()
            .unwrap_or("a value")
            .to_owned(),
    };
    let messages: Vec<String> = e
        .into_iter()
        .map(|mut one| {
            one.kind = match one.kind {
                Kind::InvalidType(actual, expected) => Kind::Message(format!(
                    "invalid type: found {}, expected {expected}",
                    kind_of(&actual)
                )),
                Kind::InvalidValue(actual, expected) => Kind::Message(format!(
                    "invalid value ({}), expected {expected}",
                    kind_of(&actual)
                )),
                Kind::Unsupported(actual) | Kind::UnsupportedKey(actual, _) => {
                    Kind::Message(format!("unsupported value: {}", kind_of(&actual)))
                }
                // TOML syntax errors quote the offending line under a `|` gutter.
                Kind::Message(m) => Kind::Message(
                    m.lines()
                        .filter(|l| {
                            !l.trim_start()
                                .trim_start_matches(|c: char| c.is_ascii_digit())
                                .trim_start()
                                .starts_with('|')
                        })
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .collect::<Vec<_>>()
                        .join(": "),
                ),
                other => other,
            };
            one.to_string()
        })
        .collect();
    Error::new(
        ErrorKind::Config,
        format!("invalid configuration: {}", messages.join("; ")),
    )
}

/// Parses an endpoint URL: `https`, or plain `http` only for a loopback host; no user info.
///
/// # Errors
/// [`ErrorKind::Config`] naming `what`.
pub fn endpoint_url(text: &str, what: &str) -> Result<Url> {
    let url = Url::parse(text)
        .map_err(|_| Error::new(ErrorKind::Config, format!("{what} is not a valid URL")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::new(
            ErrorKind::Config,
            format!("{what} must not carry a user name or password"),
        ));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(Error::new(
            ErrorKind::Config,
            format!("{what} must use https (plain http is allowed only for loopback hosts)"),
        )),
        _ => Err(Error::new(
            ErrorKind::Config,
            format!("{what} must be an https URL"),
        )),
    }
}

/// Whether the URL's host is loopback, private (RFC 1918, unique-local), link-local, unspecified
/// or a name that resolves locally (`localhost`, `*.local`, `*.internal`). Names are not resolved:
/// this refuses the obvious cases before any request, it is not a DNS-rebinding defence.
pub fn is_internal(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.to_ascii_lowercase();
            d == "localhost"
                || d.ends_with(".localhost")
                || d.ends_with(".local")
                || d.ends_with(".internal")
        }
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
        }
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_unique_local()
                || ip.is_unicast_link_local()
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_private() || v4.is_link_local())
        }
        None => true,
    }
}

/// Whether the URL's host is loopback (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_hosts() {
        for internal in [
            "https://localhost/x",
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://192.168.0.1/",
            "https://169.254.169.254/latest",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://db.internal/",
        ] {
            assert!(is_internal(&Url::parse(internal).unwrap()), "{internal}");
        }
        for public in ["https://acme.my.salesforce.com", "https://8.8.8.8/"] {
            assert!(!is_internal(&Url::parse(public).unwrap()), "{public}");
        }
    }

    #[test]
    fn parses_a_full_file() {
        let c = Config::from_toml(
            r#"
            [server]
            bind = "127.0.0.1:9000"
            path_prefix = "/keyfob"
            [store]
            kind = "memory"
            [session]
            refresh_margin_secs = 60
            [auth.github]
            client_id = "abc"
            client_secret = "sentinel-secret"
            token_url = "http://127.0.0.1:5555/token"
            [auth.salesforce]
            domain_url = "https://acme.my.salesforce.com"
            [providers.myidp]
            issuer = "http://localhost:4000"
            "#,
        )
        .unwrap();
        assert_eq!(c.server.bind.port(), 9000);
        assert_eq!(c.store.kind, StoreKind::Memory);
        assert_eq!(c.provider("github").client_id.as_deref(), Some("abc"));
        assert!(c.provider("github").use_recommended_scopes);
        assert_eq!(
            c.provider("salesforce").extra["domain_url"],
            "https://acme.my.salesforce.com"
        );
        assert!(!format!("{c:?}").contains("sentinel"));
    }

    #[test]
    fn rejects_bad_values_with_the_key() {
        let e = Config::from_toml("[auth.github]\ntoken_url = \"http://evil.example/token\"")
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("auth.github.token_url must use https"),
            "{e}"
        );
        let e = Config::from_toml("[server]\nbind = \"nope\"").unwrap_err();
        assert!(e.to_string().contains("bind"), "{e}");
        let e = Config::from_toml("[store]\nkind = \"mongo\"").unwrap_err();
        assert!(e.to_string().contains("mongo"), "{e}");
        let e = Config::from_toml("[providers.x]\nscopes = []").unwrap_err();
        assert!(e.to_string().contains("issuer"), "{e}");
        let e = Config::from_toml("[auth.x]\ntoken_url = \"https://user:pw@x.test/\"").unwrap_err();
        assert!(e.to_string().contains("user name"), "{e}");
    }
}
