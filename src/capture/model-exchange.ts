import type { ConversationTracker } from './conversations.js';
import type { Exchange } from '../model/model.js';
import type { Turn, TurnError } from './turn.js';
import { decodeModelRequest } from '../wire/model-api/request.js';
import { looksLikeModelRequest } from '../wire/model-api/detect.js';
import { ModelResponseDecoder } from '../wire/model-api/reader.js';
import { failureText } from '../model/facts.js';
import { parseJson, type ModelApi, type ModelRequest, type ModelResponse } from '../wire/model-api/types.js';

/** Assistant text kept on a turn; the whole answer stays on the exchange. */
const TEXT_CAP = 4096;

/** HTTP statuses a model API answers with, named for what they mean to the user. */
const STATUS_TYPES: Record<number, string> = {
  400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error',
  413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error', 503: 'overloaded_error', 529: 'overloaded_error',
};

/**
 * The model side of one HTTP exchange, on the capture queue: the request decoded once its body is in,
 * the answer as it streams. The stored request body keeps its messages but names the tools array and
 * system prompt by blob hash, so a long conversation stores them once.
 */
export class ModelTurnCapture {
  readonly request: ModelRequest;
  private decoder: ModelResponseDecoder | null = null;
  private done = false;

  private constructor(
    private readonly conversations: ConversationTracker,
    private readonly exchange: Exchange,
    private readonly api: ModelApi,
    body: Record<string, unknown>,
    private readonly hashes: { tools: string | null; system: string | null; names: string | null },
  ) {
    this.request = decodeModelRequest(api, body);
  }

  /** A capture for the request, or null when the body is not a model API request after all. */
  /** `parsed`: the text parsed already (undefined: parsed here). */
  static start(conversations: ConversationTracker, exchange: Exchange, api: ModelApi, text: string, storedBody: string | null, parsed?: unknown): ModelTurnCapture | null {
    const body = parsed !== undefined ? parsed : parseJson(text);
    if (!looksLikeModelRequest(api, body)) return null;
    const b = body as Record<string, unknown>;
    // The blobs are made of the stored (redacted) copy: a key the client put in its prompt stays off disk.
    const redacted = storedBody == null || storedBody === text ? b : (parseJson(storedBody) as Record<string, unknown> | undefined) ?? {};
    const storedText = storedBody ?? text;
    const system = api === 'openai-responses' ? redacted.instructions : api === 'openai-chat' ? null : redacted.system;
    const systemKey = api === 'openai-responses' ? 'instructions' : 'system';
    const tools = Array.isArray(redacted.tools) ? conversations.member(storedText, 'tools', redacted.tools) : null;
    const sys = conversations.member(storedText, systemKey, system);
    const hashes = { tools: tools?.hash ?? null, system: sys?.hash ?? null, names: null as string | null };
    const cap = new ModelTurnCapture(conversations, exchange, api, b, hashes);
    hashes.names = cap.request.tools ? conversations.blob(JSON.stringify(cap.request.toolNames)) : null;
    // The stored copy is the redacted one, with the repeated parts by reference.
    if (storedBody != null && (hashes.tools || hashes.system)) {
      exchange.requestBody = byReference(storedBody, [['tools', tools], [systemKey, sys]]);
    }
    return cap;
  }

  /** The response head: an answer to decode. */
  head(contentType: string): void {
    this.decoder = new ModelResponseDecoder(this.api, contentType);
  }

  chunk(c: Buffer): void {
    this.decoder?.push(c);
  }

  /** The exchange ended (answered, failed or abandoned): the turn is recorded. */
  end(at: number): Turn | null {
    if (this.done) return null;
    this.done = true;
    const ex = this.exchange;
    const resp = this.decoder?.end() ?? null;
    const r = this.request;
    return this.conversations.record({
      sessionId: ex.sessionId ?? '', exchangeId: ex.id, ts: ex.startedAt, endedAt: at || ex.endedAt,
      api: this.api, model: resp?.model ?? r.model, stream: r.stream, status: ex.status,
      toolsHash: this.hashes.tools, systemHash: this.hashes.system, toolNamesHash: this.hashes.names, toolNames: r.toolNames,
      toolUses: resp?.toolUses ?? [], toolResults: r.toolResults, serverResults: resp?.serverResults ?? [],
      mcpListings: resp?.mcpListings ?? [], mcpServers: r.mcpServers,
      stopReason: resp?.stopReason ?? null, usage: resp?.usage ?? null,
      error: turnError(ex, resp), text: (resp?.text ?? '').slice(0, TEXT_CAP), messageCount: r.messageCount,
    });
  }
}

/**
 * A request body with the given members replaced by `{"$blob": hash}`. Clients send compact JSON, so
 * each member's text was found as serialised, at `at` (cheap, where serialising the whole body again is
 * not); otherwise the body is parsed and written again.
 */
function byReference(body: string, members: Array<[key: string, m: { text: string; hash: string; at: number } | null]>): string {
  const found = members.filter((x): x is [string, { text: string; hash: string; at: number }] => x[1] != null);
  if (found.every(([, m]) => m.at >= 0)) {
    let out = body;
    // From the last to the first, so that each splice leaves the earlier positions as they were.
    for (const [key, m] of found.sort((a, b) => b[1].at - a[1].at)) {
      out = out.slice(0, m.at) + `"${key}":{"$blob":"${m.hash}"}` + out.slice(m.at + key.length + 3 + m.text.length);
    }
    return out;
  }
  const parsed = parseJson(body);
  if (!parsed || typeof parsed !== 'object') return body;
  const o = parsed as Record<string, unknown>;
  for (const [key, m] of found) if (key in o) o[key] = { $blob: m.hash };
  return JSON.stringify(o);
}

function turnError(ex: Exchange, resp: ModelResponse | null): TurnError | null {
  const status = ex.status;
  if (resp?.error) return { status, type: resp.error.type, message: resp.error.message };
  if (status != null && status >= 400) return { status, type: STATUS_TYPES[status] ?? 'http', message: `HTTP ${status}` };
  if (ex.failure && ex.failure.kind !== 'client-aborted') return { status, type: 'connection', message: failureText(ex.failure) };
  if (ex.aborted && resp && !resp.complete) return { status, type: 'aborted', message: 'the client closed the request before the answer ended' };
  return null;
}
