import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, venvProgram, type Child, startChild } from './peers.js';
import net from 'node:net';

// A real PostgreSQL for postgres-mcp: a throwaway cluster in a temp folder on a free 127.0.0.1 port (its socket
// in the same folder), stopped by the test. PostgreSQL refuses to run as root: as root the cluster belongs to
// Debian's `postgres` user and every server program runs through `runuser -u postgres --`.

export interface Postgres {
  port: number;
  /** postgresql://postgres@127.0.0.1:PORT/postgres (trust authentication: nothing secret). */
  url: string;
  stop(): Promise<void>;
}

function pgBin(program: string): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = path.join(root, v, 'bin', program);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`interop: PostgreSQL's ${program} is not installed (run bash test/interop/setup.sh)`);
}

/** Whether PostgreSQL's server programs are here (for the suite's global set-up). */
export function assertPostgres(): void {
  pgBin('initdb');
  pgBin('postgres');
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const as = (program: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', program, ...args]] : [program, args]);

export async function startPostgres(): Promise<Postgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-pg-'));
  const data = path.join(dir, 'data');
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const [initdb, initArgs] = as(pgBin('initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  execFileSync(initdb, initArgs, { stdio: 'pipe' });
  const port = await freePort();
  const [postgres, args] = as(pgBin('postgres'), ['-D', data, '-k', dir, '-p', String(port), '-h', '127.0.0.1', '-c', 'fsync=off']);
  const child = spawn(postgres, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = async () => {
    if (!gone) {
      const [pgCtl, ctlArgs] = as(pgBin('pg_ctl'), ['-D', data, 'stop', '-m', 'immediate']);
      try {
        execFileSync(pgCtl, ctlArgs, { stdio: 'pipe' });
      } catch {
        child.kill('SIGKILL');
      }
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // Ready once it accepts a TCP connection and says so in its log.
  const deadline = Date.now() + 60_000;
  while (!/ready to accept connections/.test(log)) {
    if (gone) {
      await stop();
      throw new Error(`interop: PostgreSQL did not start: ${log.trim().split('\n').slice(-1)[0]}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('interop: PostgreSQL was not ready after 60 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => (s.end(), resolve()));
    s.on('error', reject);
  });
  return { port, url: `postgresql://postgres@127.0.0.1:${port}/postgres`, stop };
}

/** crystaldba's postgres-mcp over legacy SSE on a free port, in front of `pg`. */
export async function startPostgresMcpSse(pg: Postgres): Promise<Child & { endpoint: string }> {
  const bin = venvProgram('.venv-postgres-mcp', 'postgres-mcp');
  const port = await freePort();
  const child = await startChild('postgres-mcp (sse)', bin, ['--access-mode', 'unrestricted', '--transport', 'sse', '--sse-host', '127.0.0.1', '--sse-port', String(port), pg.url], {
    port, readyUrl: `http://127.0.0.1:${port}/ready-probe`, ready: () => true, ms: 90_000,
  });
  return { ...child, endpoint: `http://127.0.0.1:${port}/sse` };
}

/** The command line of postgres-mcp over stdio, in front of `pg`. */
export function postgresMcpStdio(pg: Postgres): { command: string; args: string[] } {
  return { command: venvProgram('.venv-postgres-mcp', 'postgres-mcp'), args: ['--access-mode', 'unrestricted', '--transport', 'stdio', pg.url] };
}
