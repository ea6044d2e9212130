import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { UsageError } from '../errors.js';
import { DEFAULT_ROUTES_PORT } from '../proxy/routes.js';
import { defaultRoutesPath, readRoutes, writeRoutes, type RoutesConfig } from '../proxy/routes-file.js';
import { ConfigBusyError, entriesOf, fileOf, readConfig, SCOPES, transportOf, writeConfig, type ConfigFile, type Scope, type ServerEntry } from '../integrations/claude-code.js';
import { modelRoute, planInstall, proxyBase, readState, statePath, thisMcptap, throughMcptap, writeState, type InstalledServer, type Plan } from '../integrations/claude-install.js';
import { JsonText } from '../integrations/json-splice.js';
import { probeProxy } from '../integrations/proxy-probe.js';
import { printJson } from './common.js';
import type { ClaudeOptions } from './claude.js';

// The claude install | uninstall | status actions (src/cli/claude.ts registers them).

const scopesOf = (o: ClaudeOptions): Scope[] => (o.scope === 'all' ? [...SCOPES] : [o.scope]);

/** The config files of the chosen scopes, each read once; a broken one stops everything before any write. */
function readEntries(o: ClaudeOptions): { configs: Map<string, ConfigFile>; entries: ServerEntry[] } {
  const configs = new Map<string, ConfigFile>();
  const entries: ServerEntry[] = [];
  for (const scope of scopesOf(o)) {
    const file = fileOf(scope, o.project);
    let config = configs.get(file);
    if (!config) {
      let read: ConfigFile | null;
      try {
        read = readConfig(file);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      if (!read) continue;
      configs.set(file, (config = read));
    }
    entries.push(...entriesOf(config, scope, o.project).filter((e) => !o.server || o.server.includes(e.name)));
  }
  if (o.server) {
    const missing = o.server.filter((n) => !entries.some((e) => e.name === n));
    if (missing.length) throw new UsageError(`no server named ${missing.join(', ')} in Claude Code's ${o.scope === 'all' ? '' : o.scope + ' '}config; see mcptap claude status`);
  }
  return { configs, entries };
}

const backupDir = (routesFile: string) => path.join(path.dirname(routesFile), 'backups');

/** writeConfig, its refusal a usage error (one line, exit 2). */
function editConfig(config: ConfigFile, backups: string, edit: (json: JsonText) => string): void {
  try {
    writeConfig(config, edit, backups);
  } catch (e) {
    if (e instanceof ConfigBusyError) throw new UsageError(e.message);
    throw e;
  }
}

export function install(o: ClaudeOptions): number {
  const routesFile = o.routes || defaultRoutesPath();
  const existing = readRoutes(routesFile);
  const state = readState(statePath(routesFile));
  if (existing && o.port && o.port !== existing.port && state.servers.length) {
    throw new UsageError(`servers are installed on port ${existing.port}; run mcptap claude uninstall first to move them to ${o.port}`);
  }
  const port = o.port ?? existing?.port ?? DEFAULT_ROUTES_PORT;
  const routes: RoutesConfig['routes'] = { ...(existing?.routes ?? {}) };
  const ctx = { port, wrap: thisMcptap(), db: o.db ? path.resolve(o.db) : undefined, routes };
  const { configs, entries } = readEntries(o);
  const plans: Plan[] = entries.map((e) => planInstall(e, ctx));
  const model = modelRoute(ctx);
  const baseUrl = `${proxyBase(port)}${model.name}`;
  const changes = plans.filter((p): p is Extract<Plan, { after: unknown }> => 'after' in p);

  if (!o.dryRun) {
    for (const file of new Set(changes.map((p) => p.entry.file))) {
      // Made on the file as it is at the write (Claude Code may have rewritten it since it was read).
      editConfig(configs.get(file)!, backupDir(routesFile), (json) => changes.filter((p) => p.entry.file === file).reduce((text, p) => {
        const j = JsonText.parse(text, file);
        if (!isDeepStrictEqual(j.value(p.entry.path), p.entry.value)) throw new UsageError(`${p.entry.name} in ${file} changed while mcptap was installing it; nothing was written there: run mcptap claude install again`);
        return j.replace(p.entry.path, j.formatLike(p.entry.path, p.after));
      }, json.text));
    }
    writeRoutes(routesFile, { version: 1, port, routes });
    const added: InstalledServer[] = changes.map((p) => ({ file: p.entry.file, scope: p.entry.scope, path: p.entry.path, name: p.entry.name, before: p.entry.source, after: p.after, route: p.route?.name ?? null }));
    writeState(statePath(routesFile), { version: 1, servers: [...state.servers, ...added] });
    if (o.env) fs.writeFileSync(o.env, `export ANTHROPIC_BASE_URL=${baseUrl}\n`, { mode: 0o600 });
  }
  if (o.json) {
    printJson({
      dryRun: !!o.dryRun, port, routesFile, anthropicBaseUrl: baseUrl, modelTarget: model.target,
      servers: plans.map((p) => ({ name: p.entry.name, scope: p.entry.scope, file: p.entry.file, ...('skip' in p ? { skipped: p.skip } : { after: p.after, route: p.route?.name ?? null }) })),
    });
    return 0;
  }
  const out: string[] = [];
  for (const p of plans) {
    const where = `${p.entry.name} (${p.entry.scope}, ${p.entry.file})`;
    if ('skip' in p) out.push(`  skipped  ${where}: ${p.skip}`);
    else out.push(`  ${o.dryRun ? 'would route' : 'routed'}  ${where}: ${p.route ? `${String(p.entry.value.url)} → ${String(p.after.url)}` : `stdio via mcptap wrap --label ${p.entry.name}`}`);
  }
  if (!plans.length) out.push('  no MCP servers found in Claude Code\'s config for this scope');
  const shared = [...new Set(changes.filter((p) => p.entry.scope === 'project').map((p) => p.entry.file))];
  for (const file of shared) {
    out.push('', `Note: ${file} is the project's shared file (often committed): its entries start \`mcptap\` from PATH, with no path of this machine${o.db ? ' (and without --db)' : ''};`,
      '  everyone who uses it needs mcptap on PATH (npm link in a clone); mcptap claude uninstall --scope project puts it back as it was.');
  }
  out.push('', `Model API: ANTHROPIC_BASE_URL=${baseUrl}   (to ${model.target})${o.env && !o.dryRun ? `, written to ${o.env}` : ''}`);
  if (!o.dryRun) out.push(`Now run: mcptap proxy   (serves ${Object.keys(routes).length} routes on port ${port}; restart it after another install)`, 'Undo with: mcptap claude uninstall');
  process.stdout.write((o.dryRun ? 'mcptap claude install --dry-run: nothing written\n' : '') + out.join('\n') + '\n');
  return 0;
}

export function uninstall(o: ClaudeOptions): number {
  const routesFile = o.routes || defaultRoutesPath();
  const stateFile = statePath(routesFile);
  const state = readState(stateFile);
  const scopes = scopesOf(o);
  const chosen = state.servers.filter((s) => scopes.includes(s.scope) && (!o.server || o.server.includes(s.name)));
  const results: Array<{ name: string; scope: Scope; file: string; result: 'restored' | 'refused' | 'gone'; reason?: string }> = [];
  const done = new Set<InstalledServer>();
  for (const file of new Set(chosen.map((s) => s.file))) {
    let config: ConfigFile | null;
    try {
      config = readConfig(file);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    let text = config?.json.text ?? null;
    const restoring: InstalledServer[] = [];
    for (const s of chosen.filter((x) => x.file === file)) {
      const json = text == null ? null : JsonText.parse(text, file);
      const now = json?.value(s.path);
      if (now === undefined) {
        results.push({ name: s.name, scope: s.scope, file, result: 'gone', reason: 'removed from the config since install; nothing to restore' });
        done.add(s);
      } else if (!isDeepStrictEqual(now, s.after)) {
        results.push({ name: s.name, scope: s.scope, file, result: 'refused', reason: 'changed since mcptap claude install; left as it is (edit it by hand)' });
      } else {
        text = json!.replace(s.path, s.before);
        restoring.push(s);
        results.push({ name: s.name, scope: s.scope, file, result: 'restored' });
        done.add(s);
      }
    }
    if (!o.dryRun && config && restoring.length) {
      // Made again on the file as it is at the write (Claude Code may have rewritten it since it was read).
      editConfig(config, backupDir(routesFile), (json) => restoring.reduce((t, s) => {
        const j = JsonText.parse(t, file);
        if (!isDeepStrictEqual(j.value(s.path), s.after)) throw new UsageError(`${s.name} in ${file} changed while mcptap was restoring it; nothing was written there: run mcptap claude uninstall again`);
        return j.replace(s.path, s.before);
      }, json.text));
    }
  }
  if (!o.dryRun) {
    const left = state.servers.filter((s) => !done.has(s));
    writeState(stateFile, { version: 1, servers: left });
    const config = readRoutes(routesFile);
    if (config) {
      const keep = new Set(left.map((s) => s.route).filter(Boolean));
      const routes = Object.fromEntries(Object.entries(config.routes).filter(([n, r]) => keep.has(n) || (r.kind === 'model' && left.length)));
      if (Object.keys(routes).length) writeRoutes(routesFile, { ...config, routes });
      else fs.rmSync(routesFile, { force: true });
    }
  }
  const refused = results.some((r) => r.result === 'refused');
  if (o.json) {
    printJson({ dryRun: !!o.dryRun, servers: results });
    return refused ? 1 : 0;
  }
  if (!results.length) process.stdout.write('nothing to restore: mcptap claude install has not changed any server in this scope\n');
  for (const r of results) {
    const line = `${r.name} (${r.scope}, ${r.file})`;
    if (r.result === 'restored') process.stdout.write(`  ${o.dryRun ? 'would restore' : 'restored'}  ${line}\n`);
    else if (r.result === 'gone') process.stdout.write(`  gone      ${line}: ${r.reason}\n`);
    else process.stderr.write(`mcptap: not restoring ${line}: ${r.reason}\n`);
  }
  if (!o.dryRun && results.some((r) => r.result === 'restored')) process.stdout.write('Claude Code\'s model traffic: unset ANTHROPIC_BASE_URL if you set it from install\n');
  return refused ? 1 : 0;
}

export async function status(o: ClaudeOptions): Promise<number> {
  const routesFile = o.routes || defaultRoutesPath();
  const routes = readRoutes(routesFile);
  const { entries } = readEntries(o);
  const port = routes?.port ?? DEFAULT_ROUTES_PORT;
  const probe = await probeProxy(port);
  const proxy = probe.state;
  const rows = entries.map((e) => {
    const transport = transportOf(e.value);
    const through = throughMcptap(e.value);
    const route = through && transport !== 'stdio' ? /\/s\/([^/?]+)/.exec(String(e.value.url))?.[1] ?? null : null;
    const capture = !through ? 'not captured' : transport === 'stdio' ? 'captured by mcptap wrap' : !routes?.routes[route ?? ''] ? `route ${route} is not in ${routesFile}` : proxy !== 'running' ? `proxy ${proxy}: start mcptap proxy` : probe.routes.includes(route!) ? 'captured by the proxy' : 'the running proxy started before this route was installed: restart mcptap proxy';
    return { name: e.name, scope: e.scope, file: e.file, transport, throughMcptap: through, route, capture };
  });
  if (o.json) {
    printJson({ proxy: { port, state: proxy, serving: probe.routes, routesFile, routes: routes ? Object.keys(routes.routes) : [] }, servers: rows });
    return 0;
  }
  process.stdout.write(`proxy on 127.0.0.1:${port}: ${proxy}${routes ? ` (routes in ${routesFile})` : ' (no routes installed)'}\n`);
  const model = routes && Object.entries(routes.routes).find(([, r]) => r.kind === 'model');
  if (model) process.stdout.write(`model API: ANTHROPIC_BASE_URL=${proxyBase(port)}${model[0]} → ${model[1].target}${process.env.ANTHROPIC_BASE_URL === proxyBase(port) + model[0] ? ' (set here)' : ' (not set in this shell)'}\n`);
  for (const r of rows) process.stdout.write(`  ${r.name.padEnd(20)} ${r.scope.padEnd(8)} ${r.transport.padEnd(6)} ${r.throughMcptap ? 'through mcptap' : 'direct        '}  ${r.capture}\n`);
  if (!rows.length) process.stdout.write('  no MCP servers in Claude Code\'s config for this scope\n');
  return 0;
}
