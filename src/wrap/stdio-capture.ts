import type { CaptureEngine } from '../capture/engine.js';
import type { Direction, Exchange, Session } from '../model/model.js';
import { newExchange } from '../capture/new-exchange.js';
import { LineSplitter, NdjsonDecoder } from '../wire/ndjson.js';
import type { DecodedMessage } from '../wire/jsonrpc.js';

/** How a wrapped process ended, as the capture records it. */
export type ProcessEnd =
  | { kind: 'exited'; code: number }
  | { kind: 'signal'; signal: string; code: number }
  | { kind: 'failed'; error: string };

/**
 * The capture side of one wrapped stdio server: one session, one `process` exchange. Every method runs
 * from the capture queue, never on the relay path. stdin and stdout are decoded as newline-delimited
 * JSON-RPC; stderr is split into lines and stored as `log` messages of the session.
 */
export class StdioCapture {
  readonly exchange: Exchange;
  readonly session: Session;
  private readonly decoders: Record<'stdin' | 'stdout', NdjsonDecoder>;
  private readonly stderr: LineSplitter;
  private at = 0;
  private stdinClosed = false;
  /** A signal mcptap passed on to the server (Ctrl-C on wrap): its end is mcptap's doing, not the server's. */
  private forwardedSignal: string | null = null;
  /** The client's last sign of life: input from it, or output it took. */
  private clientSeenAt: number;

  constructor(private readonly engine: CaptureEngine, commandLine: string, cwd: string, startedAt: number) {
    this.clientSeenAt = startedAt;
    this.exchange = newExchange({ kind: 'process', method: 'EXEC', url: commandLine, upstreamUrl: cwd, requestHeaders: [], startedAt, clientAddress: null });
    this.session = engine.tracker.openConnection(this.exchange, 'stdio');
    // The session's target is what was started, as the redacted command line.
    this.session.target = commandLine;
    engine.hub.emit('session', this.session);
    engine.hub.emit('exchange', this.exchange);
    engine.streams.opened(this.exchange, 'stdio', startedAt);
    this.decoders = {
      stdin: new NdjsonDecoder((m) => this.record('client->server', 'stdin', m)),
      stdout: new NdjsonDecoder((m) => this.record('server->client', 'stdout', m)),
    };
    this.stderr = new LineSplitter((line) => {
      const text = line.bytes.toString('utf8');
      this.record('server->client', 'stderr', [logLine(text, line.size)]);
    }, engine.maxBody);
  }

  /** The child is running (its pid is known). */
  started(at: number): void {
    this.exchange.firstByteAt = at;
    this.engine.hub.emit('exchange', this.exchange);
  }

  stdin(chunk: Buffer, at: number): void {
    this.at = at;
    this.clientSeenAt = at;
    this.exchange.requestBytes += chunk.length;
    this.decoders.stdin.push(chunk);
  }

  stdout(chunk: Buffer, at: number): void {
    this.at = at;
    if (this.exchange.firstByteAt == null) this.exchange.firstByteAt = at;
    this.exchange.responseBytes += chunk.length;
    this.engine.streams.bytes(this.exchange.id, chunk.length, at);
    this.decoders.stdout.push(chunk);
  }

  stderrChunk(chunk: Buffer, at: number): void {
    this.at = at;
    this.stderr.push(chunk);
  }

  /** The client closed its end of stdin: the session is over once the child has finished. */
  stdinEnd(at: number): void {
    this.at = at;
    this.stdinClosed = true;
    this.clientSeenAt = at;
    this.decoders.stdin.end();
  }

  /** A chunk of stdout reached the client: it was still reading then. */
  delivered(at: number): void {
    this.clientSeenAt = Math.max(this.clientSeenAt, at);
  }

  /**
   * A chunk of stdout could not be relayed: the client had stopped reading (its end of the pipe is
   * closed). It left after its last sign of life (its last input or the last chunk it took), and what
   * came from the child since never reached it: the stream is closed by the client at that moment.
   */
  undelivered(at: number): void {
    this.engine.streams.closed(this.exchange.id, 'client', Math.min(this.clientSeenAt, at));
  }

  /** wrap forwarded `signal` to the server (its own interruption). */
  forwarded(signal: string): void {
    this.forwardedSignal ??= signal;
  }

  end(how: ProcessEnd, at: number): void {
    this.at = at;
    if (!this.stdinClosed) this.decoders.stdin.end();
    this.decoders.stdout.end();
    this.stderr.end();
    const ex = this.exchange;
    ex.endedAt = at;
    if (how.kind === 'exited') {
      ex.status = how.code;
      if (how.code !== 0) ex.failure = { kind: 'process-exited', code: how.code };
    } else if (how.kind === 'signal') {
      ex.status = how.code;
      ex.failure = { kind: 'process-killed', signal: how.signal };
    } else {
      ex.status = 127;
      ex.failure = { kind: 'process-not-started', detail: how.error };
    }
    const stopped = this.forwardedSignal != null && !this.stdinClosed;
    this.engine.streams.closed(ex.id, this.stdinClosed ? 'client' : stopped ? 'proxy' : 'server', at);
    this.engine.hub.emit('exchange', ex);
    const reason = how.kind === 'failed' ? 'spawn-failed' : this.stdinClosed ? 'stdin-closed' : stopped ? 'proxy-stopped' : how.kind === 'signal' ? 'killed' : 'exited';
    this.engine.tracker.end(this.session.id, reason, at);
  }

  private record(direction: Direction, channel: 'stdin' | 'stdout' | 'stderr', messages: DecodedMessage[]): void {
    if (channel === 'stdout') this.engine.streams.event(this.exchange.id, 'message', this.at);
    this.engine.tracker.record(this.session.id, this.exchange.id, direction, channel, messages, this.at);
  }
}

/** A stderr line; its head is the subject too, so that lists without payloads (the TUI's timeline) show it (the tracker cuts it again from the scrubbed text). */
function logLine(text: string, size: number): DecodedMessage {
  return { kind: 'log', rpcId: null, method: null, subject: text.slice(0, 200), isError: false, errorCode: null, decodeError: null, value: undefined, text, batchIndex: null, size };
}
