import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureStore } from '../src/store/read.js';
import { writeRecording } from '../src/store/jsonl.js';
import { playScenario, SCENARIOS } from './helpers/check-scenarios.js';

// Records the check scenarios (test/helpers/check-scenarios.ts) from real peers through the proxy, one
// JSONL recording per session, redacted as every capture is:
// `npx tsc -p tsconfig.json && node dist/test/record-check-scenarios.js [NAME…]`.

const root = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const outDir = path.join(root, 'test/fixtures/check-scenarios');
fs.mkdirSync(outDir, { recursive: true });
const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(SCENARIOS);
for (const name of names) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-scenario-'));
  const db = path.join(dir, 'scenario.db');
  const sessions = await playScenario(name, db);
  const store = CaptureStore.open(db, { readonly: true });
  for (const f of fs.readdirSync(outDir).filter((f) => f.startsWith(name + '.'))) fs.rmSync(path.join(outDir, f));
  sessions.forEach((id, i) => writeRecording(store, id, path.join(outDir, `${name}.${i + 1}.jsonl`)));
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`${name}: ${sessions.length} session(s)`);
}
