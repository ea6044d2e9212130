import { isCodeField, isSecretFlag, isSecretHeader, isSecretName, tokenLike } from './secret-names.js';
import { jsonPieces, opensJson } from './redact-json.js';

/** Turns a secret into its fingerprint (and may remember it, to scrub its echoes). */
export type Conceal = (secret: string) => string;

// Unrolled (runs of plain characters, then one escape): the per-character alternation was the slow part.
const STR = String.raw`"[^"\\\n]*(?:\\.[^"\\\n]*)*"`;
const SCALAR = String.raw`-?\d[\d.eE+-]*|true|false|null`;
const ARR = String.raw`\[\s*(?:${STR}|${SCALAR})(?:\s*,\s*(?:${STR}|${SCALAR}))*\s*\]`;
/** Where a word starts: the start, a space or punctuation, or a JSON escape (`\n`) inside a string. */
const START = String.raw`(?<=^|[\s"'(\[{,;?&#=|]|\\[nrt])`;

/**
 * Credentials recognisable by their shape whatever names them: vendor key prefixes (OpenAI / Anthropic
 * `sk-`, GitHub `ghp_` `gho_` `ghs_` `ghu_` `ghr_` `github_pat_`, Slack `xox?-`, AWS `AKIA`/`ASIA`, GitLab
 * `glpat-`, npm `npm_`, Google `AIza`, Stripe `sk_live_`/`rk_live_`, Hugging Face `hf_`) and JWTs.
 */
export const KEY_SHAPE = String.raw`\b(?:sk-ant-[\w-]{16,}|sk-[\w-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|xox[abposr]-[\w-]{10,}|A[KS]IA[0-9A-Z]{16}|glpat-[\w-]{20,}|npm_[A-Za-z0-9]{36}|AIza[\w-]{35}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|hf_[A-Za-z0-9]{30,}|eyJ[\w-]{6,}\.[\w-]{6,}\.[\w-]*)`;
const KEY_SHAPE_WHOLE = new RegExp(`^${KEY_SHAPE}$`);

/**
 * One pass over a text: every alternative is tried where it can start, and each match is replaced by its
 * handler. In order: a JSON string, with the value after it when it is a key; a URL; `Bearer`/`Basic`
 * credentials; a key-shaped word; a `name: value` line (headers, YAML); a `--flag value`; a `name=value`
 * pair (query, form, environment, `…;Password=x` connection strings).
 */
const SCAN = new RegExp([
  // A quote after a backslash opens nothing: tried there, escaped JSON (`\"a\":\"b\"`) made every one of its
  // quotes scan to the end of the line, and a long line took time by its square.
  String.raw`(?<!\\)(${STR})(?:(\s*:\s*)(${STR}|${ARR}|${SCALAR}))?`,
  // JSON escaped once more, outside any string of its own (a log line printing a body): `\"key\":\"value\"`.
  String.raw`\\"([\w.-]{1,64})\\"(\s*:\s*)(?:\\"((?:[^"\\\n]|\\[^"\n])*)\\"|(-?\d[\d.eE+-]*))`,
  String.raw`(?<![\w+.-])([a-zA-Z][\w+.-]*:\/\/[^\s"'<>\\\`]+)`,
  String.raw`\b([Bb]earer|BEARER|[Bb]asic|BASIC)[ \t]+([\w.~+/-]{8,})(?!=[^=\s,]|[\w.~+/-])(=*)`,
  `(${KEY_SHAPE})`,
  // Three kinds that start a word, behind one look-behind (checked once per position, not three times).
  String.raw`${START}(?:([A-Za-z][\w-]{1,60}):[ \t]+(?![Bb]earer\b|BEARER\b|[Bb]asic\b|-)([^\s"'\\,;]+)` +
    String.raw`|(--?[A-Za-z][\w.-]*)(=|[ \t]+)(?!-)([^\s"'\\]+)` +
    String.raw`|([A-Za-z_][\w.-]{0,79})=(?!=)([^&#;\s"'\\<>,]+))`,
  String.raw`(?<=^|[\s"'(])(\/[\w.~%-]+(?:\/[\w.~%-]*)+)`,
].join('|'), 'g');

