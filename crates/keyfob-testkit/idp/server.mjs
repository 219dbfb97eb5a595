// A spec-enforcing OAuth2 authorization server for keyfob's integration tests,
// built on oidc-provider. Tests start it through `keyfob_testkit::idp::Idp`.
//
// Usage: node server.mjs ['<config json>']   (or the config in $KEYFOB_IDP_CONFIG)
// Config: { "port": 0, "clients": [{ "client_id", "client_secret", "redirect_uris": [...],
//           "token_endpoint_auth_method": "client_secret_basic" | "client_secret_post" }],
//           "access_token_ttl": 3600, "scopes": ["repo", ...],
//           "mcp_resource": "http://127.0.0.1:<port>/mcp" }
// With `mcp_resource`, it is that MCP server's authorization server: open dynamic registration
// (RFC 7591), and access tokens for that resource (RFC 8707) as JWTs with scope `mcp:tools`.
// Once ready it prints exactly one line to stdout: KEYFOB_IDP_LISTENING http://127.0.0.1:<port>

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { once } from 'node:events';

import { importJWK, SignJWT } from 'jose';
import Provider, { errors } from 'oidc-provider';

const ACCOUNT_ID = 'user-1';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
// oidc-provider reads at most 56 KiB of a request body; so do we.
const BODY_LIMIT = 56 * 1024;

const config = JSON.parse(process.argv[2] ?? process.env.KEYFOB_IDP_CONFIG ?? '{}');
const clients = (config.clients ?? []).map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  redirect_uris: c.redirect_uris,
  token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
  grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
  response_types: ['code'],
  // We only generate an EC key (fast); the default RS256 would need an RSA key.
  id_token_signed_response_alg: 'ES256',
}));

// Fresh keys every run: nothing persists between test processes.
const signingKey = {
  ...crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
  alg: 'ES256',
  use: 'sig',
  kid: 'keyfob-testkit',
};

const stats = { token_requests: {}, token_requests_total: 0, revocation_requests: 0 };
// Every grant, so that `POST /__revoke_grants` can end them all (as a user revoking access).
const grants = new Set();
const mcpResource = config.mcp_resource ?? undefined;

