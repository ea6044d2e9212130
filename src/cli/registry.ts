import type { Command } from 'commander';
import { registerCheck } from './check.js';
import { registerClaude } from './claude.js';
import { registerDiff } from './diff.js';
import { registerExport } from './export.js';
import { registerImport } from './import.js';
import { registerMcp } from './mcp.js';
import { registerMock } from './mock.js';
import { registerProxy } from './proxy.js';
import { registerPrune } from './prune.js';
import { registerReplay } from './replay.js';
import { registerResend } from './resend.js';
import { registerSessions } from './sessions.js';
import { registerSearch } from './search.js';
import { registerShow } from './show.js';
import { registerTui } from './tui.js';
import { registerWrap } from './wrap.js';
import { registerCa } from './forward.js';

/** Every command, in the order `mcptap --help` lists them. */
export function registerCommands(program: Command): void {
  registerProxy(program);
  registerWrap(program);
  registerClaude(program);
  registerSessions(program);
  registerShow(program);
  registerSearch(program);
  registerTui(program);
  registerDiff(program);
  registerCheck(program);
  registerExport(program);
  registerImport(program);
  registerReplay(program);
  registerResend(program);
  registerMock(program);
  registerPrune(program);
  registerCa(program);
  registerMcp(program);
}
