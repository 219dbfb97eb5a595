//! Salesforce: OAuth2 authorization code.
//!
//! Sources:
//! <https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_web_server_flow.htm>.
//!
//! Endpoints are per org: set `domain_url` in `\[auth.salesforce\]`
//! (`https://login.salesforce.com`, `https://test.salesforce.com` or the org's My Domain); it must
//! be https, carry no user name and point at no internal address.
//!
//! The scope `refresh_token` asks for a refresh token; API calls go to the `instance_url` of the
//! token response (kept as session detail).
//!
//! PKCE is required for new External Client Apps; the token response carries no `expires_in`.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Offline, Pkce, Provider, Refresh};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "salesforce-oauth2",
    env_key: "SALESFORCE_TOKEN",
    authorize_url: "{domain_url}/services/oauth2/authorize",
    token_url: "{domain_url}/services/oauth2/token",
    revoke_url: Some("{domain_url}/services/oauth2/revoke"),
    userinfo_url: Some("{domain_url}/services/oauth2/userinfo"),
    recommended_scopes: &["api", "id"],
    client_auth: ClientAuth::Body,
    pkce: Pkce::S256,
    refresh: Refresh::Plain,
    offline: Offline::Scope("refresh_token"),
    config_fields: &["domain_url"],
    docs_url: "https://help.salesforce.com/s/articleView?id=xcloud.create_a_local_external_client_app.htm",
    ..OAuth2Spec::DEFAULTS
};

/// The `salesforce` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "salesforce",
    display_name: "Salesforce",
    handlers: &[Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
