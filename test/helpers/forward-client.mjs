// A client that goes through a forward proxy the way Claude Code does: HTTPS_PROXY / HTTP_PROXY / NO_PROXY read
// from its environment (undici's EnvHttpProxyAgent) and mcptap's CA trusted through NODE_EXTRA_CA_CERTS, which
// Node reads when the process starts (hence a child process). Prints one JSON line with what it got.
//   node forward-client.mjs mcp URL            an MCP SDK client: tools/list, tools/call echo
//   node forward-client.mjs requests FILE BASE  sends the recorded requests in FILE (JSON) to BASE, in order
import fs from 'node:fs';
import { EnvHttpProxyAgent, fetch as undiciFetch } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const agent = new EnvHttpProxyAgent();
const viaProxy = (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
const [mode, a, b] = process.argv.slice(2);
try {
  if (mode === 'mcp') {
    const client = new Client({ name: 'forward-test-client', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(a), { fetch: viaProxy }));
    const tools = await client.listTools();
    const r = await client.callTool({ name: 'echo', arguments: { message: 'through the tunnel' } });
    await client.close();
    console.log(JSON.stringify({ tools: tools.tools.map((t) => t.name), text: r.content[0].text }));
  } else if (mode === 'requests') {
    const out = [];
    for (const ex of JSON.parse(fs.readFileSync(a, 'utf8'))) {
      const r = await viaProxy(b + ex.url, { method: ex.method, headers: ex.headers, body: ex.method === 'GET' ? undefined : ex.body });
      out.push({ status: r.status, body: await r.text() });
    }
    console.log(JSON.stringify(out));
  } else if (mode === 'get') {
    const r = await viaProxy(a);
    console.log(JSON.stringify({ status: r.status, error: r.headers.get('x-mcptap-error'), body: await r.text() }));
  }
} catch (e) {
  console.log(JSON.stringify({ failed: String(e?.cause?.code ?? e?.cause?.message ?? e?.message ?? e) }));
}
process.exit(0);
