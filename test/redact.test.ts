import { describe, expect, it } from 'vitest';
import { Redactor } from '../src/capture/redact.js';
import { FINGERPRINT } from '../src/capture/fingerprint.js';
import { isSecretName } from '../src/capture/secret-names.js';

// The redactor over each secret shape it must scrub, and over text that only looks like one. Every secret
// here is made up; the corpus test (secrets-corpus.test.ts) sends the same shapes through real peers.
const KEY = Buffer.alloc(32, 7);
const fp = /\[redacted:[0-9a-f]{8}(…[^\]]{4})?\]/;

/** [what, text, the secret that must be gone]. */
const SHAPES: Array<[string, string, string]> = [
  ['token key', '{"token":"tok-value-123456"}', 'tok-value-123456'],
  ['authorization_token (Anthropic mcp_servers)', '{"mcp_servers":[{"type":"url","authorization_token":"mcpauth-7788990011"}]}', 'mcpauth-7788990011'],
  ['env-style name', '{"env":{"GITHUB_PERSONAL_ACCESS_TOKEN":"plainvalue-without-prefix"}}', 'plainvalue-without-prefix'],
  ['…_API_KEY', '{"OPENAI_API_KEY":"openai-plain-key-1"}', 'openai-plain-key-1'],
  ['…_SECRET', '{"APP_CLIENT_SECRET":"client-sec-value"}', 'client-sec-value'],
  ['password as a number', '{"password": 12345678}', '12345678'],
  ['camelCase apiKey', '{"apiKey":"camelcase-key-99"}', 'camelcase-key-99'],
  ['refresh_token', '{"refresh_token":"rt-abcdef123456"}', 'rt-abcdef123456'],
  ['client_secret', '{"client_secret":"cs-abcdef123456"}', 'cs-abcdef123456'],
  ['OAuth code in JSON', '{"grant_type":"authorization_code","code":"SplxlOBeZQQYbYS6WxSbIA"}', 'SplxlOBeZQQYbYS6WxSbIA'],
  ['code_verifier', '{"code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r"}', 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r'],
  ['x-mcp-<alias>-authorization', '{"x-mcp-github-authorization":"gh-alias-secret-1"}', 'gh-alias-secret-1'],
  ['x-mcp-auth', '{"x-mcp-auth":"litellm-auth-999"}', 'litellm-auth-999'],
  ['an array of keys', '{"api_keys":["first-key-0001","second-key-0002"]}', 'second-key-0002'],
  ['JSON inside a string', '{"content":[{"type":"text","text":"{\\"access_token\\":\\"inner-access-tok\\"}"}]}', 'inner-access-tok'],
  ['env dump inside a tool result', '{"text":"{\\n  \\"DB_PASSWORD\\": \\"envdump-pass-1\\"\\n}"}', 'envdump-pass-1'],
  ['URL userinfo', 'postgres://admin:urlpass-4411@db.internal:5432/app', 'urlpass-4411'],
  ['URL userinfo in JSON', '{"dsn":"mysql://root:jsonurl-pw-77@127.0.0.1/x"}', 'jsonurl-pw-77'],
  ['Bearer', 'authorization: Bearer bearer-tok-0123456789', 'bearer-tok-0123456789'],
  ['Basic', 'Basic dXNlcjpwYXNzd29yZDEyMw==', 'dXNlcjpwYXNzd29yZDEyMw=='],
  ['sk-', 'my key is sk-proj-abcdefghij0123456789', 'sk-proj-abcdefghij0123456789'],
  ['sk-ant-', '{"note":"sk-ant-api03-abcdefghijklmnop0123"}', 'sk-ant-api03-abcdefghijklmnop0123'],
  ['ghp_', 'token ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'],
  ['gho_', 'gho_abcdefghijklmnopqrstuvwxyz0123456789', 'gho_abcdefghijklmnopqrstuvwxyz0123456789'],
  ['ghs_', 'x ghs_abcdefghijklmnopqrstuvwxyz0123456789 y', 'ghs_abcdefghijklmnopqrstuvwxyz0123456789'],
  ['github_pat_', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz'],
  ['xoxb-', 'slack xoxb-1234567890-0987654321-abcdefABCDEF', 'xoxb-1234567890-0987654321-abcdefABCDEF'],
  ['xoxp-', 'slack xoxp-1234567890-0987654321-abcdefABCDEF', 'xoxp-1234567890-0987654321-abcdefABCDEF'],
  ['AKIA', 'aws AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE'],
  ['Google API key', '{"q":"x","k":"AIzaSyA-corpusGoogleKey0123456789abcdef"}', 'AIzaSyA-corpusGoogleKey0123456789abcdef'],
  ['Stripe', 'stripe sk_live_corpusStripe0123456789', 'sk_live_corpusStripe0123456789'],
  ['Hugging Face', 'hf_corpusHuggingFace0123456789abcdefgh', 'hf_corpusHuggingFace0123456789abcdefgh'],
  ['?key=', 'https://generativelanguage.example/v1/models?key=plainkey-0123', 'plainkey-0123'],
  ['JWT', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c', 'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'],
  ['key in a URL path', 'GET https://mcp.example.com/api/mcp/Zk3pQ9xLmN2vR7tY8sW1aB4c/mcp', 'Zk3pQ9xLmN2vR7tY8sW1aB4c'],
  ['key in a bare path', '{"url":"/api/mcp/Qw7eR5tY3uI1oP9aS8dF6gH4/mcp"}', 'Qw7eR5tY3uI1oP9aS8dF6gH4'],
  ['query ?token=', 'https://x.example/sse?token=querytok-5566', 'querytok-5566'],
  ['fragment #access_token=', 'Location: https://app.example/cb#access_token=fragtok-2233&token_type=bearer', 'fragtok-2233'],
  ['form body', 'grant_type=refresh_token&refresh_token=formrt-8899&client_id=c', 'formrt-8899'],
  ['--pat X', 'started: server --pat patvalue-1234 --verbose', 'patvalue-1234'],
  ['--auth X', 'args: --auth authvalue-5678', 'authvalue-5678'],
  ['--token=X', 'args: --token=tokflag-9012', 'tokflag-9012'],
  ['--password X', 'args: --password pwflag-3456', 'pwflag-3456'],
  [';Password=X', '--connection-string=Server=db;User Id=sa;Password=connstr-pw-7;Encrypt=true', 'connstr-pw-7'],
  ['DATABASE_URL on stderr', 'DATABASE_URL=postgresql://app:dburl-pw-42@localhost/app', 'dburl-pw-42'],
  ['NAME=value on stderr', 'loaded SLACK_BOT_TOKEN=envline-tok-1 from .env', 'envline-tok-1'],
  ['YAML line', 'password: yaml-pass-77', 'yaml-pass-77'],
  ['escaped JSON in a log line', 'request body={\\"password\\":\\"escaped-pass-88\\",\\"n\\":1}', 'escaped-pass-88'],
];

/** Text that must come out exactly as it went in. */
const KEEP: Array<[string, string]> = [
  ['a normal tool argument', '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello world","count":3}}}'],
  ['usage counts stay numbers', '{"usage":{"input_tokens":123,"output_tokens":45,"cache_creation_input_tokens":0,"cache_read_input_tokens":7},"max_tokens":32000}'],
  ['OpenAI usage', '{"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"max_completion_tokens":null}}'],
  ['tokenizer text', '{"text":"The tokenizer splits text into tokens; a token is about 4 characters."}'],
  ['a tool named get_token_count', '{"name":"get_token_count","description":"Returns the token count of a text","inputSchema":{"type":"object","properties":{"text":{"type":"string"}}}}'],
  ['an API error code that is a word', '{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}'],
  ['JSON-RPC error code', '{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params"}}'],
  ['progressToken', '{"params":{"_meta":{"progressToken":"p-1234567890","claudecode/toolUseId":"toolu_01ABC"}}}'],
  ['OAuth metadata', '{"token_endpoint":"https://as.example/token","authorization_servers":["https://as.example"],"token_endpoint_auth_methods_supported":["none"]}'],
  ['token_type and expires_in', '{"token_type":"bearer","expires_in":3600}'],
  ['a challenge with parameters', 'Bearer realm="mcp", error="invalid_token", resource_metadata="http://127.0.0.1:9/.well-known/oauth-protected-resource"'],
  ['English', 'a basic understanding of the bearer bond market'],
  ['session ids', '/messages/?session_id=4f2a9c0b8d7e6f5a4b3c2d1e0f9a8b7c'],
  ['a UUID path', '/s/litellm/mcp/3fa85f64-5717-4562-b3fc-2c963f66afa6'],
  ['a commit in a URL', 'https://github.com/o/r/blob/0123456789abcdef0123456789abcdef01234567/src/x.ts'],
  ['column names', '{"primary_key":"id","foreign_key":"user_id","sort_key":"ts"}'],
  ['flags without secrets', 'node server.js --port 8080 --no-auth --max-tokens 100'],
  ['the working folder', 'PWD=/home/me/project'],
  ['content type', 'text/event-stream; charset=utf-8'],
  ['a short sk- word', 'scikit-learn is sk-learn'],
];

describe('redactor: each secret shape', () => {
  for (const [what, text, secret] of SHAPES) {
    it(what, () => {
      const out = new Redactor(true, KEY).text(text);
      expect(out).not.toContain(secret);
      expect(out).toMatch(fp);
    });
  }
});

describe('redactor: what is not secret stays as it is', () => {
  for (const [what, text] of KEEP) {
    it(what, () => {
      expect(new Redactor(true, KEY).text(text)).toBe(text);
    });
  }

  it('a long line of escaped quotes comes out as it went in (each quote used to rescan the rest of the line)', () => {
    // 960 KB: with every escaped quote opening a string, this took time by its square (48 KB: over a second).
    const text = '\\"x\\" '.repeat(160_000);
    expect(new Redactor(true, KEY).text(text)).toBe(text);
  });

  it('usage counts are still numbers after redaction of a body that also has a secret', () => {
    const out = new Redactor(true, KEY).text('{"api_key":"abc-123-456-789","usage":{"input_tokens":123}}');
    expect(JSON.parse(out)).toEqual({ api_key: expect.stringMatching(fp), usage: { input_tokens: 123 } });
  });
});

describe('names', () => {
  it.each(['token', 'authorization_token', 'GITHUB_PERSONAL_ACCESS_TOKEN', 'OPENAI_API_KEY', 'AWS_SECRET_ACCESS_KEY', 'x-mcp-linear-authorization', 'x-mcp-auth', 'passwd', 'pwd', 'apikey', 'x-api-key', 'private_key', 'sessionToken'])('%s is secret', (n) => {
    expect(isSecretName(n)).toBe(true);
  });
  it.each(['max_tokens', 'input_tokens', 'maxTokens', 'tokenizer', 'token_type', 'token_endpoint', 'progressToken', 'anthropic-ratelimit-tokens-remaining', 'sec-websocket-key', 'primary_key', 'key', 'mcp-session-id', 'www-authenticate'])('%s is not', (n) => {
    expect(isSecretName(n)).toBe(false);
  });
});

describe('fingerprints', () => {
  it('keep the last four characters of a secret of 20+ characters only, and a keyed hash', () => {
    const r = new Redactor(true, KEY);
    const long = r.fingerprint('abcdefghijklmnop12345678');
    expect(long).toMatch(/^\[redacted:[0-9a-f]{8}…5678\]$/);
    const short = r.fingerprint('hunter2-hunter2');
    expect(short).toMatch(/^\[redacted:[0-9a-f]{8}\]$/);
    expect(short).not.toMatch(/hun|er2/);
    expect(FINGERPRINT.test(long) && FINGERPRINT.test(short)).toBe(true);
  });

  it('match under one key and differ under another, so a list of likely passwords cannot be checked without the key', () => {
    const a = new Redactor(true, KEY);
    const b = new Redactor(true, KEY);
    const other = new Redactor(true, Buffer.alloc(32, 8));
    expect(a.fingerprint('password1')).toBe(b.fingerprint('password1'));
    expect(a.fingerprint('password1')).not.toBe(other.fingerprint('password1'));
    expect(a.fingerprint('password1')).not.toBe(a.fingerprint('password2'));
  });

  it('are left alone when redacted again (an import of a redacted recording)', () => {
    const r = new Redactor(true, KEY);
    const once = r.text('{"password":"hunter2-hunter2"}');
    expect(r.text(once + ' ')).toBe(once + ' ');
  });

  it('header credentials keep their scheme', () => {
    const r = new Redactor(true, KEY);
    const [[, v]] = r.headers([['Authorization', 'Bearer sk-ant-api03-abcdefghijklmnop0123']]);
    expect(v).toMatch(/^Bearer \[redacted:[0-9a-f]{8}…0123\]$/);
  });
});

describe('remembered secrets', () => {
  it('a header secret is scrubbed where a server echoes it, in any body', () => {
    const r = new Redactor(true, KEY);
    r.headers([['x-custom-auth', 'opaque-credential-42']]);
    expect(r.text('{"you sent":"opaque-credential-42"}')).not.toContain('opaque-credential-42');
  });

  it('command lines: secret flags, assignments and header arguments', () => {
    const r = new Redactor(true, KEY);
    const argv = r.command(['npx', 'server', '--pat', 'cmd-pat-0001', '--token=cmd-tok-0002', 'API_KEY=cmd-key-0003', 'Authorization: Bearer cmd-bearer-0004', '--connection-string=Server=x;Password=cmd-pw-0005', 'postgres://u:cmd-url-0006@h/db', '--port', '8080']);
    const line = argv.join(' ');
    for (const s of ['cmd-pat-0001', 'cmd-tok-0002', 'cmd-key-0003', 'cmd-bearer-0004', 'cmd-pw-0005', 'cmd-url-0006']) expect(line).not.toContain(s);
    expect(argv.slice(-2)).toEqual(['--port', '8080']);
    // And the server printing one of them later.
    expect(r.text('using cmd-pat-0001')).not.toContain('cmd-pat-0001');
  });

  it('the environment: secret-named variables and URL passwords', () => {
    const r = new Redactor(true, KEY);
    r.environment({ MY_SERVICE_TOKEN: 'env-token-0001', DATABASE_URL: 'postgres://u:env-url-pw-2@h/db', PWD: '/home/me/project', HOME: '/home/me' });
    expect(r.text('token is env-token-0001, password env-url-pw-2')).not.toMatch(/env-token-0001|env-url-pw-2/);
    expect(r.text('cwd /home/me/project')).toBe('cwd /home/me/project');
  });

  it('--no-redact stores everything as sent', () => {
    const r = new Redactor(false, KEY);
    const text = '{"password":"hunter2-hunter2","k":"sk-ant-api03-abcdefghijklmnop0123"}';
    expect(r.text(text)).toBe(text);
    expect(r.command(['x', '--token', 'abc'])).toEqual(['x', '--token', 'abc']);
    expect(r.headers([['authorization', 'Bearer abc']])).toEqual([['authorization', 'Bearer abc']]);
  });
});

describe('redaction on the capture path', () => {
  it('scans a JSON body once: the message it carries reuses the exchange body\'s scan', async () => {
    const { startProxy } = await import('../src/proxy/server.js');
    const { startJsonServer } = await import('./helpers/peers.js');
    const { tempDb } = await import('./helpers/tmp.js');
    const tmp = tempDb('once.db');
    const peer = await startJsonServer((body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: {} }));
    });
    const proxy = await startProxy({ target: peer.url, port: 0, db: tmp.db, onWarning: () => {} });
    try {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'plain words and more words '.repeat(4000), password: 'hunter2-hunter2' } } });
      const r = await fetch(proxy.url + '/mcp', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body });
      expect(r.status).toBe(200);
      await r.text();
      await proxy.flush();
      // The request body (as the exchange's body and as its message) and the small answer: one scan each.
      expect(proxy.engine.redactor.scannedChars).toBeGreaterThanOrEqual(body.length);
      expect(proxy.engine.redactor.scannedChars).toBeLessThan(body.length * 1.2);
    } finally {
      await proxy.close();
      await peer.close();
      tmp.cleanup();
    }
  });
});

