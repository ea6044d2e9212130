import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CaptureStore } from '../src/store/read.js';
import { connectClient, startPlainToolsServer, startRawHttpServer, startSseServer, type Peer } from './helpers/peers.js';
import { tempDb, until } from './helpers/tmp.js';

// `mcptap claude install | uninstall | status` on copies of realistic Claude Code config files in a
// temp HOME: the rewritten entries work end to end (stdio through wrap, http and sse through the proxy's
// routes, the model API through its route), and uninstall gives back the exact bytes.

const cli = path.resolve('dist/src/cli/main.js');
const fixtures = path.resolve('test/fixtures/claude-code');
const sdkServer = path.resolve('dist/test/helpers/stdio-server.js');
const everythingBin = path.resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
let tools: Peer;
let legacy: Peer;
let model: Peer;
const modelRequests: Array<{ url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
const children: ChildProcess[] = [];

interface Home {
  dir: string;
  project: string;
  userFile: string;
  projectFile: string;
  db: string;
  routes: string;
  run(...args: string[]): { status: number | null; stdout: string; stderr: string };
  cleanup(): void;
}

function makeHome(): Home {
  const t = tempDb();
  const project = path.join(t.dir, 'work', 'app');
  fs.mkdirSync(project, { recursive: true });
  const userFile = path.join(t.dir, '.claude.json');
  const projectFile = path.join(project, '.mcp.json');
  const fill = (s: string) => s.replace('SERVER_EVERYTHING', everythingBin).replace('LITELLM_URL', tools.url).replace('LEGACY_URL', legacy.url)
    .replace('PROJECT_DIR', project).replace('SDK_SERVER', sdkServer);
  fs.writeFileSync(userFile, fill(fs.readFileSync(path.join(fixtures, 'claude.json'), 'utf8')), { mode: 0o600 });
  fs.writeFileSync(projectFile, fill(fs.readFileSync(path.join(fixtures, 'mcp.json'), 'utf8')));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: t.dir, MCPTAP_DB: t.db, ANTHROPIC_BASE_URL: model.url };
  delete env.MCPTAP_ROUTES;
  delete env.CLAUDE_CONFIG_DIR;
  return {
    dir: t.dir, project, userFile, projectFile, db: t.db, routes: path.join(t.dir, '.mcptap', 'routes.json'),
    run: (...args) => spawnSync(process.execPath, [cli, ...args], { cwd: project, env, encoding: 'utf8', timeout: 20_000 }),
    cleanup: t.cleanup,
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

beforeAll(async () => {
  tools = await startPlainToolsServer();
  legacy = await startSseServer();
  model = await startRawHttpServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      modelRequests.push({ url: req.url!, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn' }));
    });
  });
});

afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode == null ? new Promise((r) => c.once('exit', r)) : null)));
  await Promise.all([tools.close(), legacy.close(), model.close()]);
});

