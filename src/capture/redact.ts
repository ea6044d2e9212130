import type { HeaderList } from '../model/model.js';
import { FINGERPRINT, Fingerprinter } from './fingerprint.js';
import { forgetStrings, scrub, scrubPathQuery, scrubUrl } from './redact-text.js';
import { isSecretFlag, isSecretHeader, isSecretName } from './secret-names.js';

export { isSecretHeader } from './secret-names.js';

/** Secrets the redactor keeps to scrub their echoes (each header secret counts once or twice). */
const MAX_REMEMBERED = 64;
/** Secrets shorter than this are not hunted for in other text: they would scrub ordinary words. */
const MIN_REMEMBERED = 8;
/**
 * Texts redacted lately, by content: an exchange's JSON body and the message it holds are one text, and
 * are scanned once. Bounded in characters, since bodies can be megabytes.
 */
const MEMO_CHARS = 4 * 1024 * 1024;
/** Headers whose value is a URL, whose query or fragment may carry a secret. */
const URL_HEADERS = new Set(['location', 'content-location', 'referer']);
const SCHEME = /^(bearer|basic|token|digest|apikey|dpop)\s+/i;
const WHOLE_FINGERPRINT = new RegExp(`^${FINGERPRINT.source}$`);

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Removes secrets before anything is stored, published or exported; the one place that does (see the
 * README's "What is scrubbed"). Secret-shaped names (src/capture/secret-names.ts) and credential-shaped
 * values (src/capture/redact-text.ts) become fingerprints; secrets seen in headers, command lines and the
 * environment are remembered, so that a server echoing one back does not put it on disk either.
 */
export class Redactor {
  readonly fingerprints: Fingerprinter;
  /** Secret → fingerprint, oldest first; at most MAX_REMEMBERED. */
  private readonly seen = new Map<string, string>();
  /** All remembered secrets as one pattern (built when first needed after a change). */
  private seenPattern: RegExp | null = null;
  private readonly memo = new Map<string, string>();
  private memoChars = 0;
  /** Characters of text scanned so far (a text met again is not scanned again). */
  scannedChars = 0;
  private readonly conceal = (secret: string) => this.remember(secret);

  constructor(readonly enabled = true, key?: Buffer) {
    this.fingerprints = new Fingerprinter(key);
  }

  /** The database's fingerprint key, once the database is open: fingerprints then match across captures. */
  useKey(key: Buffer): void {
    this.fingerprints.useKey(key);
    this.seen.clear();
    this.seenPattern = null;
    this.memo.clear();
    this.memoChars = 0;
    forgetStrings(this.conceal);
  }

  /** Secrets remembered for scrubbing other text. */
  get remembered(): number {
    return this.seen.size;
  }

  fingerprint(secret: string): string {
    return WHOLE_FINGERPRINT.test(secret) ? secret : this.fingerprints.of(secret);
  }

  /**
   * The newest secrets only: a load balancer's cookie changes with every response (AWS ALB's AWSALB),
   * so an unbounded memory would grow with every request and slow every message.
   */
  private remember(secret: string): string {
    const fp = this.fingerprint(secret);
    if (secret.length >= MIN_REMEMBERED && fp !== secret && !this.seen.has(secret)) {
      this.seen.set(secret, fp);
      if (this.seen.size > MAX_REMEMBERED) this.seen.delete(this.seen.keys().next().value!);
      this.seenPattern = null;
    }
    return fp;
  }

  /** A credential header's value: its scheme stays (`Bearer [redacted:…]`), the rest is concealed. */
  private credential(value: string): string {
    const scheme = SCHEME.exec(value);
    if (!scheme) return this.remember(value);
    return scheme[0] + this.remember(value.slice(scheme[0].length));
  }

  headers(list: HeaderList): HeaderList {
    if (!this.enabled) return list;
    return list.map((pair) => {
      const [name, value] = pair;
      const lower = name.toLowerCase();
      if (URL_HEADERS.has(lower)) return [name, this.url(value)];
      if (lower === 'cookie' || lower === 'set-cookie') return [name, this.cookie(value)];
      if (isSecretHeader(name)) return [name, this.credential(value)];
      const done = scrub(value, this.conceal);
      // An untouched pair is shared, never copied.
      return done === value ? pair : [name, done];
    });
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
   * A command line as it can be stored: the values of secret flags (`--token X`, `--api-key=X`, `--pat X`,
   * `--auth X`), secret-named assignments (`GITHUB_TOKEN=…`), `Authorization: …` arguments, and whatever
   * any argument holds of URL passwords, connection-string passwords and key-shaped words.
   */
  command(argv: string[]): string[] {
    if (!this.enabled) return argv;
    const out: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      const flag = /^(--?[\w.-]+)=(.*)$/s.exec(a);
      const assign = /^([A-Za-z_][\w.-]*)=(.+)$/s.exec(a);
      const headerArg = /^([\w-]+):\s*(.+)$/s.exec(a);
      if (flag && isSecretFlag(flag[1]) && flag[2]) out.push(`${flag[1]}=${this.remember(flag[2])}`);
      else if (flag) out.push(`${flag[1]}=${this.text(flag[2])}`);
      else if (assign && isSecretName(assign[1])) out.push(`${assign[1]}=${this.remember(assign[2])}`);
      else if (headerArg && isSecretHeader(headerArg[1])) out.push(`${headerArg[1]}: ${this.credential(headerArg[2])}`);
      else if (/^--?[A-Za-z][\w.-]*$/.test(a) && isSecretFlag(a) && i + 1 < argv.length && !argv[i + 1].startsWith('-')) {
        out.push(a, this.remember(argv[++i]));
      } else out.push(this.text(a));
    }
    return out;
  }

  /**
   * Remembers the values of secret-named environment variables and the passwords of URLs in any of them
   * (`DATABASE_URL`), so that a server printing them has them scrubbed.
   */
  environment(env: NodeJS.ProcessEnv): void {
    if (!this.enabled) return;
    for (const [k, v] of Object.entries(env)) {
      if (!v) continue;
      if (isSecretName(k) && !/^(OLD)?PWD$/.test(k)) this.remember(v);
      else if (v.includes('://')) scrub(v, this.conceal);
    }
  }

  /** A URL (or a path with its query) as it can be stored. */
  url(url: string): string {
    if (!this.enabled) return url;
    return /^[a-zA-Z][\w+.-]*:\/\//.test(url) ? scrubUrl(url, this.conceal) : scrubPathQuery(url, this.conceal);
  }

  /**
   * An event stream's raw body: each `data:` line as its own text, so that an event already scanned as a
   * message (the same text) is not scanned again; the other lines (`id:`, `event:`, comments) as they are.
   */
  eventStream(body: string): string {
    if (!this.enabled || !body) return body;
    return body.replace(/^(data:[ ]?)?([^\r\n]+)/gm, (line, field: string | undefined, value: string) =>
      field ? field + this.text(value) : this.text(line));
  }

  /**
   * Any text as it can be stored: a body, a message, a log line, a turn's text. Each text is scanned once:
   * the same text again (a JSON body and the one message it carries) is answered from a small memo.
   */
  text(body: string): string {
    if (!this.enabled || !body) return body;
    const known = this.memo.get(body);
    if (known !== undefined) return known;
    this.scannedChars += body.length;
    let out = scrub(body, this.conceal);
    if (this.seen.size) {
      this.seenPattern ??= new RegExp([...this.seen.keys()].map(escapeRegExp).join('|'), 'g');
      out = out.replace(this.seenPattern, (s) => this.seen.get(s) ?? s);
    }
    if (body.length >= 64 && body.length <= MEMO_CHARS) {
      this.memo.set(body, out);
      this.memoChars += body.length;
      for (const k of this.memo.keys()) {
        if (this.memoChars <= MEMO_CHARS) break;
        this.memo.delete(k);
        this.memoChars -= k.length;
      }
    }
    return out;
  }
}
