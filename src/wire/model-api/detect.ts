import type { ModelApi } from './types.js';

// Model APIs are recognised by path, whatever the host: the vendor's API, a gateway that serves them
// under a prefix (LiteLLM's /anthropic/v1/messages), a local model server. The body confirms it.
const PATHS: Array<[RegExp, ModelApi]> = [
  [/\/messages\/count_tokens$/, 'anthropic-count-tokens'],
  [/\/messages$/, 'anthropic-messages'],
  [/\/chat\/completions$/, 'openai-chat'],
  [/\/responses$/, 'openai-responses'],
];

/** The model API a request's method and URL name, or null. Only POSTs are turns. */
export function modelApiOfUrl(method: string, url: string): ModelApi | null {
  if (method !== 'POST') return null;
  const path = url.split('?')[0].replace(/\/+$/, '');
  for (const [re, api] of PATHS) if (re.test(path)) return api;
  return null;
}

/** The body has the shape the API's requests have (an MCP endpoint mounted at /messages does not). */
export function looksLikeModelRequest(api: ModelApi, body: unknown): boolean {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  if ('jsonrpc' in b) return false;
  if (api === 'openai-responses') return 'input' in b || typeof b.model === 'string';
  return Array.isArray(b.messages);
}
