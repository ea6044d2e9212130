import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temp folder and a database path in it; removed by the returned cleanup. */
export function tempDb(name = 'captures.db'): { dir: string; db: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcptap-test-'));
  return { dir, db: path.join(dir, name), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Resolves when `pred` holds, polling on each event-loop turn; rejects with `what` after the deadline. */
export async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
