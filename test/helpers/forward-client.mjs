// A client that goes through a forward proxy the way Claude Code does: HTTPS_PROXY / HTTP_PROXY / NO_PROXY read
// from its environment (undici's EnvHttpProxyAgent) and mcptap's CA trusted through NODE_EXTRA_CA_CERTS, which
// Node reads when the process starts (hence a child process). Prints one JSON line with what it got.
//   node forward-client.mjs mcp URL            an MCP SDK client: tools/list, tools/call echo
//   node forward-client.mjs requests FILE BASE  sends the recorded requests in FILE (JSON) to BASE, in order
//   node forward-client.mjs oauth URL           an MCP SDK client that logs in first (OAuth authorization code +
//                                               PKCE, dynamic registration; its "browser" goes through the proxy
//                                               too), then calls echo; prints the secrets it saw, for the test to
//                                               look for in what mcptap stored
import fs from 'node:fs';
import { EnvHttpProxyAgent, fetch as undiciFetch } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

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
  } else if (mode === 'oauth') {
    // As Claude Code is an OAuth client: registered on the fly, PKCE, the code brought back from the redirect.
    const seen = {};
    const provider = {
      redirectUrl: 'http://127.0.0.1:9/callback',
      clientMetadata: { client_name: 'forward-oauth-client', redirect_uris: ['http://127.0.0.1:9/callback'], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post' },
      clientInformation: () => seen.client,
      saveClientInformation: (info) => { seen.client = info; },
      tokens: () => seen.tokens,
      saveTokens: (t) => { seen.tokens = t; },
      saveCodeVerifier: (v) => { seen.verifier = v; },
      codeVerifier: () => seen.verifier,
      redirectToAuthorization: async (url) => {
        const r = await viaProxy(url, { redirect: 'manual' });
        const to = r.headers.get('location');
        if (!to) throw new Error(`authorization answered ${r.status} without a redirect`);
        seen.code = new URL(to).searchParams.get('code');
      },
    };
    const url = new URL(a);
    const first = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: viaProxy });
    try {
      await new Client({ name: 'forward-oauth-client', version: '1.0.0' }).connect(first);
      throw new Error('the server did not ask for a login');
    } catch (e) {
      if (!(e instanceof UnauthorizedError)) throw e;
    }
    await first.finishAuth(seen.code);
    const client = new Client({ name: 'forward-oauth-client', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: viaProxy }));
    const r = await client.callTool({ name: 'echo', arguments: { message: 'after the login' } });
    await client.close();
    console.log(JSON.stringify({
      text: r.content[0].text,
      secrets: { code: seen.code, verifier: seen.verifier, clientSecret: seen.client?.client_secret, accessToken: seen.tokens?.access_token, refreshToken: seen.tokens?.refresh_token },
    }));
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
