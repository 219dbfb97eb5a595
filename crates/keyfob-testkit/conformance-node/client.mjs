// keyfob as the client of the MCP conformance suite (`conformance client --command`): the
// client under test is `keyfob mcp proxy` ($KEYFOB_BIN). This script is only its surroundings:
// a config for the scenario (a free callback port, a private home, the pre-registered client or
// the Client ID Metadata Document URL the scenario's context names), a scripted browser that
// follows each login link the proxy prints on stderr (the suite's authorization server approves
// at once), and a stdio MCP client that initializes, lists the tools and calls `test-tool`.
//
// Usage: client.mjs <server URL> (the suite appends it); exits 0 when every call succeeded.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";

const url = process.argv[process.argv.length - 1];
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT || "{}");
const bin = process.env.KEYFOB_BIN;
if (!bin) {
  console.error("client.mjs: set KEYFOB_BIN to the keyfob binary");
  process.exit(2);
}

// A free port below the ephemeral range: the suite runs its scenarios in parallel, and a port
// the kernel handed out once (port 0) can be handed again to another scenario's outgoing
// connection before keyfob binds it.
const tryPort = (p) =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(p, "127.0.0.1", () => s.close(() => resolve(true)));
  });
let port = 0;
while (port === 0) {
  const p = 10000 + Math.floor(Math.random() * 20000);
  if (await tryPort(p)) port = p;
}
const home = mkdtempSync(path.join(tmpdir(), "keyfob-conformance-"));
const toml = (v) => JSON.stringify(v);
let config = `home = ${toml(path.join(home, "data"))}\n[server]\nbind = "127.0.0.1:${port}"\n`;
config += `[mcp.conformance]\nurl = ${toml(url)}\n`;
config += `client_metadata_url = "https://conformance-test.local/client-metadata.json"\n`;
if (context.client_id) config += `client_id = ${toml(context.client_id)}\n`;
if (context.client_secret) config += `client_secret = ${toml(context.client_secret)}\n`;
const configPath = path.join(home, "keyfob.toml");
writeFileSync(configPath, config, { mode: 0o600 });

const proxy = spawn(bin, ["--config", configPath, "mcp", "proxy", "conformance", "--no-browser"], {
  stdio: ["pipe", "pipe", "pipe"],
});
const exited = new Promise((resolve) => proxy.on("exit", (code) => resolve(code ?? 1)));

// The browser: the start link (keeping its cookie), the authorization server's redirects,
// then keyfob's callback with the cookie.
async function browse(link) {
  const start = await fetch(link, { redirect: "manual" });
  const cookie = start.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  let at = new URL(start.headers.get("location"), link).href;
  for (let hops = 0; !at.startsWith(`http://127.0.0.1:${port}/`); hops++) {
    if (hops > 5) throw new Error(`too many redirects, at ${at}`);
    const r = await fetch(at, { redirect: "manual" });
    const next = r.headers.get("location");
    if (!next) throw new Error(`${at} answered ${r.status} without a redirect`);
    at = new URL(next, at).href;
  }
  const done = await fetch(at, { headers: { cookie } });
  console.error(`client.mjs: callback answered ${done.status}`);
}

readline.createInterface({ input: proxy.stderr }).on("line", (line) => {
  console.error(`[keyfob] ${line}`);
  if (line.startsWith("http")) {
    browse(line).catch((e) => console.error(`client.mjs: the browser failed: ${e.message}`));
  }
});

const waiting = new Map();
readline.createInterface({ input: proxy.stdout }).on("line", (line) => {
  const msg = JSON.parse(line);
  if (msg.id !== undefined && waiting.has(msg.id)) {
    waiting.get(msg.id)(msg);
    waiting.delete(msg.id);
  }
});
let nextId = 1;
function send(msg) {
  proxy.stdin.write(`${JSON.stringify(msg)}\n`);
}
function request(method, params) {
  const id = nextId++;
  const answer = new Promise((resolve) => waiting.set(id, resolve));
  send({ jsonrpc: "2.0", id, method, params });
  return Promise.race([answer, exited.then((code) => ({ error: { message: `keyfob exited (${code})` } }))]);
}

let ok = true;
const init = await request("initialize", {
  protocolVersion: "2025-11-25",
  capabilities: {},
  clientInfo: { name: "keyfob-conformance", version: "0" },
});
if (init.error) {
  console.error(`client.mjs: initialize failed: ${JSON.stringify(init.error)}`);
  ok = false;
} else {
  send({ jsonrpc: "2.0", method: "notifications/initialized" });
  const tools = await request("tools/list", {});
  if (tools.error) {
    console.error(`client.mjs: tools/list failed: ${JSON.stringify(tools.error)}`);
    ok = false;
  } else if ((tools.result?.tools ?? []).some((t) => t.name === "test-tool")) {
    const call = await request("tools/call", { name: "test-tool", arguments: {} });
    if (call.error) {
      console.error(`client.mjs: tools/call failed: ${JSON.stringify(call.error)}`);
      ok = false;
    }
  }
}
proxy.stdin.end();
const code = await exited;
// The scenario's home (its sealed store) goes with it.
rmSync(home, { recursive: true, force: true });
process.exit(ok && code === 0 ? 0 : 1);
