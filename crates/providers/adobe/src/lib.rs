//! Adobe: an API key pasted on the token page.
//!
//! Sources:
//! <https://developer.adobe.com/developer-console/docs/guides/authentication/APIKeyAuthentication>.
//!
//! Credentials come from a Developer Console project. Most Adobe APIs need both Authorization:
//! Bearer `<IMS access token>` AND x-api-key: `<client id>`; a bare 'API key' credential only works
//! for the few anonymous APIs (e.g. Stock, Embed) and is domain-restricted. Server-to-server access
//! tokens last 24h. IMS userinfo (https://ims-na1.adobelogin.com/ims/userinfo/v2) only works for
//! user tokens with openid scope, so no generic verify (unverified for S2S).

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "adobe-token",
    env_key: "ADOBE_TOKEN",
    docs_url: "https://developer.adobe.com/console/home",
    ..TokenSpec::DEFAULTS
};

/// The `adobe` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "adobe",
    display_name: "Adobe",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
