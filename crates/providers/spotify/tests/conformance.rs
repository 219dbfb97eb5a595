//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_spotify::PROVIDER,
    snapshots = [(
        "spotify-oauth2",
        keyfob_testkit::expect![[r#"
            authorize: GET https://accounts.spotify.com/authorize
                response_type=code
                client_id=client-1
                state=<state>
                code_challenge=<challenge>
                code_challenge_method=S256
                redirect_uri=<callback>/auth/spotify/oauth2/callback
                scope=user-read-email user-read-private
            exchange: POST https://accounts.spotify.com/api/token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                grant_type=authorization_code
                code=<code>
                code_verifier=<verifier>
                redirect_uri=<callback>/auth/spotify/oauth2/callback
            userinfo: GET https://api.spotify.com/v1/me
                authorization: Bearer <access_token>
                accept: application/json
            refresh: POST https://accounts.spotify.com/api/token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                grant_type=refresh_token
                refresh_token=<refresh_token>
            revoke: none
            device: none
        "#]]
    )]
);