/** Query and fragment fields that sign or authorise a URL, beyond the secret-shaped names. */
const URL_SECRET_FIELD = /^(sig|signature|x-amz-signature|x-amz-credential|x-goog-signature|x-goog-credential|key)$/i;

/** How deep JSON found inside JSON strings is followed. */
const MAX_DEPTH = 4;

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** A path segment that is a key: a known key shape, or 24+ characters of letters and digits in mixed case. */
function keySegment(seg: string): boolean {
  if (seg.length < 16) return false;
  if (KEY_SHAPE_WHOLE.test(seg)) return true;
  return seg.length >= 24 && /^[A-Za-z0-9_-]+$/.test(seg) && /[a-z]/.test(seg) && /[A-Z]/.test(seg) && /\d/.test(seg);
}

/** Scrubs secrets out of any text: JSON (and JSON inside its strings), URLs, logs, forms, command lines. */
export function scrub(text: string, conceal: Conceal, depth = 0): string {
  return scrubJson(text, conceal, depth) ?? scanned(text, conceal, depth);
}

const secretKey = (name: string) => isSecretName(name) || isCodeField(name);

/**
 * A JSON object or array scrubbed as SCAN would, with its pieces found by redact-json.ts instead (most
 * texts are JSON, and most of their strings hold nothing); null when the text is not one.
 */
function scrubJson(text: string, conceal: Conceal, depth: number): string | null {
  if (!opensJson(text)) return null;
  let out: string | null = null;
  let last = 0;
  const put = (start: number, end: number, done: string) => {
    out = (out ?? '') + text.slice(last, start) + done;
    last = end;
  };
  const ok = jsonPieces(text, secretKey, {
    string(start, end, deeper) {
      const token = text.slice(start, end);
      const done = jsonString(token, conceal, deeper ? depth + 1 : depth);
      if (done !== token) put(start, end, done);
    },
    keyValue(keyStart, keyEnd, valueStart, valueEnd) {
      const done = keyValue(text.slice(keyStart, keyEnd), text.slice(keyEnd, valueStart), text.slice(valueStart, valueEnd), conceal, depth);
      if (done !== text.slice(keyStart, valueEnd)) put(keyStart, valueEnd, done);
    },
  });
  if (!ok) return null;
  return out === null ? text : out + text.slice(last);
}

/** scrub() by SCAN: any text. */
export function scanned(text: string, conceal: Conceal, depth = 0): string {
  return text.replace(SCAN, (all, str?: string, sep?: string, val?: string, escKey?: string, escSep?: string, escStr?: string, escNum?: string, url?: string, scheme?: string, cred?: string, pad?: string,
    shaped?: string, hName?: string, hValue?: string, flag?: string, flagSep?: string, flagValue?: string, eqName?: string, eqValue?: string, path?: string) => {
    if (str !== undefined) return sep === undefined ? jsonString(str, conceal, depth) : keyValue(str, sep, val!, conceal, depth);
    if (escKey !== undefined) return escapedKeyValue(all, escKey, escSep!, escStr, escNum, conceal, depth);
    if (url !== undefined) return scrubUrl(url, conceal, depth);
    if (scheme !== undefined) return credential(all, scheme, cred! + pad!, conceal);
    if (shaped !== undefined) return conceal(shaped);
    if (hName !== undefined) return isSecretHeader(hName) ? `${all.slice(0, all.length - hValue!.length)}${conceal(hValue!)}` : `${all.slice(0, all.length - hValue!.length)}${inner(hValue!, conceal, depth)}`;
    if (flag !== undefined) return isSecretFlag(flag) ? `${flag}${flagSep}${conceal(flagValue!)}` : `${flag}${flagSep}${inner(flagValue!, conceal, depth)}`;
    if (path !== undefined) return scrubPathQuery(path, conceal, depth);
    if (eqName !== undefined) return `${eqName}=${secretField(eqName, eqValue!) ? conceal(decode(eqValue!)) : inner(eqValue!, conceal, depth)}`;
    return all;
  });
}