describe('redaction on the capture path: event streams', () => {
  it('scans an event stream\'s events once: its stored body reuses the scans of its messages', async () => {
    const { startProxy } = await import('../src/proxy/server.js');
    const { startRawHttpServer } = await import('./helpers/peers.js');
    const { tempDb } = await import('./helpers/tmp.js');
    const tmp = tempDb('once-sse.db');
    const event = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'plain words and more words '.repeat(4000) }], token: 'sse-secret-0123456789' } });
    const peer = await startRawHttpServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/event-stream' }).end(`event: message\nid: 1\ndata: ${event}\n\n`));
    });
    const proxy = await startProxy({ target: peer.url, port: 0, db: tmp.db, onWarning: () => {} });
    try {
      const request = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } });
      const r = await fetch(proxy.url + '/mcp', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: request });
      expect(await r.text()).toContain('sse-secret-0123456789');
      await proxy.flush();
      const scanned = proxy.engine.redactor.scannedChars;
      expect(scanned).toBeGreaterThanOrEqual(event.length);
      expect(scanned).toBeLessThan((event.length + request.length) * 1.2);
    } finally {
      await proxy.close();
      await peer.close();
    }
    const { CaptureStore } = await import('../src/store/read.js');
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const [ex] = store.exchanges(store.listSessions()[0].id);
      expect(ex.responseBody).toMatch(/^event: message\nid: 1\ndata: \{.*"token":"\[redacted:[0-9a-f]{8}…6789\]"\}\}\n\n$/s);
    } finally {
      store.close();
      tmp.cleanup();
    }
  });
});

