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
  z.object({ kind: z.literal('upstream-tls'), code: z.string(), host: z.string(), subject: z.string(), issuer: z.string(), validFrom: z.string(), validTo: z.string() }),
  z.object({ kind: z.literal('client-tls-refused'), host: z.string(), detail: z.string() }),
  z.object({ kind: z.literal('other'), detail: z.string() }),
]);

const RewriteSchema: z.ZodType<Rewrite> = z.object({
  kind: z.enum(['gateway-debug-header', 'sse-endpoint', 'location', 'oauth-challenge', 'oauth-resource', 'intercept-edit', 'intercept-server-edit', 'intercept-answer', 'intercept-drop', 'other']),
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

// What a message line must hold for the database to take it as the model says: a file from elsewhere may
// carry anything, and a wrong field either vanished from every view (a seq of -5, a direction of
// "sideways") or failed inside SQLite with a message about bindings.
const MessageCoreSchema = z.object({
  sessionId: z.string(),
  seq: z.number().int().positive(),
  ts: z.number().finite(),
  direction: z.enum(['client->server', 'server->client']),
  kind: z.enum(['request', 'notification', 'response', 'error', 'invalid', 'non-json', 'log']),
  channel: z.enum(['request-body', 'response-body', 'response-sse', 'get-sse', 'ws-frame', 'stdin', 'stdout', 'stderr']).optional(),
  payload: z.string(),
  exchangeId: z.string().nullable().optional(),
  rpcId: z.union([z.string(), z.number()]).nullable().optional(),
  method: z.string().nullable().optional(),
  subject: z.string().nullable().optional(),
  truncated: z.boolean().optional(),
  size: z.number().int().nonnegative().optional(),
  correlatedSeq: z.number().int().positive().nullable().optional(),
  latencyMs: z.number().finite().nullable().optional(),
  sseEventId: z.string().nullable().optional(),
  batchIndex: z.number().int().nonnegative().nullable().optional(),
  isError: z.boolean().optional(),
  errorCode: z.number().int().nullable().optional(),
});

/** A message as a file holds it, its decode error as data whatever version wrote it. */
export function messageOfRecord(raw: Record<string, unknown>, where: string): RpcMessage {
  checked(MessageCoreSchema, raw, where);
  const m = raw as unknown as RpcMessage & { decodeError: unknown };
  const d = m.decodeError;
  if (d == null || (typeof d === 'object' && d)) return { ...m, decodeError: d == null ? null : checked(DecodeErrorSchema, d, `${where}: decodeError`) };
  return { ...m, decodeError: decodeErrorFromText(String(d), m.kind) };
}
