import type http from 'node:http';
import { header, mediaType } from '../model/headers.js';
import type { HeaderList, Rewrite } from '../model/model.js';
import type { Interceptor } from './intercept.js';
import { holdJsonAnswer, holdsJsonAnswer } from './json-intercept.js';
import { SseEventGate } from './sse-intercept.js';

// Which upstream answers --hold takes in hand, for the forwarder: an event stream goes through an
// event gate (the server's events one at a time with dir:s2c; a legacy stream also takes the answers
// given by hand), a POST's JSON answer through json-intercept.ts. Anything else is piped as it comes.

export interface AnswerHooks {
  /** Records a change on the exchange (before → after). */
  record(change: Rewrite): void;
  /** A message the proxy wrote on the stream itself (an answer given by hand). */
  injected(text: string): void;
}

export interface AnswerGate {
  /** The response head waits for the answer (a JSON answer may be edited: a new Content-Length). */
  holdsHead: boolean;
  /** Passes the rest of the answer; `first`: bytes a transform already let go of, to go first. */
  run(proxyRes: http.IncomingMessage, res: http.ServerResponse, status: number, out: string[], first?: Buffer): void;
}

/**
 * The gate an upstream answer goes through with --hold, or null when it is piped as it comes.
 * `transformed`: a transform rewrites this body (its bytes reach the gate once it lets go).
 */
export function answerGate(interceptor: Interceptor, method: string | undefined, headers: HeaderList, transformed: boolean, route: string, hooks: AnswerHooks): AnswerGate | null {
  if (!transformed && holdsJsonAnswer(interceptor, method, headers)) {
    return { holdsHead: true, run: (proxyRes, res, status, out) => holdJsonAnswer(interceptor, proxyRes, res, status, out, route, hooks.record) };
  }
  if (mediaType(header(headers, 'content-type')) !== 'text/event-stream') return null;
  return {
    holdsHead: false,
    run: (proxyRes, res, _status, _out, first) => {
      const gate = new SseEventGate(interceptor, route, (b) => void res.write(b), () => res.end(), hooks.record, hooks.injected);
      if (first) gate.push(first);
      proxyRes.on('data', (c: Buffer) => gate.push(c));
      proxyRes.on('end', () => gate.finish());
      res.on('close', () => gate.close());
    },
  };
}