describe('the target of a proxy', () => {
  it('a key in the --target URL has the database\'s fingerprint, the same as in each exchange\'s upstream URL', async () => {
    const { startProxy } = await import('../src/proxy/server.js');
    const { startJsonServer } = await import('./helpers/peers.js');
    const { tempDb } = await import('./helpers/tmp.js');
    const { CaptureStore } = await import('../src/store/read.js');
    const tmp = tempDb('target.db');
    const key = 'Tg5Hk8Jm2Np6Qr9St3Vw7Xz1';
    const peer = await startJsonServer((body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: {} }));
    });
    const proxy = await startProxy({ target: `${peer.url}/api/mcp/${key}`, port: 0, db: tmp.db, onWarning: () => {} });
    try {
      const r = await fetch(proxy.url + '/mcp', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
      expect(r.status).toBe(200);
      await r.text();
    } finally {
      await proxy.close();
      await peer.close();
    }
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const [session] = store.listSessions();
      const [ex] = store.exchanges(session.id);
      const fp = /\[redacted:[0-9a-f]{8}…7Xz1\]/.exec(session.target)?.[0];
      expect(session.target).not.toContain(key);
      expect(fp).toBeDefined();
      expect(ex.upstreamUrl).toContain(fp);
    } finally {
      store.close();
      tmp.cleanup();
    }
  });
});

