import { CaptureLimits, type CaptureLimitOptions } from './limits.js';
import { CaptureHub } from './hub.js';
import { CaptureQueue } from './queue.js';
import { Redactor } from './redact.js';
import { SessionTracker, type TrackerOptions } from './tracker.js';
import { ConversationTracker, type ConversationOptions } from './conversations.js';
import { StreamTracker } from './streams.js';
import type { CaptureContext } from './http-exchange.js';

export interface EngineOptions {
  target: string;
  label?: string | null;
  redact?: boolean;
  maxBody?: number;
  /** Cap on the stored raw copy of an event stream's body (its events are stored as messages whatever this is). */
  maxStreamBody?: number;
  /** What the capture spends on one body, exchange and client (src/capture/limits.ts). */
  limits?: CaptureLimitOptions;
}

export const DEFAULT_MAX_BODY = 8 * 1024 * 1024;
/**
 * An event stream can stay open for hours and carries every event again as a message: its raw copy is
 * kept for its framing (ids, comments, retry lines), and 1 MiB of that is plenty. Held in memory until
 * the stream ends, 8 MiB per open stream was most of the proxy's memory under a long stream.
 */
export const DEFAULT_MAX_STREAM_BODY = 1024 * 1024;

/** Everything that turns mirrored bytes into sessions and messages, without sockets or storage. */
export class CaptureEngine implements CaptureContext {
  readonly hub = new CaptureHub();
  readonly redactor: Redactor;
  readonly tracker: SessionTracker;
  readonly conversations: ConversationTracker;
  readonly queue: CaptureQueue;
  readonly streams: StreamTracker;
  readonly maxBody: number;
  readonly maxStreamBody: number;
  private readonly rawTarget: string;
  private readonly trackerOptions: TrackerOptions;
  private readonly conversationOptions: ConversationOptions;
  readonly limits: CaptureLimits;

  constructor(opts: EngineOptions) {
    this.redactor = new Redactor(opts.redact !== false);
    this.maxBody = opts.maxBody ?? DEFAULT_MAX_BODY;
    this.maxStreamBody = Math.min(this.maxBody, opts.maxStreamBody ?? DEFAULT_MAX_STREAM_BODY);
    this.rawTarget = opts.target;
    this.trackerOptions = {
      target: this.redactor.url(opts.target),
      label: opts.label ?? null,
      maxBody: this.maxBody,
      scrub: (t) => this.redactor.text(t),
    };
    this.tracker = new SessionTracker(this.hub, this.trackerOptions);
    this.conversationOptions = { target: this.redactor.url(opts.target), label: opts.label ?? null, scrub: (t) => this.redactor.text(t) };
    this.conversations = new ConversationTracker(this.hub, this.conversationOptions);
    this.streams = new StreamTracker(this.hub);
    this.limits = new CaptureLimits(opts.limits ?? {}, (m) => this.hub.emit('warning', m));
    this.queue = new CaptureQueue((err) => this.hub.emit('warning', `capture step failed: ${err.message}`));
  }

  /**
   * The database's fingerprint key, given once the database is open (before any traffic): the target,
   * redacted when the engine was made, is redacted again so its fingerprints are the database's too.
   */
  useFingerprintKey(key: Buffer): void {
    this.redactor.useKey(key);
    this.trackerOptions.target = this.conversationOptions.target = this.redactor.url(this.rawTarget);
  }
}
