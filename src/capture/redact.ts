import { createHash } from 'node:crypto';
import type { HeaderList } from '../model/model.js';

const SECRET_HEADERS = new Set([
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie',
  'x-api-key', 'x-litellm-api-key', 'api-key',
]);
// Handshake nonces that merely look like secrets by name.
const NOT_SECRET = new Set(['sec-websocket-key', 'sec-websocket-accept']);
const SECRET_NAME = /token|secret|key|password|passwd/i;
const SECRET_QUERY = /token|secret|key|password|passwd|^auth|signature|^sig$|^code$/i;
const BODY_SECRET_KEYS = /^(authorization|password|passwd|client_secret|access_token|refresh_token|id_token|registration_access_token|code_verifier|client_assertion|api[-_]?key|x-api-key|secret|private[-_]?key)$/i;
/**
 * Secret fields of a form-encoded body: OAuth token, revocation and introspection requests
 * (RFC 6749, 7009, 7662, 8693) carry the code, its PKCE verifier and the client secret this way.
 */
const FORM_SECRET_KEYS = /^(client_secret|code|code_verifier|refresh_token|access_token|id_token|token|assertion|client_assertion|subject_token|actor_token|device_code|password|passwd|api[-_]?key|secret)$/i;
/** A whole body of `name=value&…` pairs. */
const FORM_BODY = /^[\w.~%+-]+=[^&\s]*(&[\w.~%+-]+=[^&\s]*)*$/;

/** Headers whose value is a URL, whose query may carry a secret. */
const URL_HEADERS = new Set(['location', 'content-location']);

/** Percent-decoding that leaves malformed input (a stray %) as it is instead of throwing. */
function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Secrets the redactor keeps to scrub from bodies (each header secret counts once or twice). */
const MAX_REMEMBERED = 64;

export function isSecretHeader(name: string): boolean {
  const n = name.toLowerCase();
  if (NOT_SECRET.has(n)) return false;
  return SECRET_HEADERS.has(n) || SECRET_NAME.test(n);
}

/**
 * A short fingerprint that tells two secrets apart without revealing them: the scheme, a few leading
 * characters and the last four of a long token (`Bearer sk-…2404`), or a hash for short ones.
 */
export function fingerprint(value: string): string {
  const m = /^(\w+)\s+(.+)$/.exec(value);
  const scheme = m && /^(bearer|basic|token|digest|apikey)$/i.test(m[1]) ? m[1] + ' ' : '';
  const secret = scheme ? m![2] : value;
  if (secret.length >= 16) return `${scheme}${secret.slice(0, 3)}…${secret.slice(-4)}`;
  const h = createHash('sha256').update(secret).digest('hex').slice(0, 6);
  return `${scheme}[redacted ${secret.length} chars #${h}]`;
}

/**
 * Removes secrets before anything is stored. It remembers the secret values it saw in headers and
 * scrubs them from bodies too: a key echoed back by a server (or typed into a tool call) must not
 * survive in a capture that a user pastes into a bug report.
 */
export class Redactor {
  /** Secret → fingerprint, oldest first; at most MAX_REMEMBERED. */
  private readonly seen = new Map<string, string>();

  constructor(readonly enabled = true) {}

  /** Secrets remembered for scrubbing bodies. */
  get remembered(): number {
    return this.seen.size;
  }

  /**
   * The newest secrets only: a load balancer's cookie changes with every response (AWS ALB's AWSALB),
   * and every payload is searched for each remembered secret, so an unbounded memory grew with every
   * request and slowed every message.
   */
  private note(secret: string, fp: string): void {
    this.seen.delete(secret);
    this.seen.set(secret, fp);
    if (this.seen.size > MAX_REMEMBERED) this.seen.delete(this.seen.keys().next().value!);
  }

  headers(list: HeaderList): HeaderList {
    if (!this.enabled) return list;
    return list.map((pair) => {
      const [name, value] = pair;
      // A redirect back from a login carries the authorization code (or a token) in its query.
      if (URL_HEADERS.has(name.toLowerCase())) return [name, this.url(value)];
      // Headers are never changed in place: an untouched pair can be shared.
      if (!isSecretHeader(name)) return pair;
      const lower = name.toLowerCase();
      const redacted = lower === 'cookie' || lower === 'set-cookie' ? this.cookie(value) : this.remember(value);
      return [name, redacted];
    });
  }

  private remember(value: string): string {
    const fp = fingerprint(value);
    const bare = value.replace(/^(bearer|basic|token|digest|apikey)\s+/i, '');
    // Very short values would scrub ordinary text; they are not worth hunting for in bodies.
    if (bare.length >= 8) this.note(bare, fingerprint(bare));
    if (value.length >= 8) this.note(value, fp);
    return fp;
  }

