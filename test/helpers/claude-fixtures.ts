import fs from 'node:fs';
import path from 'node:path';

/** The real Claude Code runs in /work/shared/fixtures/claude-code (see its README). */
export const FIXTURE_DIR = process.env.MCPTAP_CLAUDE_FIXTURES ?? '/work/shared/fixtures/claude-code';
export const RUNS = ['echo-http', 'echo-sse', 'gateway-prefixed', 'no-such-tool'] as const;
export type Run = (typeof RUNS)[number];

export interface RecordedExchange {
  started: number;
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  requestBody: string;
  status?: number;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
  chunkTimesMs?: number[];
  clientClosedAfterMs?: number;
}

export function readRun(run: Run, half: 'model' | 'mcp'): RecordedExchange[] {
  const text = fs.readFileSync(path.join(FIXTURE_DIR, `${run}.${half}.jsonl`), 'utf8');
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as RecordedExchange);
}
