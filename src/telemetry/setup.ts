import type { CaptureHub } from '../capture/hub.js';
import type { Finding } from '../analysis/checks/types.js';
import { UsageError } from '../errors.js';
import { OtlpSpanQueue, type ExporterStats, type OtlpOptions } from './exporter.js';
import { attachTelemetry, type LiveTelemetry } from './live.js';
import { SpanHold } from './hold.js';
import { ProxyMetrics, parseListen, serveMetrics, type MetricsServer, type MetricsSources } from './metrics.js';

/**
 * The traces endpoint to send to: `--otlp URL` (a bare origin gets the standard `/v1/traces`), else
 * whatever OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT say (the exporter reads them
 * itself, and OTEL_EXPORTER_OTLP_HEADERS in both cases). Null: no export.
 */
export function resolveOtlp(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): { url: string | undefined } | null {
  if (flag != null) {
    let u: URL;
    try {
      u = new URL(flag);
    } catch {
      throw new UsageError(`--otlp needs an http(s) URL, e.g. http://127.0.0.1:4318 (got '${flag}')`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--otlp needs an http(s) URL (OTLP over HTTP), got '${flag}'`);
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/traces';
    return { url: u.toString() };
  }
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT) return { url: undefined };
  return null;
}

export function parseMetricsListen(v: string): { host: string; port: number } {
  const l = parseListen(v);
  if (!l) throw new UsageError(`--metrics needs [HOST:]PORT, e.g. 9464 or 127.0.0.1:9464 (got '${v}')`);
  return l;
}

export interface TelemetryOptions {
  otlp?: { url: string | undefined } | null;
  metrics?: { host: string; port: number } | null;
  payloads?: boolean;
  warn: (message: string) => void;
  records?: MetricsSources['records'];
  /** How long finished spans wait for live findings before export (default 2 s). */
  holdMs?: number;
  /** Queue and timing of the exporter (tests make a dead collector fail fast). */
  exporter?: Omit<OtlpOptions, 'url' | 'warn'>;
}

export interface RunningTelemetry {
  metricsUrl: string | null;
  exporter: OtlpSpanQueue | null;
  onFinding(f: Finding): void;
  stats(): (ExporterStats & { waiting: number }) | null;
  /** Ends open spans and sends what is queued, waiting at most `graceMs` for a slow collector. */
  close(graceMs?: number): Promise<void>;
}

/** Traces and metrics beside a proxy or wrap, fed by its hub; nothing here is on the forwarding path. */
export async function startTelemetry(hub: CaptureHub, opts: TelemetryOptions): Promise<RunningTelemetry | null> {
  if (!opts.otlp && !opts.metrics) return null;
  const exporter = opts.otlp ? new OtlpSpanQueue({ ...opts.exporter, url: opts.otlp.url, warn: opts.warn }) : null;
  let live: LiveTelemetry | null = null;
  const metrics = opts.metrics ? new ProxyMetrics(hub, { inFlight: () => live?.inFlight() ?? 0, records: opts.records, exporterDropped: () => exporter?.counts.dropped ?? 0 }) : null;
  let server: MetricsServer | null = null;
  if (metrics && opts.metrics) {
    try {
      server = await serveMetrics(metrics, opts.metrics);
    } catch (e) {
      await exporter?.close();
      throw new UsageError(`--metrics: cannot listen on ${opts.metrics.host}:${opts.metrics.port} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  // Metrics see each span at once; the exporter after a short hold, so live findings can ride on them.
  const hold = exporter ? new SpanHold((s) => exporter.push(s), { holdMs: opts.holdMs }) : null;
  live = attachTelemetry(hub, (s) => {
    hold?.push(s);
    metrics?.observeSpan(s);
  }, { payloads: opts.payloads });
  return {
    metricsUrl: server?.url ?? null,
    exporter,
    onFinding: (f) => {
      metrics?.observeFinding(f);
      hold?.finding(f);
    },
    stats: () => exporter?.stats() ?? null,
    async close(graceMs = 3000) {
      live?.finish();
      live?.stop();
      hold?.drain();
      if (exporter) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exporter.close(), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
        clearTimeout(timer);
      }
      await server?.close();
    },
  };
}
