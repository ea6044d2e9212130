#!/usr/bin/env node
// Runs the whole test suite N times in a row (default 5) while two CPU-burning processes run beside
// it, as on a busy machine; stops at the first failing run. Usage: node test/load/under-load.mjs [runs]
import { spawn, spawnSync } from 'node:child_process';

const runs = Number(process.argv[2] ?? 5);
const burn = 'for (;;) Math.sqrt(Math.random());';
const burners = [0, 1].map(() => spawn(process.execPath, ['-e', burn], { stdio: 'ignore' }));
const stop = () => burners.forEach((b) => b.kill('SIGKILL'));
process.on('exit', stop);
process.on('SIGINT', () => process.exit(130));

let status = 0;
for (let i = 1; i <= runs && status === 0; i++) {
  const t0 = Date.now();
  const r = spawnSync('npm', ['test'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  status = r.status ?? 1;
  const summary = (r.stdout + r.stderr).split('\n').filter((l) => /Test Files|Tests |FAIL|×/.test(l)).join('\n');
  console.log(`run ${i}/${runs}: ${status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(0)} s, 2 CPU burners beside it\n${summary}`);
  if (status !== 0) console.log(r.stdout.slice(-20000), '\n--- stderr ---\n', r.stderr.slice(-40000));
}
stop();
process.exit(status);
