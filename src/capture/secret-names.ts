/**
 * Which names carry secrets: JSON keys, header names, query and form fields, environment variables and
 * command-line flags, all by one pattern rather than a list, so a new field (LiteLLM's
 * `x-mcp-<alias>-authorization`, Anthropic's `authorization_token`, `GITHUB_PERSONAL_ACCESS_TOKEN`) is
 * caught without anyone adding it.
 */

/** Secret-shaped: token, secret, password, authorization, credential, api key, a `_key` / `-key` suffix… */
const SECRET = /token|secret|passw(or)?d|passphrase|authori[sz]ation|credential|api_?key|_key$|(^|_)(auth|pwd|passwd|pass|pat|cookie)$|^(code_verifier|client_assertion|assertion)$/;

/**
 * Names that match the pattern but hold no secret: token counts and limits (`max_tokens`, `input_tokens`,
 * `anthropic-ratelimit-tokens-remaining`), the OAuth metadata that names endpoints and methods
 * (`token_endpoint`, `authorization_servers`, `token_endpoint_auth_methods_supported`), labels and ids
 * of a key (`key_alias`, `token_type`), MCP's `progressToken`, pagination tokens, and keys that are column
 * or cache names (`primary_key`).
 */
const NOT_SECRET = new RegExp([
  '(^|_)tokens(_|$)', 'tokeni[sz]er', 'ratelimit',
  '_(endpoint|servers?|supported|uri|url|type|types|methods?|count|limit|budget|name|alias|id|ids|expires(_in|_at)?|usage|format|prefix|length|len|hint|scopes?|policy|required|placeholder|description)$',
  '^(progress_token|page_token|next_page_token|continuation_token|sync_token|token_count|has_key|no_auth)$',
  '^(primary|foreign|sort|partition|cache|idempotency|unique|composite|sequence|row|object|hash|map|lookup|group|order|dedup|dedupe|routing|shard|public|sec_websocket|sec-websocket|keyboard|hot|shortcut|foreign|index|dict|local_storage|registry)_key$',
  '^sec_websocket_(key|accept)$',
].join('|'));

/** A name made comparable: camelCase split, `-`, `.` and spaces as `_`, lower case. */
export function normaliseName(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[-.\s]+/g, '_').toLowerCase();
}

/** A JSON key, query or form field, environment variable or header name whose value is a secret. */
export function isSecretName(name: string): boolean {
  if (!name || name.length > 80) return false;
  // The same few names come back in every message: each is judged once.
  let known = judged.get(name);
  if (known === undefined) {
    const n = normaliseName(name);
    known = SECRET.test(n) && !NOT_SECRET.test(n);
    if (judged.size >= MAX_JUDGED) judged.clear();
    judged.set(name, known);
  }
  return known;
}

const MAX_JUDGED = 4096;
const judged = new Map<string, boolean>();

/**
 * OAuth's authorization `code` (a query, form or JSON field) is a secret; a field named `code` elsewhere
 * is mostly not (JSON-RPC's error codes are numbers, OpenAI's are words like `invalid_api_key`, a tool's
 * `code` argument is source text): only a random-looking value under it is scrubbed, 8+ characters of
 * letters and digits (both) without spaces or punctuation.
 */
export function isCodeField(name: string): boolean {
  const n = name.toLowerCase();
  return n === 'code' || n === 'device_code' || n === 'user_code' || n === 'authorization_code';
}

export function tokenLike(value: string): boolean {
  return value.length >= 8 && /^[\w.~+/=-]+$/.test(value) && /\d/.test(value) && /[A-Za-z]/.test(value);
}

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-mcp-auth']);

/** A header whose whole value is a secret (cookies are scrubbed per cookie). */
export function isSecretHeader(name: string): boolean {
  const n = name.toLowerCase();
  return SECRET_HEADERS.has(n) || isSecretName(n);
}

/** Flag names of command lines that take a secret: the secret-shaped ones plus the usual short words. */
const SECRET_FLAG = /^(pat|auth|pass|pw|pwd|creds?|credentials?|key|apikey|bearer|cookie)$/;

/** `--token`, `--api-key`, `--pat`, `--auth`, `--password` (one-letter flags are too ambiguous to judge). */
export function isSecretFlag(flag: string): boolean {
  const name = flag.replace(/^-+/, '');
  if (/^no[-_]/i.test(name)) return false;
  return SECRET_FLAG.test(name.toLowerCase()) || isSecretName(name);
}
