//! Weaviate: an API key pasted on the token page.
//!
//! Sources: <https://docs.weaviate.io/cloud/manage-clusters/connect>.
//!
//! Cluster API key sent as Authorization: Bearer. Keys are created per cluster in the Weaviate
//! Cloud console (new clusters have none), each bound to RBAC roles (admin/viewer/custom), shown
//! once, rotatable. /v1/meta needs only an authenticated caller; anonymous access is off on WCD.
//! Self-hosted Weaviate may use OIDC or static keys instead.
//!
//! Per account: per-cluster REST endpoint, e.g. https://{cluster}.weaviate.cloud (older clusters
//! *.weaviate.network / *.gcp.weaviate.cloud); user must supply it
//!
//! No key check is recorded: the check URL depends on the account (see above), so it is not
//! recorded.

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "weaviate-token",
    env_key: "WEAVIATE_TOKEN",
    docs_url: "https://docs.weaviate.io/cloud/manage-clusters/authentication",
    ..TokenSpec::DEFAULTS
};

/// The `weaviate` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "weaviate",
    display_name: "Weaviate",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
