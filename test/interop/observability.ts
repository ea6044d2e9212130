import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { HERE, INTEROP_HOME, freePort, startChild, type Child } from './peers.js';

// The trace and metrics backends of the interop suite, started by the tests on loopback ports: Jaeger v2
// (built by setup.sh from the Go module proxy) and Debian's Prometheus.

/** The pin setup.sh builds (read from pins.sh, so the two never disagree). */
export const JAEGER_PIN = /^JAEGER_PIN=(\S+)/m.exec(fs.readFileSync(path.join(HERE, 'pins.sh'), 'utf8'))?.[1] ?? '';

/** The Jaeger binary setup.sh built; a one-line error when it is missing. */
export function jaegerProgram(): string {
  const bin = path.join(INTEROP_HOME, `jaeger-${JAEGER_PIN}`, 'jaeger');
  if (!fs.existsSync(bin)) throw new Error(`interop: Jaeger ${JAEGER_PIN} is not built (run bash test/interop/setup.sh; its log: ${bin}.log)`);
  return bin;
}

/** Debian's prometheus and promtool; a one-line error when they are missing. */
export function prometheusPrograms(): { prometheus: string; promtool: string } {
  const find = (p: string) => {
    try {
      return execFileSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8' }).trim();
    } catch {
      throw new Error(`interop: ${p} is not installed (run bash test/interop/setup.sh, which installs Debian's prometheus)`);
    }
  };
  return { prometheus: find('prometheus'), promtool: find('promtool') };
}

/**
 * The Jaeger configuration the tests (and the README) use: the all-in-one's pipeline cut to an OTLP/HTTP
 * receiver, in-memory storage and the query service, every port on 127.0.0.1, no self-telemetry port.
 */
export function jaegerConfig(p: { otlp: number; query: number; queryGrpc: number }): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memstore
    max_clock_skew_adjust: 0s
    http:
      endpoint: 127.0.0.1:${p.query}
    grpc:
      endpoint: 127.0.0.1:${p.queryGrpc}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${p.otlp}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

export interface Jaeger extends Child {
  /** Where spans go (`mcptap proxy --otlp`). */
  otlp: string;
  /** The query service (`/api/traces`). */
  query: string;
}

export async function startJaeger(dir: string): Promise<Jaeger> {
  const ports = { otlp: await freePort(), query: await freePort(), queryGrpc: await freePort() };
  const file = path.join(dir, 'jaeger.yaml');
  fs.writeFileSync(file, jaegerConfig(ports));
  const query = `http://127.0.0.1:${ports.query}`;
  const child = await startChild(`Jaeger ${JAEGER_PIN}`, jaegerProgram(), ['--config', file], { port: ports.query, readyUrl: `${query}/api/services`, ready: (s) => s === 200, ms: 60_000 });
  return { ...child, otlp: `http://127.0.0.1:${ports.otlp}`, query };
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  startTime: number;
  duration: number;
  tags: Array<{ key: string; type: string; value: unknown }>;
  logs: Array<{ timestamp: number; fields: Array<{ key: string; value: unknown }> }>;
}

/** Every span of a service, read back through Jaeger's own query API. */
export async function jaegerSpans(query: string, service: string): Promise<JaegerSpan[]> {
  const r = await fetch(`${query}/api/traces?service=${encodeURIComponent(service)}&limit=1000&lookback=custom&start=0`);
  if (!r.ok) return [];
  const body = (await r.json()) as { data: Array<{ spans: JaegerSpan[] }> | null };
  return (body.data ?? []).flatMap((t) => t.spans);
}

export const tag = (s: JaegerSpan, key: string): unknown => s.tags.find((t) => t.key === key)?.value;
export const parentOf = (s: JaegerSpan): string | null => s.references.find((r) => r.refType === 'CHILD_OF')?.spanID ?? null;

/** A Prometheus scraping `target` (HOST:PORT) every second, its data in `dir`. */
export async function startPrometheus(dir: string, target: string): Promise<Child> {
  const { prometheus } = prometheusPrograms();
  const port = await freePort();
  const config = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(config, `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: mcptap\n    static_configs:\n      - targets: ['${target}']\n`);
  return startChild('Prometheus', prometheus, [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`], {
    port, readyUrl: `http://127.0.0.1:${port}/-/ready`, ready: (s) => s === 200, ms: 60_000,
  });
}

/** A PromQL instant query's first value, or null when it has none yet. */
export async function promQuery(base: string, q: string): Promise<number | null> {
  const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  if (!r.ok) return null;
  const body = (await r.json()) as { data?: { result?: Array<{ value: [number, string] }> } };
  const v = body.data?.result?.[0]?.value?.[1];
  return v == null ? null : Number(v);
}
