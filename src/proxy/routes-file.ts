import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';


const RouteEntry = z.object({
  target: z.string(),
  /** `mcp` for an MCP server, `model` for the model API (Claude Code's ANTHROPIC_BASE_URL). */
  kind: z.enum(['mcp', 'model']).default('mcp'),
});

const RoutesFile = z.object({
  version: z.literal(1),
  port: z.number().int().min(1).max(65535),
  routes: z.record(z.string(), RouteEntry),
});

export type RoutesConfig = z.infer<typeof RoutesFile>;

/** Where `mcptap claude install` writes the routes and `mcptap proxy` without --target reads them. */
export function defaultRoutesPath(): string {
  return process.env.MCPTAP_ROUTES || path.join(os.homedir(), '.mcptap', 'routes.json');
}

/** The routes file, or null when there is none; a file that is there but unreadable is a usage error. */
export function readRoutes(file: string): RoutesConfig | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file} is not valid JSON (${(e as Error).message.split('\n')[0]}); fix or delete it, then run mcptap claude install again`);
  }
  const parsed = RoutesFile.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`${file} is not a routes file: ${issue.path.join('.') || 'top level'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Writes the routes file whole: a temp file beside it, then a rename, so a reader never sees half of it. */
export function writeRoutes(file: string, config: RoutesConfig): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** name → target, the shape the proxy serves. */
export function routeTargets(config: RoutesConfig): Record<string, string> {
  return Object.fromEntries(Object.entries(config.routes).map(([name, r]) => [name, r.target]));
}
