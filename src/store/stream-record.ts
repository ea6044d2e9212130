import { z } from 'zod';
import type { StreamFacts } from '../capture/streams.js';
import { UsageError } from '../errors.js';

// A stream's facts as a recording holds them (version 4 on): checked on the way in, as the rows are.

const at = z.number().nullable();

const StreamFactsSchema: z.ZodType<StreamFacts> = z.object({
  exchangeId: z.string(),
  sessionId: z.string().nullable(),
  carrier: z.enum(['post-sse', 'get-sse', 'websocket', 'stdio']),
  openedAt: z.number(),
  firstByteAt: at,
  lastEventAt: at,
  lastActivityAt: at,
  events: z.number().int().nonnegative(),
  keepAlives: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  longestSilenceMs: z.number().nonnegative(),
  closedAt: at,
  closedBy: z.enum(['client', 'server', 'proxy']).nullable(),
  resumedFrom: z.string().nullable(),
});

export function streamOfRecord(raw: unknown, where: string): StreamFacts {
  const r = StreamFactsSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new UsageError(`${where}: stream: ${issue.path.length ? issue.path.join('.') + ': ' : ''}${issue.message}`);
}
