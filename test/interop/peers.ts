import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The real Python peers of the interop suite: LiteLLM's proxy and FastMCP servers, each in the virtual
// environment test/interop/setup.sh made, started on a free 127.0.0.1 port and stopped by the test.

export const HERE = path.dirname(fileURLToPath(import.meta.url)).replace(`${path.sep}dist${path.sep}test`, `${path.sep}test`);

/**
 * The pins setup.sh installs (read from pins.sh, so the two never disagree). MCPTAP_INTEROP_PIN=1.77.3
 * runs one of them while developing; CI runs all.
 */
export function pins(): { litellm: string[]; mcp: string } {
  const text = fs.readFileSync(path.join(HERE, 'pins.sh'), 'utf8');
  const all = /^LITELLM_PINS=\(([^)]*)\)/m.exec(text)?.[1].trim().split(/\s+/) ?? [];
  const one = process.env.MCPTAP_INTEROP_PIN;
  if (one && !all.includes(one)) throw new Error(`interop: MCPTAP_INTEROP_PIN=${one} is not one of the pins (${all.join(', ')})`);
  const litellm = one ? [one] : all;
  const mcp = /^MCP_SERVER_PIN=(\S+)/m.exec(text)?.[1] ?? '';
  return { litellm, mcp };
}

/** Where setup.sh keeps the peers it installs (outside the clone, shared by every clone on the machine). */
export const INTEROP_HOME = process.env.MCPTAP_INTEROP_HOME || path.join(os.homedir(), '.cache', 'mcptap-interop');

/** A program inside one of setup.sh's environments; a one-line error when that environment is missing. */
export function venvProgram(venv: string, program: string): string {
  const dir = path.join(INTEROP_HOME, venv);
  const bin = path.join(dir, 'bin', program);
  if (!fs.existsSync(path.join(dir, '.stamp')) || !fs.existsSync(bin)) {
    throw new Error(`interop: ${venv} is not installed (run bash test/interop/setup.sh)`);
  }
  return bin;
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface Child {
  port: number;
  url: string;
  /** The child's stderr and stdout so far (its last lines explain a failure). */
  log(): string;
  stop(): Promise<void>;
}

/** Every outbound call a peer might try goes to a closed local port instead of leaving the machine. */
export const OFFLINE_ENV: Record<string, string> = {
  HTTP_PROXY: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:9', http_proxy: 'http://127.0.0.1:9', https_proxy: 'http://127.0.0.1:9',
  NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost',
  PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1',
};

/** GET `url`; the status, or null when nothing answers yet. */
export function probe(url: string, headers: Record<string, string> = {}): Promise<number | null> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on('error', () => resolve(null));
    req.setTimeout(5000, () => req.destroy());
  });
}

/**
 * Spawns `program`, then polls `readyUrl` until it answers `ready(status)`. Fails in one line, naming
 * `what` and the child's last log line, when it exits first or is not ready within `ms`.
 */
export async function startChild(what: string, program: string, args: string[], opts: { port: number; readyUrl: string; ready?: (s: number) => boolean; env?: Record<string, string>; cwd?: string; ms?: number; headers?: Record<string, string> }): Promise<Child> {
  const ready = opts.ready ?? ((s) => s < 500);
  let out = '';
  const child: ChildProcess = spawn(program, args, {
    cwd: opts.cwd ?? HERE,
    env: { ...process.env, ...OFFLINE_ENV, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  });
  const keep = (c: Buffer) => {
    out += c.toString('utf8');
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: string | null = null;
  const gone = new Promise<void>((r) => child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? code}`;
    r();
  }));
  child.once('error', (e) => {
    exited = e.message;
  });
  const lastLine = () => out.trim().split('\n').filter((l) => /\S/.test(l)).slice(-1)[0]?.trim().slice(0, 300) ?? 'no output';
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  };
  const deadline = Date.now() + (opts.ms ?? 120_000);
  for (;;) {
    if (exited) throw new Error(`interop: ${what} did not start (${exited}): ${lastLine()}`);
    const status = await probe(opts.readyUrl, opts.headers);
    if (status != null && ready(status)) break;
    if (status != null && status >= 500 && !ready(status)) {
      await stop();
      throw new Error(`interop: ${what} answered ${status} on ${opts.readyUrl} while starting: ${lastLine()}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`interop: ${what} was not ready on ${opts.readyUrl} after ${Math.round((opts.ms ?? 120_000) / 1000)} s: ${lastLine()}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { port: opts.port, url: `http://127.0.0.1:${opts.port}`, log: () => out, stop };
}

export type FastMcpTransport = 'sse' | 'streamable-http';

/** A FastMCP server (fastmcp_server.py) over `transport`: /sse or /mcp on a free port (or `port`, to restart one). */
export async function startFastMcp(transport: FastMcpTransport, name: string, port?: number): Promise<Child & { endpoint: string }> {
  const python = venvProgram('.venv-mcp', 'python');
  port ??= await freePort();
  const endpoint = transport === 'sse' ? `http://127.0.0.1:${port}/sse` : `http://127.0.0.1:${port}/mcp`;
  // Readiness: the server answers anything at all on its port (a plain GET of /sse would open a stream).
  const child = await startChild(`FastMCP ${name} (${transport})`, python, [path.join(HERE, 'fastmcp_server.py'), '--transport', transport, '--port', String(port), '--name', name], {
    port, readyUrl: `http://127.0.0.1:${port}/ready-probe`, ready: () => true, ms: 60_000,
  });
  return { ...child, endpoint };
}

/** A temp folder for a peer's config; removed by `cleanup`. */
export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
