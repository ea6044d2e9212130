// What the bench's proxy children share: report CPU time on request, write out what was captured on
// 'flush' (answering with what the proxy says it has stored), stop on 'stop'.
export function serveBenchChild(stop: () => Promise<void>, flush: () => Promise<Record<string, number>> = async () => ({})): void {
  let base = process.cpuUsage();
  process.on('message', async (m) => {
    if (m === 'cpu-start') {
      base = process.cpuUsage();
      process.send!({ cpu: 'started' });
    } else if (m === 'cpu-read') {
      const u = process.cpuUsage(base);
      process.send!({ cpuMicros: u.user + u.system });
    } else if (m === 'flush') {
      process.send!(await flush());
    } else if (m === 'stop') {
      await stop();
      process.exit(0);
    }
  });
}
