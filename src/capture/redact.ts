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

/** Texts shorter than this are remembered as clean (see Redactor.scrubShort); at most CLEAN_KEPT of each kind. */
const CLEAN_CHARS = 128;
const CLEAN_KEPT = 4096;

function remember(set: Set<string>, text: string): void {
  if (set.size >= CLEAN_KEPT) set.clear();
  set.add(text);
}

type HeaderKind = 'url' | 'cookie' | 'secret' | 'plain';
const headerKinds = new Map<string, HeaderKind>();

/** How a header's value is redacted, by its name (judged once per name). */
function headerKind(name: string): HeaderKind {
  let kind = headerKinds.get(name);
  if (kind === undefined) {
    const lower = name.toLowerCase();
    kind = URL_HEADERS.has(lower) ? 'url' : lower === 'cookie' || lower === 'set-cookie' ? 'cookie' : isSecretHeader(name) ? 'secret' : 'plain';
    if (headerKinds.size >= CLEAN_KEPT) headerKinds.clear();
    headerKinds.set(name, kind);
  }
  return kind;
}

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
  /** Short texts and URLs that scrubbing leaves as they are (see scrubShort). */
  private readonly clean = new Set<string>();
  private readonly cleanUrls = new Set<string>();
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
    this.clean.clear();
    this.cleanUrls.clear();
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
      // What was scrubbed before this secret was known may hold it: nothing is answered from memory.
      this.memo.clear();
      this.memoChars = 0;
      this.clean.clear();
      this.cleanUrls.clear();
    }
    return fp;
  }

  /** The remembered secrets in a text already scrubbed by pattern, concealed where they stand. */
  private known(text: string): string {
    if (!this.seen.size) return text;
    this.seenPattern ??= new RegExp([...this.seen.keys()].map(escapeRegExp).join('|'), 'g');
    return text.replace(this.seenPattern, (s) => this.seen.get(s) ?? s);
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
      const kind = headerKind(name);
      if (kind === 'url') return [name, this.url(value)];
      if (kind === 'cookie') return [name, this.cookie(value)];
      if (kind === 'secret') return [name, this.credential(value)];
      const done = this.scrubShort(value);
      // An untouched pair is shared, never copied.
      return done === value ? pair : [name, done];
    });
  }

  /**
   * scrub(), answered from `clean` for a short text it left as it was before: the same few header values,
   * URLs and words come back with every request. Only texts shorter than a long JSON string (128) are
   * kept, so that skipping the scan skips nothing it would have remembered (redact-text's string memo).
   */
  private scrubShort(text: string): string {
    if (this.clean.has(text)) return text;
    const done = this.known(scrub(text, this.conceal));
    if (done === text && text.length < CLEAN_CHARS) remember(this.clean, text);
    return done;
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
    if (!this.enabled || this.cleanUrls.has(url)) return url;
    const done = this.known(/^[a-zA-Z][\w+.-]*:\/\//.test(url) ? scrubUrl(url, this.conceal) : scrubPathQuery(url, this.conceal));
    // A URL that holds nothing (each POST of a legacy session names the same one) is not read again.
    if (done === url && url.length < CLEAN_CHARS) remember(this.cleanUrls, url);
    return done;
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
    // Texts the memo takes are not kept as clean as well (most are messages, each seen once or twice).
    const out = body.length < 64 ? this.scrubShort(body) : this.known(scrub(body, this.conceal));
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