// The issuer URL contains the port, so listen first, then build the provider.
const server = http.createServer();
server.listen(config.port ?? 0, '127.0.0.1');
await once(server, 'listening');
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  // Clients that register themselves sign nothing with RS256: we only have an EC key.
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  // Scopes not listed here are silently dropped from grants, so the test's extra
  // (non-OIDC) scopes such as `repo` must be declared to end up in tokens.
  // An MCP resource's scope is listed too: clients may name it when they register.
  scopes: ['openid', 'offline_access', ...(config.scopes ?? []),
    ...(mcpResource === undefined ? [] : ['mcp:tools'])],
  // Authorization code flow only (no implicit / hybrid response types).
  responseTypes: ['code'],
  // PKCE for every client, not only public ones; oidc-provider v9 supports S256 only.
  pkce: { required: () => true },
  // Stricter than RFC 6749 (as OAuth 2.1): redirect_uri must always be sent, even
  // when the client has a single registered one.
  allowOmittingSingleRegisteredRedirectUri: false,
  // By default refresh tokens need the `offline_access` scope plus a consent prompt,
  // and die with the browser session. Real OAuth2 providers just issue them.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  expiresWithSession: async () => false,
  // Every use of a refresh token yields a new one; the used one is then invalid
  // (and replaying it revokes the whole grant).
  rotateRefreshToken: true,
  features: {
    registration: { enabled: mcpResource !== undefined },
    resourceIndicators: {
      enabled: true,
      // A refresh without `resource` stays with the resource the grant was for.
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, indicator) => {
        if (mcpResource === undefined || indicator !== mcpResource) {
          throw new errors.InvalidTarget(`unknown resource ${indicator}`);
        }
        return {
          scope: 'mcp:tools',
          audience: mcpResource,
          accessTokenTTL: config.access_token_ttl ?? 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
    devInteractions: { enabled: false }, // we serve /interaction/:uid ourselves
    // Clients may revoke and introspect only their own tokens.
    revocation: {
      enabled: true,
      allowedPolicy: async (ctx, client, token) => {
        if (token.clientId !== client.clientId) {
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        }
        return true;
      },
    },
    introspection: {
      enabled: true,
      allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId,
    },
    // Plain pages with ids the Rust Browser looks for (`id="device-..."`); the
    // confirm form (`op.deviceConfirmForm`) is oidc-provider's own.
    deviceFlow: {
      enabled: true,
      userCodeInputSource: async (ctx, form, out, err) => {
        const state = err?.name === 'AbortedError' ? 'aborted' : err ? 'error' : 'input';
        ctx.body = page(`<p id="device-${state}">${escapeHtml(err?.message ?? 'Enter the code')}</p>
${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
      },
      userCodeConfirmSource: async (ctx, form, client, deviceInfo, userCode) => {
        ctx.body = page(`<p id="device-confirm">Client <code>${escapeHtml(client.clientId)}</code>,
code <code>${escapeHtml(userCode)}</code></p>
${form}<button type="submit" form="op.deviceConfirmForm">Continue</button>`);
      },
      successSource: async (ctx) => {
        ctx.body = page('<p id="device-done">Signed in; you may close this page.</p>');
      },
    },
  },
  ttl: {
    AccessToken: config.access_token_ttl ?? 3600,
    AuthorizationCode: 60,
    DeviceCode: 600,
    IdToken: 3600,
    RefreshToken: 14 * 24 * 3600,
    Interaction: 3600,
    Session: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
  },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  // Plain, parseable error page (the default one pulls in web fonts).
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><title>error</title><pre id="error">${
      Object.entries(out).map(([k, v]) => `${k}=${escapeHtml(v)}`).join('\n')
    }</pre>`;
  },
});

provider.on('grant.saved', (grant) => grants.add(grant.jti));

const clientAuthPaths = new Set(
  ['token', 'revocation', 'introspection', 'device_authorization'].map((n) => provider.pathFor(n)),
);
const tokenPath = provider.pathFor('token');
const revocationPath = provider.pathFor('revocation');

// Runs before oidc-provider's own routing (provider.use inserts ahead of it).
provider.use(async (ctx, next) => {
  if (ctx.method !== 'POST' || !clientAuthPaths.has(ctx.path)) return next();

  // We need the form before oidc-provider sees it (to count and to check the auth
  // method). oidc-provider accepts a pre-read body in req.body (and warns once
  // that it did: harmless); a Buffer keeps an empty body truthy for that check.
  const body = await readBody(ctx.req);
  ctx.req.body = body;
  const form = ctx.is('application/x-www-form-urlencoded')
    ? new URLSearchParams(body.toString('utf8'))
    : new URLSearchParams();

  if (ctx.path === tokenPath) {
    // Counted before any validation, so rejected requests count too.
    const gt = form.get('grant_type') ?? 'missing';
    stats.token_requests[gt] = (stats.token_requests[gt] ?? 0) + 1;
    stats.token_requests_total += 1;
  }
  if (ctx.path === revocationPath) stats.revocation_requests += 1;

  const mismatch = await authMethodMismatch(ctx, form);
  if (mismatch) {
    ctx.status = 401;
    ctx.set('Cache-Control', 'no-store');
    if (ctx.get('authorization')) ctx.set('WWW-Authenticate', `Basic realm="${issuer}"`);
    ctx.body = { error: 'invalid_client', error_description: mismatch };
    return undefined;
  }
  return next();
});

// oidc-provider treats client_secret_basic and client_secret_post as
// interchangeable. Strict providers do not: a client must authenticate with the
// token_endpoint_auth_method it registered. Sending both at once is left to
// oidc-provider, which rejects it with invalid_request.
async function authMethodMismatch(ctx, form) {
  const authz = ctx.get('authorization');
  const basic = /^basic /i.test(authz);
  const postSecret = form.has('client_secret');
  if (basic === postSecret) return undefined;

  let clientId = form.get('client_id');
  if (basic) {
    const decoded = Buffer.from(authz.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i === -1) return undefined; // malformed: oidc-provider will say so
    try {
      clientId = decodeURIComponent(decoded.slice(0, i).replace(/\+/g, '%20'));
    } catch {
      return undefined;
    }
  }
  const client = clientId ? await provider.Client.find(clientId) : undefined;
  if (!client) return undefined;

  const used = basic ? 'client_secret_basic' : 'client_secret_post';
  if (client.clientAuthMethod !== used) {
    return `client is registered for ${client.clientAuthMethod}, but used ${used}`;
  }
  return undefined;
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > BODY_LIMIT) throw new errors.InvalidRequest('request entity too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

// --- Interactions: a one-click "login + consent" page instead of a real UI. ---

async function interactionPage(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.InvalidRequest('interaction uid mismatch');
  const { params, prompt } = details;
  send(res, 200, 'text/html; charset=utf-8', page(`<p>Client <code>${escapeHtml(params.client_id)}</code> asks for
scope <code>${escapeHtml(params.scope ?? '')}</code> (prompt: ${escapeHtml(prompt.name)}).</p>
<p><a id="approve" href="/interaction/${escapeHtml(uid)}/approve">Approve</a>
<a id="approve-as-user-2" href="/interaction/${escapeHtml(uid)}/approve?account=user-2">Approve as user-2</a>
<a id="deny" href="/interaction/${escapeHtml(uid)}/deny">Deny</a></p>`));
}

// Logs in ACCOUNT_ID (or the `account` the link names: a second user) and grants
// everything asked for in one go, so a single interaction covers both the login and the
// consent prompt.
async function approve(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.InvalidRequest('interaction uid mismatch');
  const { params, prompt } = details;
  const named = new URL(req.url, issuer).searchParams.get('account');
  const accountId = named ?? details.session?.accountId ?? ACCOUNT_ID;

  const grant = (details.grantId && await provider.Grant.find(details.grantId))
    || new provider.Grant({ accountId, clientId: params.client_id });
  if (params.scope) grant.addOIDCScope(params.scope);
  const { missingOIDCClaims, missingResourceScopes } = prompt.details;
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes);
  }
  const grantId = await grant.save();

  await provider.interactionFinished(req, res, {
    login: { accountId },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

async function deny(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.InvalidRequest('interaction uid mismatch');
  await provider.interactionFinished(req, res, {
    error: 'access_denied',
    error_description: 'End-User denied the request',
  }, { mergeWithLastSubmission: false });
}

// --- HTTP dispatch ---

const oidc = provider.callback();

server.on('request', async (req, res) => {
  const { pathname } = new URL(req.url, issuer);
  try {
    if (pathname === '/__stats' && req.method === 'GET') {
      return send(res, 200, 'application/json', JSON.stringify(stats));
    }
    if (pathname === '/__stats/reset' && req.method === 'POST') {
      stats.token_requests = {};
      stats.token_requests_total = 0;
      stats.revocation_requests = 0;
      return send(res, 200, 'application/json', JSON.stringify(stats));
    }
    // Test tooling for resource servers: an access token signed with this server's own key,
    // with the claims the test names (an expired one, one for another audience, ...).
    // Body: {"sub", "aud", "scope", "expires_in", "iss"?, "kid"?, "typ"?, "not_before_in"?}.
    if (pathname === '/__mint' && req.method === 'POST') {
      const claims = JSON.parse((await readBody(req)).toString('utf8'));
      const key = await importJWK(signingKey, 'ES256');
      const now = Math.floor(Date.now() / 1000);
      let token = new SignJWT({ scope: claims.scope ?? '', client_id: 'minted' })
        .setProtectedHeader({ alg: 'ES256', typ: claims.typ ?? 'at+jwt', kid: claims.kid ?? signingKey.kid });
      if (claims.not_before_in !== undefined) token = token.setNotBefore(now + claims.not_before_in);
      const jwt = await token
        .setIssuer(claims.iss ?? issuer)
        .setSubject(claims.sub ?? ACCOUNT_ID)
        .setAudience(claims.aud)
        .setIssuedAt(now)
        .setExpirationTime(now + (claims.expires_in ?? 3600))
        .sign(key);
      return send(res, 200, 'text/plain', jwt);
    }
    if (pathname === '/__revoke_grants' && req.method === 'POST') {
      let revoked = 0;
      for (const id of grants) {
        const grant = await provider.Grant.find(id);
        if (grant) {
          await grant.destroy();
          revoked += 1;
        }
      }
      grants.clear();
      return send(res, 200, 'application/json', JSON.stringify({ revoked }));
    }
    const m = /^\/interaction\/([^/]+)(?:\/(approve|deny))?$/.exec(pathname);
    if (m && req.method === 'GET') {
      const [, uid, action] = m;
      if (action === 'approve') return await approve(req, res, uid);
      if (action === 'deny') return await deny(req, res, uid);
      return await interactionPage(req, res, uid);
    }
    return oidc(req, res);
  } catch (err) {
    // e.g. SessionNotFound when the interaction cookie is missing.
    const status = err.statusCode ?? 500;
    if (status >= 500) console.error(err);
    return send(res, status, 'text/plain; charset=utf-8',
      `${err.error ?? 'server_error'}: ${err.error_description ?? err.message}\n`);
  }
});

function send(res, status, contentType, body) {
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  res.end(body);
}

function page(body) {
  return `<!DOCTYPE html>\n<title>keyfob test IdP</title>\n${body}\n`;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// Opt-in (the Rust side sets it): exit when our parent goes away, even if it
// was killed too hard to kill us first.
if (process.env.KEYFOB_IDP_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

process.stdout.write(`KEYFOB_IDP_LISTENING ${issuer}\n`);
