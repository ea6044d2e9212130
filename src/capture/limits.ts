import { now } from '../model/clock.js';

/**
 * What the capture will spend on what anyone sends through the port: a web page can reach 127.0.0.1,
 * and a 1.6 KB brotli body can inflate to 1 GiB. Forwarding is never limited (the client gets every
 * byte); only the capture's copy is: decoding stops, messages stop being stored, or bodies are stored
 * cut. Each limit warns once per run and counts every time it applies.
 */
export interface CaptureLimitOptions {
  /** Decoded bytes of one compressed HTTP body the capture reads, once it decodes to over 200 times its size (`--max-decoded`). */
  maxDecoded?: number;
  /** Messages stored from one exchange: an HTTP exchange, a WebSocket connection (`--max-messages`). */
  maxMessages?: number;
  /** Body bytes stored per minute for one client (route, address, user agent) (`--max-stored-per-client`). */
  maxStoredPerClient?: number;
  /** Body bytes stored per minute for everyone together (`--max-stored`). */
  maxStored?: number;
  /** Event streams decoded at once for one client (`--max-streams-per-client`). */
  maxStreamsPerClient?: number;
  /** Event streams decoded at once in all (`--max-streams`). */
  maxStreams?: number;
}

export const LIMIT_DEFAULTS: Required<CaptureLimitOptions> = {
  maxDecoded: 16 * 1024 * 1024,
  maxMessages: 50_000,
  maxStoredPerClient: 64 * 1024 * 1024,
  maxStored: 256 * 1024 * 1024,
  maxStreamsPerClient: 1_000,
  maxStreams: 4_000,
};

export type LimitKind = 'decoded' | 'messages' | 'stored' | 'streams';

/** A body stored over budget keeps this much of its start, so the exchange still says what it was. */
const OVER_BUDGET_KEEP = 1024;
const MINUTE = 60_000;

export class CaptureLimits {
  readonly max: Required<CaptureLimitOptions>;
  /** How many times each limit applied (a body cut, a message not stored, a decode stopped). */
  readonly counts: Record<LimitKind, number> = { decoded: 0, messages: 0, stored: 0, streams: 0 };
  private readonly warned = new Set<LimitKind>();
  private all = { start: 0, used: 0 };
  private storedBy = new Map<string, { start: number; used: number }>();
  private streamsOpen = 0;
  private streamsBy = new Map<string, number>();

  constructor(opts: CaptureLimitOptions, private readonly warn: (message: string) => void) {
    this.max = { ...LIMIT_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v != null)) };
  }

  /** One more time a limit applied: counted, and said once per run. */
  hit(kind: LimitKind, n = 1): void {
    this.counts[kind] += n;
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    this.warn(WARNINGS[kind](this.max));
  }

  /** A slot for decoding one more event stream of `client`; false (counted, warned) when none is left. */
  openStream(client: string): boolean {
    const mine = this.streamsBy.get(client) ?? 0;
    if (mine >= this.max.maxStreamsPerClient || this.streamsOpen >= this.max.maxStreams) {
      this.hit('streams');
      return false;
    }
    this.streamsBy.set(client, mine + 1);
    this.streamsOpen++;
    return true;
  }

  closeStream(client: string): void {
    const mine = (this.streamsBy.get(client) ?? 1) - 1;
    if (mine > 0) this.streamsBy.set(client, mine);
    else this.streamsBy.delete(client);
    this.streamsOpen = Math.max(0, this.streamsOpen - 1);
  }

  /**
   * A body of `text` from `client`, as it may be stored within this minute's budgets: whole, or its
   * first KB (and then `cut` is true).
   */
  budget(client: string, text: string | null): { text: string | null; cut: boolean } {
    if (text == null) return { text, cut: false };
    const t = now();
    // Each client's minute starts with its first body, so a burst is judged as one.
    if (t - this.all.start >= MINUTE) this.all = { start: t, used: 0 };
    let mine = this.storedBy.get(client);
    if (!mine || t - mine.start >= MINUTE) {
      if (this.storedBy.size > 10_000) this.storedBy.clear();
      mine = { start: t, used: 0 };
      this.storedBy.set(client, mine);
    }
    const bytes = text.length;
    const over = bytes > OVER_BUDGET_KEEP && (mine.used + bytes > this.max.maxStoredPerClient || this.all.used + bytes > this.max.maxStored);
    const kept = over ? OVER_BUDGET_KEEP : bytes;
    mine.used += kept;
    this.all.used += kept;
    if (!over) return { text, cut: false };
    this.hit('stored');
    return { text: text.slice(0, OVER_BUDGET_KEEP), cut: true };
  }
}

const mib = (n: number) => `${Math.round((n / 1024 / 1024) * 10) / 10} MiB`;

const WARNINGS: Record<LimitKind, (m: Required<CaptureLimitOptions>) => string> = {
  decoded: (m) => `a compressed body decoded to more than ${mib(m.maxDecoded)}, over 200 times its size (a bomb): the capture stopped reading it (forwarded whole; --max-decoded to change); further ones are counted, not told`,
  messages: (m) => `an exchange carried more than ${m.maxMessages} messages: the rest of it is forwarded but not stored (--max-messages to change); further ones are counted, not told`,
  streams: (m) => `a client held more than ${m.maxStreamsPerClient} event streams open (or everyone more than ${m.maxStreams}): further ones are forwarded but not decoded (--max-streams-per-client, --max-streams to change); further ones are counted, not told`,
  stored: (m) => `a client sent more than ${mib(m.maxStoredPerClient)} of bodies in a minute (or everyone more than ${mib(m.maxStored)}): bodies over that are stored cut to 1 KB (--max-stored-per-client, --max-stored to change); further ones are counted, not told`,
};
