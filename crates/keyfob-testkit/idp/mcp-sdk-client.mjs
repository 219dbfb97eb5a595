// A real MCP client for tests: the MCP TypeScript SDK's Client, over its StdioClientTransport,
// which launches the server command given as arguments (with this process's environment; the
// server's stderr goes to ours), or with `--http URL` over its StreamableHTTPClientTransport.
// Driven by JSON lines:
//
//   stdin:  {"id": 1, "tool": "whoami", "arguments": {}}
//   stdout: {"ready": true}                       once `initialize` succeeded (first line)
//           {"id": 1, "text": "<the result's text content>"}   or   {"id": 1, "error": "..."}
//
// Calls run concurrently. At the end of stdin the client closes the connection and exits.
//
// With KEYFOB_TEST_ELICIT_URL=1 the client declares URL-mode elicitation (MCP 2025-11-25),
// accepts every `elicitation/create` and reports it and each completion notification:
//           {"elicit": {"mode": "url", "url": ..., "message": ..., "elicitationId": ...}}
//           {"elicit_complete": "<elicitationId>"}
//
// With KEYFOB_TEST_BEARER set, HTTP requests carry it as their bearer token.
//
// Usage: node mcp-sdk-client.mjs <command> [args...]   |   node mcp-sdk-client.mjs --http <url>

import * as readline from 'node:readline';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

const [command, ...args] = process.argv.slice(2);
const say = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);

const elicitUrl = process.env.KEYFOB_TEST_ELICIT_URL === '1';
const client = new Client(
  { name: 'keyfob-testkit-stdio', version: '1.0.0' },
  { capabilities: elicitUrl ? { elicitation: { url: {} } } : {} },
);
if (elicitUrl) {
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    say({ elicit: request.params });
    return { action: 'accept' };
  });
  client.setNotificationHandler(ElicitationCompleteNotificationSchema, async (notification) => {
    say({ elicit_complete: notification.params.elicitationId });
  });
}
const bearer = process.env.KEYFOB_TEST_BEARER;
const transport = command === '--http'
  ? new StreamableHTTPClientTransport(new URL(args[0]), bearer
    ? { requestInit: { headers: { Authorization: `Bearer ${bearer}` } } }
    : undefined)
  : new StdioClientTransport({ command, args, env: process.env, stderr: 'inherit' });
try {
  // A login in a browser may come first: give it time.
  await client.connect(transport, { timeout: 120_000 });
} catch (err) {
  say({ ready: false, error: String(err?.message ?? err) });
  process.exit(1);
}
say({ ready: true });

const pending = [];
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { id, tool, arguments: toolArgs } = JSON.parse(line);
  pending.push(
    client.callTool({ name: tool, arguments: toolArgs ?? {} }, undefined, { timeout: 120_000 })
      .then((result) => {
        const text = (result.content ?? []).filter((c) => c.type === 'text').map((c) => c.text);
        say(result.isError ? { id, error: text.join('\n') } : { id, text: text.join('\n') });
      })
      .catch((err) => say({ id, error: String(err?.message ?? err) })),
  );
}
await Promise.all(pending);
await client.close();
process.exit(0);
