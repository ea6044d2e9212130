import v8 from 'node:v8';

// What the bench's proxy children share: report CPU time and allocations on request, write out what was
// captured on 'flush' (answering with what the proxy says it has stored), stop on 'stop'.
//
// Allocations are bytes allocated on the main thread's JS heap between 'cpu-start' and 'cpu-read': the
// heap's growth plus what each GC in between freed (V8's GC profiler gives the heap before and after each
// one). Garbage and kept objects count alike; buffers' bytes outside the heap (and the database thread's
// heap) do not.
export function serveBenchChild(stop: () => Promise<void>, flush: () => Promise<Record<string, number>> = async () => ({})): void {
  let base = process.cpuUsage();
  let profiler: v8.GCProfiler | null = null;
  let heapAtStart = 0;
  process.on('message', async (m) => {
    if (m === 'cpu-start') {
      profiler?.stop();
      profiler = new v8.GCProfiler();
      profiler.start();
      heapAtStart = v8.getHeapStatistics().used_heap_size;
      base = process.cpuUsage();
      process.send!({ cpu: 'started' });
    } else if (m === 'cpu-read') {
      const u = process.cpuUsage(base);
      const heapNow = v8.getHeapStatistics().used_heap_size;
      const gcs = profiler?.stop()?.statistics ?? [];
      profiler = null;
      const freed = gcs.reduce((n, g) => n + g.beforeGC.heapStatistics.usedHeapSize - g.afterGC.heapStatistics.usedHeapSize, 0);
      process.send!({ cpuMicros: u.user + u.system, allocatedBytes: heapNow - heapAtStart + freed });
    } else if (m === 'flush') {
      process.send!(await flush());
    } else if (m === 'stop') {
      await stop();
      process.exit(0);
    }
  });
}
