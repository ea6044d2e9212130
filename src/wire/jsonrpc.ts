import type { DecodeError, MessageKind, RpcId } from '../model/model.js';

export interface Classified {
  kind: MessageKind;
  rpcId: RpcId | null;
  method: string | null;
  subject: string | null;
  isError: boolean;
  errorCode: number | null;
  decodeError: DecodeError | null;
  value: unknown;
}

export interface DecodedMessage extends Classified {
  /** This message's own JSON text: the original for a single message, re-serialised for batch members. */
  text: string;
  batchIndex: number | null;
  /** Bytes on the wire (for a batch member, of its own JSON text). */
  size: number;
}

const SUBJECT_PARAM: Record<string, 'name' | 'uri'> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'resources/subscribe': 'uri',
  'resources/unsubscribe': 'uri',
};

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const validId = (id: unknown): id is RpcId => typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));

export function methodOf(value: unknown): string | null {
  return isObj(value) && typeof value.method === 'string' ? value.method : null;
}

export function isJsonRpcLike(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0 && value.every(isJsonRpcLike);
  return isObj(value) && 'jsonrpc' in value;
}

function invalid(value: unknown, why: string, partial: Partial<Classified> = {}): DecodedMessage {
  return { ...message('invalid', null, null, null, false, null, { kind: 'invalid-jsonrpc', detail: why }, value), ...partial };
}

/** Every DecodedMessage has this one shape, fields in this order: the hot path stays monomorphic. */
function message(kind: MessageKind, rpcId: RpcId | null, method: string | null, subject: string | null, isError: boolean, errorCode: number | null, decodeError: DecodeError | null, value: unknown): DecodedMessage {
  return { kind, rpcId, method, subject, isError, errorCode, decodeError, value, text: '', batchIndex: null, size: 0 };
}

/** Classifies one JSON value as a JSON-RPC 2.0 request, notification, response, error, or invalid (saying why). */
export function classify(value: unknown): DecodedMessage {
  if (!isObj(value)) return invalid(value, `expected a JSON-RPC object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  const hasId = 'id' in value;
  const id = value.id;
  const method = typeof value.method === 'string' ? value.method : null;
  const idPart = validId(id) ? id : null;
  if (value.jsonrpc !== '2.0') {
    return invalid(value, `missing "jsonrpc": "2.0"${'jsonrpc' in value ? ` (got ${JSON.stringify(value.jsonrpc)})` : ''}`, { rpcId: idPart, method });
  }
  if ('method' in value) {
    if (method === null) return invalid(value, 'method is not a string', { rpcId: idPart });
    if ('result' in value || 'error' in value) return invalid(value, 'a request must not carry result or error', { rpcId: idPart, method });
    const params = value.params;
    if (params !== undefined && (params === null || typeof params !== 'object')) {
      return invalid(value, 'params must be an object or an array', { rpcId: idPart, method });
    }
    const key = SUBJECT_PARAM[method];
    const subject = key && isObj(params) && typeof params[key] === 'string' ? (params[key] as string) : null;
    if (!hasId) return message('notification', null, method, subject, false, null, null, value);
    if (!validId(id)) return invalid(value, `id must be a string or a number (got ${id === null ? 'null' : typeof id})`, { method, subject });
    return message('request', id, method, subject, false, null, null, value);
  }
  const hasResult = 'result' in value;
  const hasError = 'error' in value;
  if (hasResult && hasError) return invalid(value, 'a response must not carry both result and error', { rpcId: idPart });
  if (!hasResult && !hasError) return invalid(value, 'neither a request (method) nor a response (result or error)', { rpcId: idPart });
  if (!hasId) return invalid(value, 'a response must carry an id', {});
  if (hasError) {
    const err = value.error;
    const code = isObj(err) && Number.isInteger(err.code) ? (err.code as number) : null;
    if (!isObj(err) || code === null || typeof err.message !== 'string') {
      return invalid(value, 'error must be an object with an integer code and a string message', { rpcId: idPart, isError: true, errorCode: code });
    }
    if (id !== null && !validId(id)) return invalid(value, `id must be a string, a number or null (got ${typeof id})`, { isError: true, errorCode: code });
    return message('error', idPart, null, null, true, code, null, value);
  }
  if (!validId(id)) return invalid(value, `id must be a string or a number (got ${id === null ? 'null' : typeof id})`, {});
  const result = value.result;
  const toolError = isObj(result) && result.isError === true;
  return message('response', id, null, null, toolError, null, null, value);
}

/**
 * Decodes a whole JSON body or SSE data field: one message, a batch (each member classified, with its
 * index), or one `non-json` message carrying the raw text. Whitespace decodes to nothing.
 */
export function decodeJsonRpcText(text: string, parsed?: { value: unknown }): DecodedMessage[] {
  if (!/\S/.test(text)) return [];
  let value: unknown;
  // `parsed`: JSON.parse(text), when the caller has it already (it must not have been changed since).
  if (parsed) value = parsed.value;
  else {
    try {
      value = JSON.parse(text);
    } catch (e) {
      return [withText(message('non-json', null, null, null, false, null, { kind: 'not-json', detail: (e as Error).message.split('\n')[0] }, undefined), text, null)];
    }
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return [withText(invalid(value, 'empty batch'), text, null)];
    return value.map((v, i) => withText(classify(v), JSON.stringify(v), i));
  }
  return [withText(classify(value), text, null)];
}

function withText(m: DecodedMessage, text: string, batchIndex: number | null): DecodedMessage {
  m.text = text;
  m.batchIndex = batchIndex;
  m.size = Buffer.byteLength(text);
  return m;
}
