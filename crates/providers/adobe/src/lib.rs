//! Adobe: an API key pasted on the token page.
//!
//! Sources:
//! <https://developer.adobe.com/developer-console/docs/guides/authentication/APIKeyAuthentication>,
//! <https://developer.adobe.com/firefly-services/docs/firefly-api/guides/concepts/authentication/>,
//! <https://developer.adobe.com/developer-console/docs/guides/authentication/UserAuthentication/IMS>.
//!
//! Credentials come from a Developer Console project. Most Adobe APIs need both Authorization:
//! Bearer `<IMS access token>` and x-api-key: `<client id>`. An API-key credential cannot mint
//! tokens: it serves only the Express Embed SDK, PDF Embed, API Mesh and Stock, and embed keys are
//! checked against their allowed origins. Server-to-server access tokens last 24 hours (Adobe
//! advises renewing them every 23). IMS userinfo (https://ims-na1.adobelogin.com/ims/userinfo/v2)
//! is documented only for user-authentication tokens with the openid scope, so there is no key
//! check.

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
