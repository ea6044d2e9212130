import type { Command } from 'commander';
import { startMock, type RunningMock } from '../replay/mock.js';
import type { Recording } from '../replay/recording.js';
import { isRecordingPath, loadDiffInput } from '../analysis/input.js';
import { UsageError } from '../errors.js';
import { action, dbOption, portGuardOptions, examples, openStore, parseIntOption, warn } from './common.js';

interface MockCliOptions {
  port: number;
  host: string;
  speed: number;
  db?: string;
  name: string;
  allowHost: string[];
  allowOrigin: string[];
}

export function registerMock(program: Command): void {
  program
    .command('mock')
    .description('serve a recorded session as an MCP server, with no upstream')
    .argument('<session>', 'session id/prefix, or a .jsonl recording')
    .option('--port <n>', 'port to listen on (0 picks a free one)', parseIntOption('--port', 0, 65535), 8809)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--speed <x>', 'play recorded progress and notifications X times as fast (0.5 = half speed)', parseSpeed, 1)
    .addOption(dbOption())
    .addOption(portGuardOptions()[0])
    .addOption(portGuardOptions()[1])
    .option('--name <name>', 'server name used in the printed `claude mcp add` lines', 'mcptap-mock')
    .addHelpText('after', examples(
      'mcptap mock 3f2a',
      'mcptap mock 3f2a --port 0 --speed 10 --db ./gw.db',
      'mcptap mock recordings/everything-streamable-http.jsonl',
      'claude mcp add --transport http recorded http://127.0.0.1:8809/mcp   # then use Claude Code against the recording',
    ))
    .action(action(async (id: string, opts: MockCliOptions) => {
      const store = isRecordingPath(id) ? null : openStore(opts.db);
      let recording: Recording;
      try {
        recording = loadDiffInput(id, store, warn);
      } finally {
        store?.close();
      }
      if (recording.session.transport === 'http') throw new UsageError(`session ${recording.session.id} is plain HTTP, not an MCP session; pick one from 'mcptap sessions'`);
      const mock = await startMock({ recording, port: opts.port, host: opts.host, speed: opts.speed, allowHosts: opts.allowHost, allowOrigins: opts.allowOrigin });
      printBanner(mock, recording, opts);
      const stop = async () => {
        await mock.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
      // Serve until a signal: the server holds the event loop open.
      return new Promise<number>(() => {});
    }));
}

function parseSpeed(v: string): number {
  const n = Number(v);
  if (!/^\d*\.?\d+$/.test(v.trim()) || !(n > 0)) throw new UsageError(`--speed must be a positive number such as 1, 10 or 0.5 (got '${v}')`);
  return n;
}

function printBanner(mock: RunningMock, rec: Recording, opts: MockCliOptions): void {
  const s = rec.session;
  const ws = mock.url.replace(/^http/, 'ws');
  const lines = [
    `mcptap mock serving session ${s.id} (${s.transport}, ${s.serverInfo?.name ?? 'unknown server'}, ${mock.calls} recorded requests) on ${mock.url}`,
    `  Streamable HTTP  ${mock.url}${mock.path}`,
    `  legacy SSE       ${mock.url}/sse`,
    `  WebSocket        ${ws}/`,
    `  speed            ${opts.speed}×`,
    '',
    'Point Claude Code at the recording instead of the server:',
    `  claude mcp add --transport http ${opts.name} ${mock.url}${mock.path}`,
    `  claude mcp add --transport sse ${opts.name} ${mock.url}/sse`,
    '',
    'Requests are matched by method and params; one the recording lacks gets an error naming the closest recorded request.',
    'Ctrl-C stops.',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
