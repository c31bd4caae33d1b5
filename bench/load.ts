/**
 * Closed-loop scrapers for the scrape scenarios: `connections` clients, each sending its next GET as
 * soon as the previous answer is read, for `seconds`. Requests still in flight when time is up are
 * aborted and not counted, as autocannon does.
 *
 * Why not autocannon: autocannon 8 appends every response body to a JavaScript string
 * (`req.body += data`, lib/pipelinedRequestsQueue.js). With a 16 MB body its process saturates a
 * core long before the server does, so it measures itself; `clientCheck` shows it in each run.
 * undici's parser (llhttp) hands the body over in buffers, which are counted and dropped.
 */
import { setMaxListeners } from 'node:events';
import { createHistogram } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { Pool } from 'undici';

export interface LoadFigures {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  completed: number;
  errors: number;
  bytesPerResponse: number;
  /** CPU used by the load generator's process, as a share of one core. */
  clientCpu: number;
}

export async function load(url: string, connections: number, seconds: number, headers: Record<string, string> = {}): Promise<LoadFigures> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000 });
  const latencyUs = createHistogram();
  const stop = new AbortController();
  setMaxListeners(connections + 10, stop.signal); // one per request in flight
  let completed = 0;
  let errors = 0;
  let bytes = 0;
  const cpu = process.cpuUsage();
  const timer = setTimeout(() => stop.abort(), seconds * 1000);
  const client = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      const started = performance.now();
      try {
        const res = await pool.request({ method: 'GET', path: `${target.pathname}${target.search}`, headers, signal: stop.signal });
        let size = 0;
        for await (const chunk of res.body) size += (chunk as Buffer).length;
        if (res.statusCode !== 200) {
          errors++;
          continue;
        }
        completed++;
        bytes += size;
        latencyUs.record(Math.max(1, Math.round((performance.now() - started) * 1000)));
      } catch {
        if (!stop.signal.aborted) errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, client));
  clearTimeout(timer);
  const used = process.cpuUsage(cpu);
  await pool.destroy();
  return {
    reqPerSec: completed / seconds,
    p50Ms: completed > 0 ? latencyUs.percentile(50) / 1000 : 0,
    p99Ms: completed > 0 ? latencyUs.percentile(99) / 1000 : 0,
    completed,
    errors,
    bytesPerResponse: completed > 0 ? bytes / completed : 0,
    clientCpu: (used.user + used.system) / 1e6 / seconds,
  };
}

/** The same load from autocannon, to show in the report where it stops measuring the server. */
export async function loadWithAutocannon(url: string, connections: number, seconds: number): Promise<Pick<LoadFigures, 'reqPerSec' | 'clientCpu'>> {
  const cpu = process.cpuUsage();
  const r = await autocannon({ url, connections, duration: seconds, timeout: 30 });
  const used = process.cpuUsage(cpu);
  return { reqPerSec: r['2xx'] / r.duration, clientCpu: (used.user + used.system) / 1e6 / r.duration };
}
