import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../src/proxy/server.js';
import { ensureCa, LeafIssuer } from '../src/proxy/ca.js';
import { caFiles } from '../src/proxy/ca-files.js';
import { CaptureStore } from '../src/store/read.js';
import { tempDb } from './helpers/tmp.js';
import { serveClosing } from './helpers/tunnel.js';

// A name-constrained CA (`mcptap ca --reset --constrain HOST…`): Node's TLS client accepts its leaves for the names
// it lists and refuses any other (checked with leaves minted straight from it), and proxy --forward, which would
// only make leaves the client refuses, tunnels a host outside the names blind and says so.

const run = promisify(execFile);
const tmp = tempDb('forward-constraints.db');
const CLI = path.resolve('dist/src/cli/main.js');
const constrained = caFiles(path.join(tmp.dir, 'constrained-ca'));
const realCa = caFiles(path.join(tmp.dir, 'real-ca'));
const closers: Array<() => Promise<void>> = [];
const warnings: string[] = [];
let issuer: LeafIssuer;
let proxy: RunningProxy;

const serve = (server: net.Server): Promise<number> => serveClosing(closers, server);

/** Node's TLS client, trusting only the constrained CA, against a server with the CA's leaf for `name`. */
async function handshake(name: string): Promise<string> {
  const { key, cert } = await issuer.leaf(name);
  const port = await serve(tls.createServer({ key, cert }, (s) => s.end('hello')));
  return new Promise((resolve) => {
    const c = tls.connect({ host: '127.0.0.1', port, servername: net.isIP(name) ? undefined : name, ca: fs.readFileSync(constrained.certPath, 'utf8'), checkServerIdentity: (_h, peer) => tls.checkServerIdentity(name, peer) }, () => {
      resolve('accepted');
      c.destroy();
    });
    c.on('error', (e) => resolve(e.message));
  });
}

beforeAll(async () => {
  await ensureCa(constrained, true, ['localhost', '*.example.test']);
  issuer = await LeafIssuer.load(constrained);
  await ensureCa(realCa);
  proxy = await startProxy({
    forward: { policy: { all: true, hosts: [], passthrough: [] }, upstreamCa: [realCa.certPath], caDir: constrained.dir },
    port: 0, db: tmp.db, onWarning: (m) => warnings.push(m),
  });
});

afterAll(async () => {
  await proxy?.close();
  for (const c of closers.reverse()) await c();
  tmp.cleanup();
});

describe('a name-constrained CA', () => {
  it("Node's TLS client accepts its leaves for the names it lists and refuses any other", async () => {
    expect(issuer.names()).toEqual(['localhost', '*.example.test']);
    for (const name of ['localhost', 'api.example.test']) {
      expect(await handshake(name), name).toBe('accepted');
      expect(issuer.permits(name)).toBe(true);
    }
    // The bare domain is not one of its subdomains; an address is no listed name.
    for (const [name, why] of [['evil.test', 'permitted subtree violation'], ['example.test', 'permitted subtree violation'], ['127.0.0.1', 'excluded subtree violation']]) {
      expect(await handshake(name), name).toBe(why);
      expect(issuer.permits(name)).toBe(false);
    }
  });

  it('proxy --forward decrypts a listed host and tunnels one outside the names blind, saying so once', async () => {
    const real = await LeafIssuer.load(realCa);
    const inside = await serve(https.createServer({ ...(await real.leaf('localhost')) }, (_req, res) => res.end('inside')));
    const outside = await serve(https.createServer({ ...(await real.leaf('127.0.0.1')) }, (_req, res) => res.end('outside')));
    const bundle = path.join(tmp.dir, 'bundle.pem');
    fs.writeFileSync(bundle, fs.readFileSync(constrained.certPath, 'utf8') + fs.readFileSync(realCa.certPath, 'utf8'));
    const curl = async (url: string) => (await run('curl', ['-sS', '--proxy', proxy.url, '--cacert', bundle, url], { timeout: 60_000 })).stdout;
    expect(await curl(`https://localhost:${inside}/`)).toBe('inside');
    expect(await curl(`https://127.0.0.1:${outside}/`)).toBe('outside');
    expect(await curl(`https://127.0.0.1:${outside}/again`)).toBe('outside');
    expect(warnings.filter((w) => w.includes('outside the names'))).toEqual([expect.stringContaining(`127.0.0.1 is outside the names mcptap's CA may sign for (localhost, *.example.test): tunnelled, not decrypted`)]);
    await proxy.flush();
    const store = CaptureStore.open(tmp.db, { readonly: true });
    try {
      const all = store.listSessions().flatMap((s) => store.exchanges(s.id));
      expect(all.some((e) => e.method === 'GET' && e.upstreamUrl.startsWith(`https://localhost:${inside}/`) && e.status === 200)).toBe(true);
      expect(all.filter((e) => e.method === 'CONNECT' && e.url === `127.0.0.1:${outside}`)).toHaveLength(2);
      expect(all.some((e) => e.upstreamUrl.startsWith(`https://127.0.0.1:${outside}`))).toBe(false);
    } finally {
      store.close();
    }
  });

  it('mcptap ca --reset --constrain makes one; --constrain on an existing CA without --reset is one line and exit 2', async () => {
    const env = { ...process.env, MCPTAP_CA_DIR: path.join(tmp.dir, 'cli-ca') };
    const made = JSON.parse((await run(process.execPath, [CLI, 'ca', '--constrain', 'api.anthropic.com', '*.example.com,127.0.0.1', '--json'], { env })).stdout);
    expect(made.constrainedTo).toEqual(['api.anthropic.com', '*.example.com', '127.0.0.1']);
    const r = await run(process.execPath, [CLI, 'ca', '--constrain', 'x.example'], { env }).then(() => null, (e) => e);
    expect(r?.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('add --reset')]);
    const plain = JSON.parse((await run(process.execPath, [CLI, 'ca', '--reset', '--json'], { env })).stdout);
    expect(plain.constrainedTo).toBeNull();
    expect(plain.sha256).not.toBe(made.sha256);
  });
});