/** `\"key\":\"value\"` (or a number): concealed under a secret name, else scanned for shapes. */
function escapedKeyValue(all: string, key: string, sep: string, str: string | undefined, num: string | undefined, conceal: Conceal, depth: number): string {
  const head = `\\"${key}\\"${sep}`;
  if (str !== undefined) {
    if (str && (isCodeField(key) ? tokenLike(str) : isSecretName(key))) return `${head}\\"${conceal(str)}\\"`;
    return `${head}\\"${inner(str, conceal, depth)}\\"`;
  }
  return isSecretName(key) && !isCodeField(key) ? `${head}\\"${conceal(num!)}\\"` : all;
}

/** Shortest text that can hold a credential-shaped value (`a://u:pw@h`, `sk-…`): shorter is left as it is. */
const MIN_SHAPED = 8;

/** The value of a field that is not secret by name: scanned for shapes only when it can hold one. */
function inner(value: string, conceal: Conceal, depth: number): string {
  return value.length < MIN_SHAPED ? value : scrub(value, conceal, depth);
}

/**
 * `Bearer x` / `Basic x`. In lower case the words are English too ("a basic understanding"): then only a
 * value with a digit in it counts, and a Basic value only when it decodes to `user:password`.
 */
function credential(all: string, scheme: string, cred: string, conceal: Conceal): string {
  const lower = scheme[0] === 'b';
  if (lower && !/\d/.test(cred)) return all;
  if (/^basic$/i.test(scheme) && !Buffer.from(cred, 'base64').toString('latin1').includes(':')) return all;
  return `${scheme} ${conceal(cred)}`;
}

/** A `name=value` field whose value is a secret. `PWD=/home/me` is the working folder, not a password. */
function secretField(name: string, value: string): boolean {
  if (isCodeField(name)) return tokenLike(decode(value));
  if (/^(old)?pwd$/i.test(name) && value.startsWith('/')) return false;
  return isSecretName(name);
}

/**
 * Long strings met before, per redactor: a model client sends the same system prompt and tool descriptions
 * on every turn, and each is scanned once. Bounded in characters.
 */
const LONG_STRING = 128;
const STRING_MEMO_CHARS = 8 * 1024 * 1024;
const memos = new WeakMap<Conceal, { map: Map<string, string>; chars: number }>();

/** Forgets what a redactor's strings became (its fingerprint key changed). */
export function forgetStrings(conceal: Conceal): void {
  memos.delete(conceal);
}

/** A JSON string token (quotes included): its text scrubbed, and JSON inside it followed. */
function jsonString(token: string, conceal: Conceal, depth: number): string {
  if (token.length < LONG_STRING) return scrubString(token, conceal, depth);
  let memo = memos.get(conceal);
  if (!memo) memos.set(conceal, (memo = { map: new Map(), chars: 0 }));
  const known = memo.map.get(token);
  if (known !== undefined) return known;
  const done = scrubString(token, conceal, depth);
  memo.map.set(token, done);
  memo.chars += token.length;
  for (const k of memo.map.keys()) {
    if (memo.chars <= STRING_MEMO_CHARS) break;
    memo.map.delete(k);
    memo.chars -= k.length;
  }
  return done;
}

function scrubString(token: string, conceal: Conceal, depth: number): string {
  const inner = token.slice(1, -1);
  if (inner.length < MIN_SHAPED) return token;
  // JSON inside a string (a tool result's text): its keys are escaped, so it is read unescaped.
  if (depth < MAX_DEPTH && inner.includes('\\"') && inner.includes(':')) {
    let plain: string;
    try {
      plain = JSON.parse(token) as string;
    } catch {
      return `"${scrub(inner, conceal, depth + 1)}"`;
    }
    const done = scrub(plain, conceal, depth + 1);
    return done === plain ? token : JSON.stringify(done);
  }
  // Most strings are names and prose with nothing any alternative could start on: not scanned again.
  if (!MAY_HOLD.test(inner)) return token;
  const done = scrub(inner, conceal, depth + 1);
  return done === inner ? token : `"${done}"`;
}