describe('mcptap claude install and uninstall', () => {
  let home: Home;
  beforeAll(() => (home = makeHome()));
  afterAll(() => home.cleanup());

  it('install → uninstall gives back both files byte for byte, mode kept, everything else untouched in between', () => {
    const user0 = fs.readFileSync(home.userFile);
    const project0 = fs.readFileSync(home.projectFile);
    const r = home.run('claude', 'install');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('ANTHROPIC_BASE_URL=http://127.0.0.1:8808/s/anthropic');
    const user1 = JSON.parse(fs.readFileSync(home.userFile, 'utf8'));
    const before = JSON.parse(user0.toString());
    // The names stay, so the model's tool names (mcp__<server>__<tool>) do not change.
    expect(Object.keys(user1.mcpServers)).toEqual(Object.keys(before.mcpServers));
    expect(Object.keys(user1)).toEqual(Object.keys(before));
    expect({ ...user1, mcpServers: null, projects: null }).toEqual({ ...before, mcpServers: null, projects: null });
    expect(user1.mcpServers.litellm).toEqual({ ...before.mcpServers.litellm, url: 'http://127.0.0.1:8808/s/litellm/mcp' });
    expect(user1.mcpServers.everything.args).toEqual([cli, 'wrap', '--label', 'everything', '--', 'node', everythingBin, 'stdio']);
    // The project's .mcp.json is shared: mcptap by name from PATH, no path of this machine in it.
    const project1 = JSON.parse(fs.readFileSync(home.projectFile, 'utf8'));
    const before1 = JSON.parse(project0.toString());
    expect(project1.mcpServers.sdk).toEqual({ ...before1.mcpServers.sdk, command: 'mcptap', args: ['wrap', '--label', 'sdk', '--', 'node', ...before1.mcpServers.sdk.args] });
    expect(fs.readFileSync(home.projectFile, 'utf8')).not.toContain(process.execPath);
    expect(fs.readFileSync(home.projectFile, 'utf8')).not.toContain(cli);
    expect(r.stdout).toContain(`Note: ${home.projectFile} is the project's shared file (often committed): its entries start \`mcptap\` from PATH`);
    expect(user1.projects[home.project].mcpServers.legacy.url).toBe('http://127.0.0.1:8808/s/legacy/sse');
    expect(user1.projects[home.project].history).toEqual(before.projects[home.project].history);
    expect(fs.statSync(home.userFile).mode & 0o777).toBe(0o600);
    // Only the changed entries differ: the text around them is the same bytes.
    const text1 = fs.readFileSync(home.userFile, 'utf8');
    expect(text1.slice(0, text1.indexOf('"everything"'))).toBe(user0.toString().slice(0, user0.indexOf('"everything"')));
    expect(text1.slice(text1.indexOf('"oauthAccount"'))).toBe(user0.toString().slice(user0.indexOf('"oauthAccount"')));
    const routes = JSON.parse(fs.readFileSync(home.routes, 'utf8'));
    expect(routes).toEqual({ version: 1, port: 8808, routes: { litellm: { target: tools.url, kind: 'mcp' }, legacy: { target: legacy.url, kind: 'mcp' }, anthropic: { target: model.url, kind: 'model' } } });

    const u = home.run('claude', 'uninstall');
    expect(u.stderr).toBe('');
    expect(u.status).toBe(0);
    expect(u.stdout.match(/restored/g)).toHaveLength(4);
    expect(Buffer.compare(fs.readFileSync(home.userFile), user0)).toBe(0);
    expect(Buffer.compare(fs.readFileSync(home.projectFile), project0)).toBe(0);
    expect(fs.statSync(home.userFile).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(home.routes)).toBe(false);
    // Backups of what each write replaced.
    expect(fs.readdirSync(path.join(home.dir, '.mcptap', 'backups')).length).toBe(4);
  });

  it('restores exactly even after Claude Code rewrote the rest of the file', () => {
    const r = home.run('claude', 'install', '--scope', 'user');
    expect(r.status).toBe(0);
    // Claude Code rewrites ~/.claude.json while it runs (counters and the like), entries untouched.
    const cfg = JSON.parse(fs.readFileSync(home.userFile, 'utf8'));
    cfg.numStartups = 42;
    fs.writeFileSync(home.userFile, JSON.stringify(cfg, null, 2));
    expect(home.run('claude', 'uninstall').status).toBe(0);
    const back = JSON.parse(fs.readFileSync(home.userFile, 'utf8'));
    const original = JSON.parse(fs.readFileSync(path.join(fixtures, 'claude.json'), 'utf8'));
    expect(back.numStartups).toBe(42);
    expect(back.mcpServers.litellm.url).toBe(`${tools.url}/mcp`);
    expect(Object.keys(back.mcpServers)).toEqual(Object.keys(original.mcpServers));
    expect(back.mcpServers.everything.command).toBe('node');
  });

  it('refuses, in one line, to overwrite a server changed since install, and restores the rest', () => {
    const user0 = fs.readFileSync(home.userFile, 'utf8');
    expect(home.run('claude', 'install', '--scope', 'user').status).toBe(0);
    const cfg = JSON.parse(fs.readFileSync(home.userFile, 'utf8'));
    cfg.mcpServers.litellm.url = 'http://127.0.0.1:1/elsewhere';
    fs.writeFileSync(home.userFile, JSON.stringify(cfg, null, 2) + '\n');
    const u = home.run('claude', 'uninstall');
    expect(u.status).toBe(1);
    expect(u.stderr).toBe(`mcptap: not restoring litellm (user, ${home.userFile}): changed since mcptap claude install; left as it is (edit it by hand)\n`);
    const back = JSON.parse(fs.readFileSync(home.userFile, 'utf8'));
    expect(back.mcpServers.litellm.url).toBe('http://127.0.0.1:1/elsewhere');
    expect(back.mcpServers.everything).toEqual(JSON.parse(user0).mcpServers.everything);
    // Still on record: after the user puts it back, uninstall restores it.
    cfg.mcpServers.litellm.url = 'http://127.0.0.1:8808/s/litellm/mcp';
    cfg.mcpServers.everything = back.mcpServers.everything;
    fs.writeFileSync(home.userFile, JSON.stringify(cfg, null, 2) + '\n');
    expect(home.run('claude', 'uninstall').status).toBe(0);
    expect(JSON.parse(fs.readFileSync(home.userFile, 'utf8')).mcpServers.litellm.url).toBe(`${tools.url}/mcp`);
  });

  it('a config file that is not valid JSON: one line, exit 2, nothing touched', () => {
    const good = fs.readFileSync(home.projectFile, 'utf8');
    fs.writeFileSync(home.projectFile, good.replace('"mcpServers"', 'mcpServers'));
    const broken = fs.readFileSync(home.projectFile);
    const user0 = fs.readFileSync(home.userFile);
    const r = home.run('claude', 'install');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(new RegExp(`^mcptap: ${home.projectFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON \\(.+\\); it was left as it is\\n$`));
    expect(Buffer.compare(fs.readFileSync(home.projectFile), broken)).toBe(0);
    expect(Buffer.compare(fs.readFileSync(home.userFile), user0)).toBe(0);
    expect(fs.existsSync(home.routes)).toBe(false);
    fs.writeFileSync(home.projectFile, good);
  });

  it('--dry-run writes nothing; --server picks servers; an unknown name is a usage error', () => {
    const user0 = fs.readFileSync(home.userFile);
    const d = home.run('claude', 'install', '--dry-run', '--json', '--server', 'litellm');
    expect(d.status).toBe(0);
    const plan = JSON.parse(d.stdout);
    expect(plan.servers).toEqual([expect.objectContaining({ name: 'litellm', scope: 'user', route: 'litellm' })]);
    expect(Buffer.compare(fs.readFileSync(home.userFile), user0)).toBe(0);
    expect(fs.existsSync(home.routes)).toBe(false);
    const bad = home.run('claude', 'install', '--server', 'nope');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("mcptap: no server named nope in Claude Code's config; see mcptap claude status\n");
    expect(home.run('claude', 'install', '--scope', 'nowhere').status).toBe(2);
  });
});

