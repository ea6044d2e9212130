import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import fs from 'node:fs';
import type { CaptureStore } from '../store/read.js';
import { action, dbOption, examples, openStore, parseIntOption, resolveDb } from './common.js';
import { serveHttp, serveStdio } from '../mcp-server/serve.js';

const VERSION = '0.1.0';

export function registerMcp(program: Command): void {
  program
    .command('mcp')
    .description('serve the captures as a read-only MCP server (tools: list_sessions, show_session, check_session, conversation, streams, search; resources: each session\'s recording)')
    .addOption(dbOption())
    .option('--transport <kind>', 'stdio or http (Streamable HTTP at /mcp on 127.0.0.1)', 'stdio')
    .option('--port <n>', 'with --transport http: the port (0 for a free one)', parseIntOption('--port', 0, 65535), 7731)
    .addHelpText('after', examples(
      'claude mcp add mcptap -- npx mcptap mcp',
      'claude mcp add mcptap -- mcptap mcp --db ./captures.db',
      'mcptap mcp --transport http --port 7731   # then: claude mcp add --transport http mcptap http://127.0.0.1:7731/mcp',
    ) + 'Answers are bounded: lists are paged (a "more" cursor) and each answer stays under a byte cap (maxBytes, default 20000).\n')
    .action(action(async (opts: { db?: string; transport: string; port: number }) => {
      if (opts.transport !== 'stdio' && opts.transport !== 'http') throw new UsageError(`--transport must be stdio or http (got '${opts.transport}')`);
      const file = resolveDb(opts.db);
      // A database that exists is opened now (a damaged one is refused at once); one not written yet is
      // opened on the first question after it appears, so the server can be added before any capture.
      let store: CaptureStore | null = fs.existsSync(file) ? openStore(file) : null;
      const storeOf = () => (store ??= openStore(file));
      if (!store) process.stderr.write(`mcptap mcp: no capture database at ${file} yet; answering from it once a proxy has written it\n`);
      if (opts.transport === 'stdio') {
        // Nothing of mcptap's own goes to stdout: it carries the protocol.
        await serveStdio(storeOf, VERSION);
        store?.close();
        return 0;
      }
      const served = await serveHttp(storeOf, VERSION, opts.port);
      process.stderr.write(`mcptap mcp: serving ${file} at ${served.url} (Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await served.close();
      store?.close();
      return 0;
    }));
}