describe('the fingerprint key of a database', () => {
  it('is made once per database, kept across opens, and differs between databases', async () => {
    const { openDatabase } = await import('../src/store/db.js');
    const { fingerprintKey } = await import('../src/store/meta.js');
    const { tempDb } = await import('./helpers/tmp.js');
    const tmp = tempDb('key.db');
    try {
      const keyOf = (file: string) => {
        const db = openDatabase(file, { create: true });
        try {
          return fingerprintKey(db);
        } finally {
          db.close();
        }
      };
      const first = keyOf(tmp.db);
      expect(first.length).toBe(32);
      expect(keyOf(tmp.db).equals(first)).toBe(true);
      expect(keyOf(tmp.db + '.other').equals(first)).toBe(false);
      // Two redactors on one database fingerprint a secret alike; on another database, not.
      const a = new Redactor(true, first).fingerprint('sk-ant-api03-abcdefghijklmnop0123');
      expect(new Redactor(true, keyOf(tmp.db)).fingerprint('sk-ant-api03-abcdefghijklmnop0123')).toBe(a);
      expect(new Redactor(true, keyOf(tmp.db + '.other')).fingerprint('sk-ant-api03-abcdefghijklmnop0123')).not.toBe(a);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('a secret learned after a text was first scrubbed', () => {
  const secret = 'opaque-session-value-42';
  const body = `{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"the session is ${secret} as before"}]}}`;

  it('is scrubbed from the same text seen again (the memo of scrubbed texts is not stale)', () => {
    const r = new Redactor(true, KEY);
    expect(r.text(body)).toContain(secret);
    r.headers([['authorization', `Bearer ${secret}`]]);
    expect(r.text(body)).not.toContain(secret);
    expect(r.text(body)).toMatch(fp);
  });

  it('is scrubbed from an ordinary header and a URL that were clean before', () => {
    const r = new Redactor(true, KEY);
    expect(r.headers([['x-echo', secret]])[0][1]).toBe(secret);
    expect(r.url(`/mcp?s=${secret}`)).toContain(secret);
    r.headers([['authorization', `Bearer ${secret}`]]);
    expect(r.headers([['x-echo', secret]])[0][1]).not.toContain(secret);
    expect(r.url(`/mcp?s=${secret}`)).not.toContain(secret);
  });
});
