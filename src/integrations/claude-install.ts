import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ROUTE_NAME } from '../proxy/routes.js';
import { transportOf, type Scope, type ServerEntry } from './claude-code.js';

/** How Claude Code starts `mcptap wrap`: this node and this mcptap, so no PATH lookup can pick another. */
export interface WrapCommand {
  command: string;
  /** Arguments before `wrap`: the mcptap script. */
  prefix: string[];
}

export function thisMcptap(): WrapCommand {
  return { command: process.execPath, prefix: [path.resolve(process.argv[1])] };
}

/**
 * How a project's shared `.mcp.json` starts `mcptap wrap`: by name, from PATH. The file is committed and
 * read on every teammate's machine; this node's and this script's absolute paths exist only on this one.
 */
export const PORTABLE_WRAP: WrapCommand = { command: 'mcptap', prefix: [] };

export interface InstallContext {
  port: number;
  wrap: WrapCommand;
  /** --db given to install, passed on to `mcptap wrap` (the proxy takes its own). */
  db?: string;
  /** Route names taken, name → target. */
  routes: Record<string, { target: string; kind: 'mcp' | 'model' }>;
}

export type Plan =
  | { entry: ServerEntry; after: Record<string, unknown>; route: { name: string; target: string } | null }
  | { entry: ServerEntry; skip: string };

export const proxyBase = (port: number) => `http://127.0.0.1:${port}/s/`;

/** The entry already goes through mcptap: a `wrap` of ours, or a URL on a local mcptap route. */
export function throughMcptap(v: Record<string, unknown>): boolean {
  const t = transportOf(v);
  if (t === 'stdio') {
    const args = Array.isArray(v.args) ? v.args.map(String) : [];
    const cmd = String(v.command ?? '');
    return (/(^|\/)mcptap$/.test(cmd) && args[0] === 'wrap') || (args[1] === 'wrap' && /mcptap|main\.js$/.test(args[0] ?? ''));
  }
  return (t === 'http' || t === 'sse') && typeof v.url === 'string' && /^http:\/\/127\.0\.0\.1:\d+\/s\/[^/?]+/.test(v.url);
}

/**
 * What `claude install` does to one entry. A stdio server becomes `mcptap wrap --label NAME -- <command>
 * <args>` (env, and every other field, kept); an http or sse server's URL becomes the proxy's route for it,
 * the path and query kept after the route's prefix (so a legacy endpoint outside the stream's path still
 * lines up), and the route's target is the server's origin. The name stays: Claude Code's tool names
 * (`mcp__<server>__<tool>`) do not change.
 */
export function planInstall(entry: ServerEntry, ctx: InstallContext): Plan {
  const v = entry.value;
  if (throughMcptap(v)) return { entry, skip: 'already goes through mcptap' };
  const t = transportOf(v);
  if (t === 'stdio') {
    const args = Array.isArray(v.args) ? v.args.map(String) : [];
    // The shared file gets neither this machine's paths nor its database (wrap then uses $MCPTAP_DB or the default).
    const shared = entry.scope === 'project';
    const wrap = shared ? PORTABLE_WRAP : ctx.wrap;
    const db = shared ? undefined : ctx.db;
    const wrapArgs = [...wrap.prefix, 'wrap', '--label', entry.name, ...(db ? ['--db', db] : []), '--', String(v.command), ...args];
    return { entry, after: { ...v, command: wrap.command, args: wrapArgs }, route: null };
  }
  if (t === 'unknown') return { entry, skip: `type ${JSON.stringify(v.type ?? null)} is not one mcptap can stand in front of` };
  let url: URL;
  try {
    url = new URL(String(v.url));
  } catch {
    return { entry, skip: `url ${JSON.stringify(v.url)} is not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { entry, skip: `url ${url.protocol} is not http or https` };
  const name = routeName(entry.name, entry.scope, url.origin, ctx.routes);
  if (!name) return { entry, skip: `the name cannot be a URL path segment (letters, digits, '.', '_', '-')` };
  ctx.routes[name] = { target: url.origin, kind: 'mcp' };
  const after = { ...v, url: `${proxyBase(ctx.port)}${name}${url.pathname === '/' ? '' : url.pathname}${url.search}` };
  return { entry, after, route: { name, target: url.origin } };
}

function routeName(name: string, scope: Scope, target: string, taken: InstallContext['routes']): string | null {
  if (!ROUTE_NAME.test(name)) return null;
  // The same name in two scopes (user and local) may point at two servers: the second gets its scope.
  for (const candidate of [name, `${name}.${scope}`]) {
    const t = taken[candidate];
    if (!t || (t.kind === 'mcp' && t.target === target)) return candidate;
  }
  return null;
}

/** The model API's route: Claude Code's ANTHROPIC_BASE_URL points here after install. */
export function modelRoute(ctx: InstallContext, env: NodeJS.ProcessEnv = process.env): { name: string; target: string } {
  const existing = Object.entries(ctx.routes).find(([, r]) => r.kind === 'model');
  if (existing) return { name: existing[0], target: existing[1].target };
  const current = env.ANTHROPIC_BASE_URL;
  const target = current && !current.startsWith(proxyBase(ctx.port)) ? current.replace(/\/+$/, '') : 'https://api.anthropic.com';
  let name = 'anthropic';
  for (let i = 2; ctx.routes[name]; i++) name = `anthropic-${i}`;
  ctx.routes[name] = { target, kind: 'model' };
  return { name, target };
}

// What install changed, so that uninstall can put back the exact source text it replaced.
const InstalledServer = z.object({
  file: z.string(),
  scope: z.enum(['user', 'project', 'local']),
  path: z.array(z.union([z.string(), z.number()])),
  name: z.string(),
  before: z.string(),
  after: z.record(z.string(), z.unknown()),
  route: z.string().nullable(),
});
const InstallState = z.object({ version: z.literal(1), servers: z.array(InstalledServer) });
export type InstalledServer = z.infer<typeof InstalledServer>;
export type InstallState = z.infer<typeof InstallState>;

export function statePath(routesFile: string): string {
  return path.join(path.dirname(routesFile), 'claude-install.json');
}

export function readState(file: string): InstallState {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, servers: [] };
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  let parsed;
  try {
    parsed = InstallState.safeParse(JSON.parse(text));
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message.split('\n')[0]}); mcptap cannot tell what it installed`);
  }
  if (!parsed.success) throw new Error(`${file} is not an mcptap install record: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}`);
  return parsed.data;
}

export function writeState(file: string, state: InstallState): void {
  if (!state.servers.length) return void fs.rmSync(file, { force: true });
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}
