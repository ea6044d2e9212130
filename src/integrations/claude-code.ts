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

/**
 * Writes a config file without ever leaving half of one: a temp file beside it with the same mode, then a
 * rename over the real file (symlinks followed). The old content goes to `backupDir` first.
 */
export function writeConfig(config: ConfigFile, text: string, backupDir: string): string {
  const real = fs.realpathSync(config.file);
  fs.mkdirSync(backupDir, { recursive: true, mode: 0o700 });
  const backup = path.join(backupDir, `${path.basename(real)}.${new Date().toISOString().replace(/[:.]/g, '-')}.${process.pid}`);
  fs.copyFileSync(real, backup);
  fs.chmodSync(backup, 0o600);
  const tmp = `${real}.mcptap-${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: config.mode });
  fs.chmodSync(tmp, config.mode);
  fs.renameSync(tmp, real);
  return backup;
}

export type Transport = 'stdio' | 'http' | 'sse' | 'unknown';

export function transportOf(v: Record<string, unknown>): Transport {
  if (v.type === 'http' || v.type === 'sse') return v.type;
  if (v.type === 'stdio' || (v.type === undefined && typeof v.command === 'string')) return 'stdio';
  return 'unknown';
}
