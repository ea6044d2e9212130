// What the bench's proxy children share: report CPU time on request, stop on 'stop'.
export function serveBenchChild(stop: () => Promise<void>): void {
  let base = process.cpuUsage();
  process.on('message', async (m) => {
    if (m === 'cpu-start') {
      base = process.cpuUsage();
      process.send!({ cpu: 'started' });
    } else if (m === 'cpu-read') {
      const u = process.cpuUsage(base);
      process.send!({ cpuMicros: u.user + u.system });
    } else if (m === 'stop') {
      await stop();
      process.exit(0);
    }
  });
}
