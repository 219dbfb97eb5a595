//! Slack nests the user token under `authed_user`; lift it to where OAuth2 expects a token.

use keyfob_core::spec::OAuth2Hooks;
use serde_json::Value;

/// Slack's token-response hook.
#[derive(Debug)]
pub(crate) struct Hooks;

impl OAuth2Hooks for Hooks {
    fn normalize_token_response(&self, body: &mut Value) {
        let Some(obj) = body.as_object_mut() else {
            return;
        };
        let user = match obj.get("authed_user") {
            Some(Value::Object(u)) if u.get("access_token").is_some_and(Value::is_string) => {
                u.clone()
            }
            _ => return,
        };
        // We asked for user scopes, so the user token is the credential; the bot token (if the
        // app also has bot scopes) must not shadow it.
        for field in [
            "access_token",
            "refresh_token",
            "expires_in",
            "scope",
            "token_type",
        ] {
            match user.get(field) {
                Some(v) => {
                    obj.insert(field.to_owned(), v.clone());
                }
                None => {
                    obj.remove(field);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifts_the_user_token() {
        let mut v: Value = serde_json::from_str(
            r#"{"ok":true,"app_id":"A1","access_token":"xoxb-bot","token_type":"bot","scope":"commands",
                "authed_user":{"id":"U1","scope":"chat:write,channels:read","access_token":"xoxp-user","token_type":"user"},
                "team":{"id":"T1"}}"#,
        )
        .unwrap();
        Hooks.normalize_token_response(&mut v);
        assert_eq!(v["access_token"], "xoxp-user");
        assert_eq!(v["scope"], "chat:write,channels:read");
        assert_eq!(v["token_type"], "user");
        assert_eq!(v["team"]["id"], "T1");
    }

    #[test]
    fn leaves_errors_and_bot_only_answers_alone() {
        let mut err: Value =
            serde_json::from_str(r#"{"ok":false,"error":"invalid_code"}"#).unwrap();
        let before = err.clone();
        Hooks.normalize_token_response(&mut err);
        assert_eq!(err, before);
        let mut bot: Value =
            serde_json::from_str(r#"{"ok":true,"access_token":"xoxb","authed_user":{"id":"U1"}}"#)
                .unwrap();
        Hooks.normalize_token_response(&mut bot);
        assert_eq!(bot["access_token"], "xoxb");
    }
}