/** What every alternative of SCAN needs somewhere in a text (a cheap test before the full scan). */
const MAY_HOLD = /[=/]|:[ \t]|(?:^|[\s(\[{,;|]|\\[nrt])-|[Bb]earer|BEARER|[Bb]asic|BASIC|sk-|gh[pousr]_|github_pat_|xox|A[KS]IA|glpat-|npm_|AIza|k_live_|k_test_|hf_|eyJ/;

function unescape(token: string): string {
  try {
    return JSON.parse(token) as string;
  } catch {
    return token.slice(1, -1);
  }
}

/** `"key": value`: under a secret key, any string or number (or each of an array of them) is concealed. */
function keyValue(keyToken: string, sep: string, value: string, conceal: Conceal, depth: number): string {
  const key = unescape(keyToken);
  const head = keyToken + sep;
  if (value[0] === '"') {
    const v = unescape(value);
    if (v && (isCodeField(key) ? tokenLike(v) : isSecretName(key))) return head + JSON.stringify(conceal(v));
    return head + jsonString(value, conceal, depth);
  }
  if (value[0] === '[') {
    if (!isSecretName(key)) return head + scrub(value, conceal, depth + 1);
    return head + value.replace(new RegExp(`${STR}|-?\\d[\\d.eE+-]*`, 'g'), (el) => JSON.stringify(conceal(el[0] === '"' ? unescape(el) : el)));
  }
  // A number under a secret key (`"password": 12345678`) is a secret too; true, false and null are not.
  if (/^-?\d/.test(value) && isSecretName(key) && !isCodeField(key)) return head + JSON.stringify(conceal(value));
  return head + value;
}

/** A URL: the password of its userinfo, a key in its path, secret query and fragment fields. */
export function scrubUrl(url: string, conceal: Conceal, depth = 0): string {
  const m = /^([a-zA-Z][\w+.-]*:\/\/)([^/?#@]*@)?([^/?#]*)(.*)$/s.exec(url);
  if (!m) return scrubPathQuery(url, conceal, depth);
  let userinfo = m[2] ?? '';
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    if (colon >= 0 && colon < userinfo.length - 2) userinfo = `${userinfo.slice(0, colon + 1)}${conceal(decode(userinfo.slice(colon + 1, -1)))}@`;
    else if (colon < 0 && userinfo.length > 20) userinfo = `${conceal(decode(userinfo.slice(0, -1)))}@`;
  }
  return m[1] + userinfo + m[3] + scrubPathQuery(m[4], conceal, depth);
}

/** A path with its query and fragment (`/api/mcp/KEY/mcp?token=…#access_token=…`). */
export function scrubPathQuery(rest: string, conceal: Conceal, depth = 0): string {
  const q = rest.search(/[?#]/);
  const path = q < 0 ? rest : rest.slice(0, q);
  const outPath = path.split('/').map((seg) => (keySegment(seg) ? conceal(seg) : seg)).join('/');
  if (q < 0) return outPath;
  // Query and fragment alike: `#access_token=…&token_type=bearer` is how the implicit flow hands a token over.
  const tail = rest.slice(q).replace(/([?#&])([^=&#]*)=([^&#]*)/g, (all, lead: string, name: string, value: string) => {
    if (!value) return all;
    const k = decode(name);
    if (k === 'sessionId' || k === 'session_id') return all;
    if (URL_SECRET_FIELD.test(k) || secretField(k, value)) return `${lead}${name}=${conceal(decode(value))}`;
    const done = scrub(decode(value), conceal, depth + 1);
    return done === decode(value) ? all : `${lead}${name}=${done}`;
  });
  return outPath + tail;
}
