import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { ATTR } from './semconv.js';
import { toReadableSpan, type TelemetrySpan } from './span.js';

export interface OtlpOptions {
  /** The traces endpoint (`…/v1/traces`); absent: the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT. */
  url?: string;
  /** Spans waiting at most; beyond it new spans are dropped and counted. */
  maxQueue?: number;
  maxBatch?: number;
  /** How often a partial batch is sent. */
  intervalMs?: number;
  /** One export, retries included (the library retries refused connections and 429/502/503/504 with back-off). */
  timeoutMs?: number;
  serviceName?: string;
  warn?: (message: string) => void;
}

export interface ExporterStats {
  queued: number;
  exported: number;
  /** Spans lost: the queue was full, or their batch failed after its retries. */
  dropped: number;
  failedBatches: number;
}

/**
 * Spans on their way to an OTLP collector, beside the traffic, never in its way: a bounded queue, one
 * batch in flight at a time through the OpenTelemetry HTTP exporter (which retries with back-off). A
 * dead or slow collector costs dropped spans, counted, with one warning; `push` never waits or throws.
 * Not the SDK's BatchSpanProcessor: it drops silently (no count to give Prometheus or the user).
 */
export class OtlpSpanQueue {
  private readonly queue: TelemetrySpan[] = [];
  private readonly exporter: OTLPTraceExporter;
  private readonly resource: Resource;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly timer: NodeJS.Timeout;
  private inFlight: Promise<void> | null = null;
  private warned = false;
  private closed = false;
  readonly counts: ExporterStats = { queued: 0, exported: 0, dropped: 0, failedBatches: 0 };

  constructor(private readonly opts: OtlpOptions = {}) {
    this.exporter = new OTLPTraceExporter({ url: opts.url, timeoutMillis: opts.timeoutMs ?? 10_000, concurrencyLimit: 2 });
    this.resource = resourceFromAttributes({ [ATTR.serviceName]: opts.serviceName ?? (process.env.OTEL_SERVICE_NAME || 'mcptap') });
    this.maxQueue = opts.maxQueue ?? 4096;
    this.maxBatch = opts.maxBatch ?? 512;
    this.timer = setInterval(() => this.send(), opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  push(span: TelemetrySpan): void {
    if (this.closed) return;
    if (this.queue.length >= this.maxQueue) {
      this.drop(1, 'the export queue is full (the collector is slow or unreachable)');
      return;
    }
    this.queue.push(span);
    this.counts.queued++;
    if (this.queue.length >= this.maxBatch && !this.inFlight) setImmediate(() => this.send());
  }

  stats(): ExporterStats & { waiting: number } {
    return { ...this.counts, waiting: this.queue.length };
  }

  /** Sends everything queued, batch after batch; resolves when the last one settled. */
  async flush(): Promise<void> {
    while (this.inFlight || this.queue.length) {
      if (this.inFlight) await this.inFlight;
      else this.send();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    this.closed = true;
    await this.exporter.shutdown().catch(() => {});
  }

  private send(): void {
    if (this.inFlight || !this.queue.length) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.inFlight = new Promise<void>((resolve) => {
      try {
        this.exporter.export(batch.map((s) => toReadableSpan(s, this.resource)), (r) => {
          if (r.code === ExportResultCode.SUCCESS) this.counts.exported += batch.length;
          else {
            this.counts.failedBatches++;
            this.drop(batch.length, `the collector did not take ${batch.length} spans (${r.error?.message ?? 'export failed'})`);
          }
          resolve();
        });
      } catch (e) {
        this.counts.failedBatches++;
        this.drop(batch.length, (e as Error).message);
        resolve();
      }
    }).finally(() => {
      this.inFlight = null;
      if (this.queue.length >= this.maxBatch) setImmediate(() => this.send());
    });
  }

  private drop(n: number, why: string): void {
    this.counts.dropped += n;
    if (this.warned) return;
    this.warned = true;
    this.opts.warn?.(`OTLP export: dropping spans: ${why}; traffic is unaffected (said once; the count is in the stop line and /metrics)`);
  }
}
