import type { CaptureStore } from '../store/read.js';
import type { Session } from '../model/model.js';
import { OtlpSpanQueue } from '../telemetry/exporter.js';
import { recordedSpans } from '../telemetry/recorded.js';
import { EXIT } from '../errors.js';

/**
 * `mcptap export … --otlp`: recorded sessions as spans with their recorded times, sent batch after batch
 * (nothing dropped for a full queue: nothing waits on this but the person who ran it). Exit 1 when the
 * collector did not take them all.
 */
export async function exportOtlp(store: CaptureStore, sessions: Session[], otlp: { url: string | undefined }, payloads: boolean): Promise<number> {
  const spans = recordedSpans(store, sessions, { payloads });
  const warnings: string[] = [];
  const q = new OtlpSpanQueue({ url: otlp.url, maxQueue: Number.MAX_SAFE_INTEGER, warn: (m) => warnings.push(m) });
  // Chunk by chunk: a collector that refused one batch (after the exporter's retries) is not sent the rest.
  const CHUNK = 2048;
  for (let i = 0; i < spans.length && !q.stats().failedBatches; i += CHUNK) {
    for (const s of spans.slice(i, i + CHUNK)) q.push(s);
    await q.flush();
  }
  await q.close();
  const st = q.stats();
  const traces = new Set(spans.map((s) => s.traceId)).size;
  const where = otlp.url ?? 'the collector in OTEL_EXPORTER_OTLP_ENDPOINT';
  if (st.dropped || st.exported < spans.length) {
    process.stderr.write(`mcptap: ${warnings[0] ?? 'export failed'}\nmcptap: sent ${st.exported} of ${spans.length} spans to ${where}\n`);
    return EXIT.found;
  }
  process.stderr.write(`sent ${spans.length} spans in ${traces} traces of ${sessions.length} session${sessions.length === 1 ? '' : 's'} to ${where}\n`);
  return EXIT.ok;
}