describe('after mcptap claude install, every server goes through mcptap', () => {
  let home: Home;
  let port: number;
  beforeAll(async () => {
    home = makeHome();
    port = await freePort();
    const envFile = path.join(home.dir, 'mcptap.env');
    const r = home.run('claude', 'install', '--port', String(port), '--env', envFile);
    expect(r.status).toBe(0);
    expect(fs.readFileSync(envFile, 'utf8')).toBe(`export ANTHROPIC_BASE_URL=http://127.0.0.1:${port}/s/anthropic\n`);
    const st = JSON.parse(home.run('claude', 'status', '--json').stdout);
    expect(st.proxy.state).toBe('not running');
    const proxy = spawn(process.execPath, [cli, 'proxy', '--no-live-checks'], { cwd: home.project, env: { ...process.env, HOME: home.dir, MCPTAP_DB: home.db }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(proxy);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      proxy.stdout!.on('data', (c) => (out += c) && out.includes('Ctrl-C') && resolve());
      proxy.once('exit', (code) => reject(new Error(`proxy exited ${code}`)));
    });
  });
  afterAll(() => home.cleanup());

  it('status says so per server, with the proxy running', () => {
    const st = JSON.parse(home.run('claude', 'status', '--json').stdout);
    expect(st.proxy).toMatchObject({ port, state: 'running' });
    expect(st.servers.map((s: { name: string; capture: string }) => [s.name, s.capture])).toEqual([
      ['everything', 'captured by mcptap wrap'], ['litellm', 'captured by the proxy'], ['sdk', 'captured by mcptap wrap'], ['legacy', 'captured by the proxy'],
    ]);
  });

  it('http and sse servers answer through their routes, headers passed on', async () => {
    const cfg = JSON.parse(fs.readFileSync(home.userFile, 'utf8'));
    const lite = cfg.mcpServers.litellm;
    const a = await connectClient('streamable-http', lite.url, { name: 'claude-code', headers: lite.headers });
    expect((await a.client.callTool({ name: 'echo', arguments: { message: 'x' } })).content).toEqual([{ type: 'text', text: 'Echo: x' }]);
    await a.close();
    const b = await connectClient('sse', cfg.projects[home.project].mcpServers.legacy.url, { name: 'claude-code' });
    expect((await b.client.callTool({ name: 'echo', arguments: { message: 'y' } })).content).toEqual([{ type: 'text', text: 'Echo: y' }]);
    await b.close();
  });

  it('stdio servers run through mcptap wrap with their env', async () => {
    const entry = JSON.parse(fs.readFileSync(home.projectFile, 'utf8')).mcpServers.sdk;
    // mcptap on PATH, as `npm link` puts it: the shared file names it, not a path.
    const bin = path.join(home.dir, 'bin');
    fs.mkdirSync(bin, { recursive: true });
    if (!fs.existsSync(path.join(bin, 'mcptap'))) fs.symlinkSync(cli, path.join(bin, 'mcptap'));
    fs.chmodSync(cli, 0o755);
    const PATH = `${bin}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`;
    expect(entry.command).toBe('mcptap');
    const transport = new StdioClientTransport({ command: entry.command, args: entry.args, env: { ...process.env, PATH, HOME: home.dir, MCPTAP_DB: home.db, ...entry.env } as Record<string, string>, stderr: 'pipe', cwd: home.project });
    const client = new Client({ name: 'claude-code', version: '2.1.330' });
    await client.connect(transport);
    const r = await client.callTool({ name: 'env', arguments: { name: 'PROJECT_TOKEN' } });
    expect(JSON.parse((r.content as Array<{ text: string }>)[0].text).value).toBe('tok-2222222222222222');
    await client.close();
  });

  it("the model API's route reaches the upstream install found in ANTHROPIC_BASE_URL", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/s/anthropic/v1/messages?beta=true`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test-000000000000', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-x', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: string }).id).toBe('msg_1');
    const seen = modelRequests.at(-1)!;
    expect(seen.url).toBe('/v1/messages?beta=true');
    expect(seen.headers['x-api-key']).toBe('sk-ant-test-000000000000');
  });

  it('sessions of every kind are in the database, each with its own target', async () => {
    // The proxy writes every 100 ms: wait until the database holds all of them.
    // The model route's call is a model API turn: a conversation (`model-api`), not plain http.
    const want = ['stdio', 'streamable-http', 'sse', 'model-api'];
    let sessions: Array<{ transport: string; target: string; label: string | null }> = [];
    await until(() => {
      const store = CaptureStore.open(home.db, { readonly: true });
      sessions = store.listSessions({});
      store.close();
      return want.every((t) => sessions.some((s) => s.transport === t));
    }, 'a session of every transport', 60_000);
    expect(sessions.find((s) => s.transport === 'stdio')).toMatchObject({ label: 'sdk' });
    expect(sessions.find((s) => s.transport === 'streamable-http')!.target).toBe(tools.url);
    expect(sessions.find((s) => s.transport === 'sse')!.target).toBe(legacy.url);
    expect(sessions.find((s) => s.transport === 'model-api')!.target).toBe(model.url);
  });

  it('status tells when the running proxy predates a route installed since', () => {
    const cfg = JSON.parse(fs.readFileSync(home.userFile, 'utf8'));
    cfg.mcpServers.late = { type: 'http', url: `${tools.url}/mcp` };
    fs.writeFileSync(home.userFile, JSON.stringify(cfg, null, 2));
    expect(home.run('claude', 'install', '--server', 'late').status).toBe(0);
    const st = JSON.parse(home.run('claude', 'status', '--json').stdout);
    expect(st.proxy.serving).toEqual(['litellm', 'legacy', 'anthropic']);
    expect(st.servers.find((x: { name: string }) => x.name === 'late').capture).toBe('the running proxy started before this route was installed: restart mcptap proxy');
  });
});
