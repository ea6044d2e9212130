import type { Exchange, RpcMessage, Session } from '../model/model.js';
import type { Blob, Turn } from './turn.js';
import type { StreamFacts } from './streams.js';

export interface HubEvents {
  /** A session was created or changed (handshake info, counters, end). */
  session: [Session];
  /** An exchange was created or changed (response head, end, error). */
  exchange: [Exchange];
  /** A message was captured, or changed (a request learning its response). `isNew` tells which. */
  message: [RpcMessage, boolean];
  /** A model API turn, complete (request and answer decoded). */
  turn: [Turn];
  /** A tools array or system prompt seen for the first time (content-addressed). */
  blob: [Blob];
  /** A stream's facts changed (opened, activity, closed); see streams.ts. */
  stream: [StreamFacts];
  warning: [string];
}

/**
 * The one stream of capture events. The recorder, the live checks and the in-process UI all listen here;
 * nothing on the forwarding path does. Listener errors are contained: a broken listener must not stop
 * the others, nor reach the proxy.
 */
export class CaptureHub {
  /**
   * Listeners per event, each array replaced (never changed) when one is added or removed: an emit goes
   * to the listeners there were when it began, as EventEmitter's does. Not an EventEmitter: its emit and
   * the wrappers' rest arguments were a measurable part of the capture's cost per message.
   */
  private readonly lists: { [K in keyof HubEvents]?: Array<(args: HubEvents[K]) => void> } = {};

  on<K extends keyof HubEvents>(event: K, fn: (...args: HubEvents[K]) => void): () => void {
    const call = (args: HubEvents[K]) => {
      try {
        fn(...args);
      } catch (err) {
        if (event !== 'warning') this.emit('warning', `capture listener failed on ${event}: ${(err as Error).message}`);
      }
    };
    this.lists[event] = [...(this.lists[event] ?? []), call] as (typeof this.lists)[K];
    return () => {
      this.lists[event] = (this.lists[event] ?? []).filter((c) => c !== call) as (typeof this.lists)[K];
    };
  }

  emit<K extends keyof HubEvents>(event: K, ...args: HubEvents[K]): void {
    const list = this.lists[event];
    if (!list) return;
    for (let i = 0; i < list.length; i++) list[i](args);
  }

  listenerCount(event: keyof HubEvents): number {
    return this.lists[event]?.length ?? 0;
  }
}