  private cookie(value: string): string {
    return value
      .split(/;\s*/)
      .map((part) => {
        const eq = part.indexOf('=');
        if (eq < 0) return part;
        const k = part.slice(0, eq);
        // Cookie attributes (Path, Expires…) are not secrets.
        if (/^(path|domain|expires|max-age|samesite)$/i.test(k)) return part;
        return `${k}=${this.remember(part.slice(eq + 1))}`;
      })
      .join('; ');
  }

  /**
   * A command line as it can be stored: the values of secret-named flags (`--api-key=…`, `--token …`),
   * environment assignments (`GITHUB_TOKEN=…`), `Authorization: …` arguments, URL passwords and secret
   * query values become fingerprints, and are remembered so that an echo of them is scrubbed as well.
   */
  command(argv: string[]): string[] {
    if (!this.enabled) return argv;
    const out: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      const flag = /^(--?[\w.-]+)=(.*)$/s.exec(a);
      const assign = /^([A-Za-z_][\w.-]*)=(.+)$/s.exec(a);
      const headerArg = /^([\w-]+):\s*(.+)$/s.exec(a);
      if (flag && SECRET_NAME.test(flag[1]) && flag[2]) out.push(`${flag[1]}=${this.remember(flag[2])}`);
      else if (assign && SECRET_NAME.test(assign[1])) out.push(`${assign[1]}=${this.remember(assign[2])}`);
      else if (headerArg && isSecretHeader(headerArg[1])) out.push(`${headerArg[1]}: ${this.remember(headerArg[2])}`);
      else if (/^--?[\w.-]+$/.test(a) && SECRET_NAME.test(a) && i + 1 < argv.length && !argv[i + 1].startsWith('-')) {
        out.push(a, this.remember(argv[++i]));
      } else out.push(this.inlineUrl(a));
    }
    return out;
  }

  /** Remembers the values of secret-named environment variables, so that an echo of them is scrubbed. */
  environment(env: NodeJS.ProcessEnv): void {
    if (!this.enabled) return;
    for (const [k, v] of Object.entries(env)) if (v && SECRET_NAME.test(k) && v.length >= 8) this.remember(v);
  }

  private inlineUrl(arg: string): string {
    if (!/^[a-z][\w+.-]*:\/\//i.test(arg)) return arg;
    let u: URL;
    try {
      u = new URL(arg);
    } catch {
      return arg;
    }
    if (!u.password) return this.url(arg);
    const pass = decodeURIComponent(u.password);
    return this.url(arg.replace(`:${u.password}@`, `:${encodeURIComponent(this.remember(pass))}@`));
  }

  url(url: string): string {
    if (!this.enabled || !url.includes('?')) return url;
    const q = url.indexOf('?');
    const params = url.slice(q + 1).split('&').map((p) => {
      const eq = p.indexOf('=');
      if (eq < 0) return p;
      const k = decode(p.slice(0, eq).replace(/\+/g, ' '));
      if (k !== 'sessionId' && SECRET_QUERY.test(k)) {
        return `${p.slice(0, eq)}=${encodeURIComponent(this.remember(decode(p.slice(eq + 1))))}`;
      }
      return p;
    });
    return url.slice(0, q + 1) + params.join('&');
  }

  /** A sentence naming URLs (a rewrite's before and after), each URL's secret query values redacted. */
  urls(text: string): string {
    if (!this.enabled || !text.includes('?')) return text;
    return text.split(' ').map((w) => (w.includes('?') ? this.url(w) : w)).join(' ');
  }

  private form(body: string): string {
    return body.split('&').map((p) => {
      const eq = p.indexOf('=');
      let k: string;
      try {
        k = decodeURIComponent(p.slice(0, eq).replace(/\+/g, ' '));
      } catch {
        return p;
      }
      if (!FORM_SECRET_KEYS.test(k) || eq === p.length - 1) return p;
      return `${p.slice(0, eq)}=${encodeURIComponent(fingerprint(p.slice(eq + 1)))}`;
    }).join('&');
  }

  /** Scrubs secret-named JSON keys and form fields, and every secret value seen in headers, from a text body. */
  text(body: string): string {
    if (!this.enabled) return body;
    let out = body;
    if (/"[^"]*(password|passwd|secret|token|key|authorization)[^"]*"\s*:/i.test(out)) {
      out = out.replace(/"([^"\\]{1,64})"(\s*:\s*)"((?:[^"\\]|\\.)*)"/g, (all, k: string, sep: string, v: string) =>
        BODY_SECRET_KEYS.test(k) && v.length > 0 ? `"${k}"${sep}"${fingerprint(v)}"` : all,
      );
    }
    if (FORM_BODY.test(out)) out = this.form(out);
    for (const [secret, fp] of this.seen) {
      if (out.includes(secret)) out = out.split(secret).join(fp);
    }
    return out;
  }
}
