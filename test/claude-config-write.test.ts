import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigBusyError, readConfig, writeConfig } from '../src/integrations/claude-code.js';
import { tempDb } from './helpers/tmp.js';

// ~/.claude.json is Claude Code's own file, rewritten by it while it runs (history, counters, caches):
// an edit of mcptap's must never undo one of Claude Code's made between mcptap's read and its rename.

const tmp = tempDb();
afterAll(() => tmp.cleanup());

const claudeJson = (extra: Record<string, unknown> = {}) => JSON.stringify({ numStartups: 1, mcpServers: { a: { type: 'http', url: 'http://x/mcp' } }, ...extra }, null, 2) + '\n';

describe('writeConfig', () => {
  it("makes its edit again on what Claude Code wrote in between, keeping Claude Code's edit", () => {
    const file = path.join(tmp.dir, 'claude.json');
    fs.writeFileSync(file, claudeJson(), { mode: 0o600 });
    const config = readConfig(file)!;
    let edits = 0;
    writeConfig(config, (json) => {
      // The first time, Claude Code writes the file while mcptap is editing it.
      if (edits++ === 0) fs.writeFileSync(file, claudeJson({ numStartups: 2, history: ['fix the bug'] }));
      return json.replace(['mcpServers', 'a', 'url'], '"http://127.0.0.1:8808/s/a/mcp"');
    }, path.join(tmp.dir, 'backups'));
    expect(edits).toBe(2);
    const after = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(after).toEqual({ numStartups: 2, history: ['fix the bug'], mcpServers: { a: { type: 'http', url: 'http://127.0.0.1:8808/s/a/mcp' } } });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // The backup holds what the rename replaced: Claude Code's version.
    const [backup] = fs.readdirSync(path.join(tmp.dir, 'backups'));
    expect(JSON.parse(fs.readFileSync(path.join(tmp.dir, 'backups', backup), 'utf8')).numStartups).toBe(2);
    expect(fs.readdirSync(tmp.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('gives up, writing nothing, when the file changes under every attempt', () => {
    const file = path.join(tmp.dir, 'busy.json');
    fs.writeFileSync(file, claudeJson());
    const config = readConfig(file)!;
    let n = 1;
    expect(() => writeConfig(config, (json) => {
      fs.writeFileSync(file, claudeJson({ numStartups: ++n }));
      return json.replace(['mcpServers', 'a', 'url'], '"http://127.0.0.1:8808/s/a/mcp"');
    }, path.join(tmp.dir, 'backups-busy'), 3)).toThrow(ConfigBusyError);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(JSON.parse(claudeJson({ numStartups: 4 })));
    expect(fs.existsSync(path.join(tmp.dir, 'backups-busy'))).toBe(false);
  });
});
