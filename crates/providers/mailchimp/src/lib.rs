//! Mailchimp: OAuth2 authorization code.
//!
//! Sources: <https://mailchimp.com/developer/marketing/guides/access-user-data-oauth-2/>.
//!
//! No scopes; tokens never expire.
//!
//! The account's data center comes from `GET https://login.mailchimp.com/oauth2/metadata` with
//! `Authorization: OAuth `<token>``; the API base is `https://{dc}.api.mailchimp.com/3.0/`.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "mailchimp-oauth2",
    env_key: "MAILCHIMP_TOKEN",
    authorize_url: "https://login.mailchimp.com/oauth2/authorize",
    token_url: "https://login.mailchimp.com/oauth2/token",
    scope_param: None,
    client_auth: ClientAuth::Body,
    pkce: Pkce::None,
    refresh: Refresh::None,
    expires: false,
    docs_url: "https://admin.mailchimp.com/account/oauth2/",
    ..OAuth2Spec::DEFAULTS
};

/// The `mailchimp` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "mailchimp",
    display_name: "Mailchimp",
    handlers: &[Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
