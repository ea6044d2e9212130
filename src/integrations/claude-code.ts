import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JsonText, type JsonPath } from './json-splice.js';

// Where Claude Code keeps its MCP servers (see CLAUDE-CODE.md): user scope at the top of ~/.claude.json,
// local scope under projects["<abs project path>"] there, project scope in <project>/.mcp.json.

export const SCOPES = ['user', 'project', 'local'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ServerEntry {
  scope: Scope;
  file: string;
  /** Where the entry's value is in its file. */
  path: JsonPath;
  name: string;
  value: Record<string, unknown>;
  /** The entry's source text as it is in the file. */
  source: string;
}

export interface ConfigFile {
  file: string;
  json: JsonText;
  /** The text as read, to write back with the same mode. */
  mode: number;
}

/** ~/.claude.json, or the one under $CLAUDE_CONFIG_DIR when Claude Code is told to keep it there. */
export function userConfigPath(): string {
  const dir = process.env.CLAUDE_CONFIG_DIR;
  return dir ? path.join(dir, '.claude.json') : path.join(os.homedir(), '.claude.json');
}

export function projectConfigPath(project: string): string {
  return path.join(project, '.mcp.json');
}

export function fileOf(scope: Scope, project: string): string {
  return scope === 'project' ? projectConfigPath(project) : userConfigPath();
}

export function serversPath(scope: Scope, project: string): JsonPath {
  return scope === 'local' ? ['projects', path.resolve(project), 'mcpServers'] : ['mcpServers'];
}

/** Reads a config file; null when it does not exist. Not JSON: an error whose message is one line. */
export function readConfig(file: string): ConfigFile | null {
  let text: string;
  let mode: number;
  try {
    // Claude Code may keep the file behind a symlink (dotfile managers): edit what it points to.
    const real = fs.realpathSync(file);
    text = fs.readFileSync(real, 'utf8');
    mode = fs.statSync(real).mode & 0o777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  return { file, json: JsonText.parse(text, file), mode };
}

export function entriesOf(config: ConfigFile, scope: Scope, project: string): ServerEntry[] {
  const base = serversPath(scope, project);
  const servers = config.json.value(base);
  if (!servers || typeof servers !== 'object' || Array.isArray(servers)) return [];
  return Object.entries(servers as Record<string, unknown>)
    .filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v))
    .map(([name, value]) => ({ scope, file: config.file, path: [...base, name], name, value: value as Record<string, unknown>, source: config.json.source([...base, name])! }));
}

/** Thrown when a config file kept changing under every attempt to edit it: nothing was written. */
export class ConfigBusyError extends Error {}

/**
 * Writes a config file without ever leaving half of one, and without undoing an edit of Claude Code's: the
 * file is read, `edit` makes the new text from it, the text goes to a temp file beside it (same mode), and
 * the file is read again just before the rename over it (symlinks followed). Claude Code rewrites
 * ~/.claude.json often (history, counters); when it did in between, the edit is made again on what it
 * wrote. `edit` may throw to refuse (an entry it changes was changed meanwhile). What was replaced goes
 * to `backupDir`. Returns the backup's path.
 */
export function writeConfig(config: ConfigFile, edit: (current: JsonText) => string, backupDir: string, attempts = 10): string {
  const real = fs.realpathSync(config.file);
  const tmp = `${real}.mcptap-${process.pid}.tmp`;
  for (let attempt = 1; ; attempt++) {
    const before = fs.readFileSync(real, 'utf8');
    const text = edit(JsonText.parse(before, config.file));
    fs.writeFileSync(tmp, text, { mode: config.mode });
    fs.chmodSync(tmp, config.mode);
    if (fs.readFileSync(real, 'utf8') === before) {
      fs.mkdirSync(backupDir, { recursive: true, mode: 0o700 });
      const backup = path.join(backupDir, `${path.basename(real)}.${new Date().toISOString().replace(/[:.]/g, '-')}.${process.pid}`);
      fs.writeFileSync(backup, before, { mode: 0o600 });
      fs.chmodSync(backup, 0o600);
      fs.renameSync(tmp, real);
      return backup;
    }
    fs.rmSync(tmp, { force: true });
    if (attempt >= attempts) throw new ConfigBusyError(`${config.file} kept changing while mcptap edited it (Claude Code writing it?); nothing was written: run the command again`);
  }
}

export type Transport = 'stdio' | 'http' | 'sse' | 'unknown';

export function transportOf(v: Record<string, unknown>): Transport {
  if (v.type === 'http' || v.type === 'sse') return v.type;
  if (v.type === 'stdio' || (v.type === undefined && typeof v.command === 'string')) return 'stdio';
  return 'unknown';
}
