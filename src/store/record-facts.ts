import { z } from 'zod';
import type { DecodeError, Exchange, Failure, Rewrite, RpcMessage } from '../model/model.js';
import { UsageError } from '../errors.js';
import { decodeErrorFromText, failureFromText, rewritesFromText } from './legacy-facts.js';

// The facts of exchanges and messages in files mcptap reads (recordings, unsaved-records files): checked
// against these schemas when written as data (recording version 3 on), read back from the sentences of
// older versions otherwise.

const side = z.enum(['client', 'server']);
const body = z.enum(['request', 'response']);

const FailureSchema: z.ZodType<Failure> = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('upstream-unreachable'), code: z.string(), message: z.string() }),
  z.object({ kind: z.literal('body-cut'), body, by: side, code: z.string().nullable() }),
  z.object({ kind: z.literal('client-aborted') }),
  z.object({ kind: z.literal('upgrade-refused'), status: z.number().int() }),
  z.object({ kind: z.literal('decoding-failed'), body, detail: z.string() }),
  z.object({ kind: z.literal('bad-frames'), from: side, detail: z.string() }),
  z.object({ kind: z.literal('process-exited'), code: z.number().int() }),
  z.object({ kind: z.literal('process-killed'), signal: z.string() }),
  z.object({ kind: z.literal('process-not-started'), detail: z.string() }),
  z.object({ kind: z.literal('other'), detail: z.string() }),
]);

const RewriteSchema: z.ZodType<Rewrite> = z.object({
  kind: z.enum(['gateway-debug-header', 'sse-endpoint', 'location', 'oauth-challenge', 'oauth-resource', 'other']),
  before: z.string().nullable(),
  after: z.string(),
});

const DecodeErrorSchema: z.ZodType<DecodeError> = z.object({
  kind: z.enum(['not-json', 'over-limit', 'invalid-jsonrpc', 'unread-sse-event', 'unfinished-sse-event', 'other']),
  detail: z.string(),
});

function checked<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new UsageError(`${where}: ${issue.path.length ? issue.path.join('.') + ': ' : ''}${issue.message}`);
}

type Legacy = { error?: string | null; rewrite?: string | null };

/** An exchange as a file holds it, with its facts as data whatever version wrote it. */
export function exchangeOfRecord(raw: Record<string, unknown>, where: string): Exchange {
  if ('failure' in raw || 'rewrites' in raw) {
    const failure = raw.failure == null ? null : checked(FailureSchema, raw.failure, `${where}: failure`);
    const rewrites = checked(z.array(RewriteSchema), raw.rewrites ?? [], `${where}: rewrites`);
    return { ...(raw as unknown as Exchange), failure, rewrites };
  }
  // Written before version 3: the sentences become facts, in the place the model keeps them.
  const { error, rewrite, ...rest } = raw as unknown as Exchange & Legacy;
  return { ...rest, failure: failureFromText(error, rest), rewrites: rewritesFromText(rewrite) };
}

/** A message as a file holds it, its decode error as data whatever version wrote it. */
export function messageOfRecord(raw: Record<string, unknown>, where: string): RpcMessage {
  const m = raw as unknown as RpcMessage & { decodeError: unknown };
  const d = m.decodeError;
  if (d == null || (typeof d === 'object' && d)) return { ...m, decodeError: d == null ? null : checked(DecodeErrorSchema, d, `${where}: decodeError`) };
  return { ...m, decodeError: decodeErrorFromText(String(d), m.kind) };
}
