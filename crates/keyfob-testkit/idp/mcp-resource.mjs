// A protected MCP server behind the test authorization server (server.mjs with `mcp_resource`),
// built from the MCP TypeScript SDK's own parts: McpServer over streamable HTTP (stateless),
// the SDK's RFC 9728 metadata router and its bearer-token middleware. Access tokens are JWTs
// the authorization server signs for this resource; they are checked against its JWKS for
// signature, issuer, audience (this server's URL) and expiry, as a real resource server does.
//
// Usage: node mcp-resource.mjs '{"port": <port>, "issuer": "http://127.0.0.1:<idp port>"}'
// Tools: `whoami` (the token's subject and scopes) and `greet` (`Hello, <name>!`).
// Once ready it prints exactly one line to stdout: KEYFOB_MCP_LISTENING http://127.0.0.1:<port>/mcp

import { once } from 'node:events';

import { createRemoteJWKSet, jwtVerify } from 'jose';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import {
  getOAuthProtectedResourceMetadataUrl,
  mcpAuthMetadataRouter,
} from '@modelcontextprotocol/sdk/server/auth/router.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';

const config = JSON.parse(process.argv[2] ?? '{}');
const url = new URL(`http://127.0.0.1:${config.port}/mcp`);
const metadata = await (await fetch(`${config.issuer}/.well-known/openid-configuration`)).json();
const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));

const verifier = {
  async verifyAccessToken(token) {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: metadata.issuer,
        audience: url.href,
        typ: 'at+jwt',
      });
      return {
        token,
        clientId: payload.client_id,
        scopes: String(payload.scope ?? '').split(' ').filter(Boolean),
        expiresAt: payload.exp,
        resource: url,
        extra: { sub: payload.sub },
      };
    } catch (err) {
      throw new InvalidTokenError(`token refused: ${err.code ?? err.message}`);
    }
  },
};

function mcpServer() {
  const server = new McpServer({ name: 'keyfob-testkit-resource', version: '1.0.0' });
  server.registerTool('whoami', {
    description: "The access token's subject and scopes",
    inputSchema: {},
  }, async (_args, extra) => ({
    content: [{
      type: 'text',
      text: `${extra.authInfo.extra.sub} ${extra.authInfo.scopes.join(' ')}`,
    }],
  }));
  server.registerTool('greet', {
    description: 'A greeting',
    inputSchema: { name: z.string() },
  }, async ({ name }) => ({ content: [{ type: 'text', text: `Hello, ${name}!` }] }));
  return server;
}

const app = createMcpExpressApp({ host: '127.0.0.1' });
app.use(mcpAuthMetadataRouter({
  oauthMetadata: metadata,
  resourceServerUrl: url,
  scopesSupported: ['mcp:tools'],
  resourceName: 'keyfob testkit resource',
}));
const auth = requireBearerAuth({
  verifier,
  requiredScopes: ['mcp:tools'],
  resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(url),
  expectedResource: url,
});
// Stateless: a server and a transport per request.
app.post('/mcp', auth, async (req, res) => {
  const server = mcpServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    transport.close();
    server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
for (const method of ['get', 'delete']) {
  app[method]('/mcp', auth, (req, res) => {
    res.status(405).set('Allow', 'POST').json({
      jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed' }, id: null,
    });
  });
}

const listener = app.listen(config.port, '127.0.0.1');
await once(listener, 'listening');

if (process.env.KEYFOB_IDP_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

process.stdout.write(`KEYFOB_MCP_LISTENING ${url.href}\n`);
