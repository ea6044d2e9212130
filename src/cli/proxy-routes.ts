import type { RunningProxy } from '../proxy/server.js';
import { UsageError } from '../errors.js';

export interface ServedRoutes {
  file: string;
  port: number;
  routes: Record<string, string>;
}

/** The routes `mcptap proxy` serves without --target; an explicit --port wins over the file's. */
export async function loadRoutes(option: string | undefined, port: number | null): Promise<ServedRoutes> {
  // Only a proxy without --target reads the file (and loads its schema library).
  const { defaultRoutesPath, readRoutes, routeTargets } = await import('../proxy/routes-file.js');
  const file = option || defaultRoutesPath();
  const config = readRoutes(file);
  if (!config) throw new UsageError(`no --target, and no routes at ${file}: give --target URL, or run mcptap claude install first`);
  return { file, port: port ?? config.port, routes: routeTargets(config) };
}

export function printRoutesBanner(proxy: RunningProxy, db: string, file: string): void {
  const lines = [`mcptap proxy listening on ${proxy.url}`, `  routes    ${file}`, `  database  ${db}`];
  for (const r of proxy.routes.list()) lines.push(`  ${proxy.url}${r.base}  →  ${r.upstream.target.display}`);
  lines.push('', 'Watch live:  mcptap tui      List:  mcptap sessions      Status:  mcptap claude status', 'Ctrl-C stops (captures are flushed first).', '');
  process.stdout.write(lines.join('\n') + '\n');
}
