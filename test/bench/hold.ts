import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NODE_FLAGS } from '../../src/proxy/heap.js';
import type { TransportKind } from '../helpers/peers.js';
import { child, median, run, stop, type PathFigures } from './throughput.js';

// `proxy --hold` with a filter that matches nothing, against the same proxy without --hold, in one run:
// what intercepting costs the traffic it lets through. `c2s`: a client-side filter (each POST body is
// read whole before it goes upstream; WebSocket frames go through the client's gate); `s2c`: dir:s2c
// (the server's events and frames are cut one message at a time and matched).

const ROUNDS = 5;
const FILTERS = { c2s: 'method:tools/call tool:never-called', s2c: 'dir:s2c method:tools/call tool:never-called' } as const;
type Mode = 'plain' | keyof typeof FILTERS;

export interface HoldFigures {
  transport: TransportKind;
  clients: number;
  /** The median round of each mode by calls/s. */
  modes: Record<Mode, PathFigures>;
  /** Each hold mode's calls/s over the plain proxy's: the median of the rounds' ratios. */
  ratio: Record<keyof typeof FILTERS, number>;
  /** Each hold mode's p50 minus the plain proxy's, the median over the rounds (ms). */
  addedP50: Record<keyof typeof FILTERS, number>;
}

export async function benchHold(opts: { seconds?: number; transports?: TransportKind[] } = {}): Promise<HoldFigures[]> {
  const seconds = opts.seconds ?? 1.5;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-bench-hold-'));
  const servers = await child('server-peer.js', []);
  const out: HoldFigures[] = [];
  try {
    for (const kind of opts.transports ?? (['streamable-http', 'sse', 'websocket'] as TransportKind[])) {
      const target = servers.msg[kind];
      const procs = {
        plain: await child('mcptap-proxy.js', [target, path.join(dir, `${kind}-plain.db`)], NODE_FLAGS),
        c2s: await child('mcptap-proxy.js', [target, path.join(dir, `${kind}-c2s.db`)], NODE_FLAGS, { MCPTAP_BENCH_INTERCEPT: FILTERS.c2s }),
        s2c: await child('mcptap-proxy.js', [target, path.join(dir, `${kind}-s2c.db`)], NODE_FLAGS, { MCPTAP_BENCH_INTERCEPT: FILTERS.s2c }),
      };
      for (const clients of [1, 20]) {
        const rounds: Record<Mode, PathFigures[]> = { plain: [], c2s: [], s2c: [] };
        for (let r = 0; r < ROUNDS; r++) {
          for (const mode of ['plain', 'c2s', 's2c'] as const) {
            rounds[mode].push(await run(kind, procs[mode].msg.url, clients, seconds, procs[mode].proc, { cut: 0, dropped: 0, pending: 0 }));
          }
        }
        const pick = (xs: PathFigures[]) => [...xs].sort((a, b) => a.callsPerSec - b.callsPerSec)[Math.floor(xs.length / 2)];
        const ratio = (m: keyof typeof FILTERS) => median(rounds[m].map((x, i) => x.callsPerSec / rounds.plain[i].callsPerSec));
        const added = (m: keyof typeof FILTERS) => median(rounds[m].map((x, i) => x.p50 - rounds.plain[i].p50));
        out.push({
          transport: kind, clients,
          modes: { plain: pick(rounds.plain), c2s: pick(rounds.c2s), s2c: pick(rounds.s2c) },
          ratio: { c2s: ratio('c2s'), s2c: ratio('s2c') },
          addedP50: { c2s: added('c2s'), s2c: added('s2c') },
        });
      }
      for (const p of Object.values(procs)) await stop(p.proc);
    }
  } finally {
    await stop(servers.proc);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
