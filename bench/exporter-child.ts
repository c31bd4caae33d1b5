/**
 * Child process: the exporter's own code, driven by the benchmark. Either only the poller (scenario 1:
 * no HTTP server in the way), or the whole exporter (`startExporter`) serving /metrics.
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { request } from 'undici';
import type { ResolvedConfig } from '../src/config/load.js';
import { signRequest } from '../src/cph/signer.js';
import { validateListEncodeServersResponse } from '../src/cph/validate.js';
import { createClient, startExporter, type RunningExporter } from '../src/exporter.js';
import { silentLogger } from '../src/log/logger.js';
import { TargetSeriesBuilder } from '../src/metrics/convert.js';
import { estateFamilies } from '../src/metrics/resources.js';
import { SelfMetrics, type TargetHealth } from '../src/metrics/self.js';
import { Poller } from '../src/poller/poll.js';
import { SnapshotStore } from '../src/poller/store.js';
import { AccessPortsBuilder } from '../src/sd/access-ports.js';
import { PreparedAccessPorts } from '../src/sd/prepared.js';
import { DEFAULT_SD_QUERY } from '../src/sd/query.js';
import { serveCommands } from './ipc.js';
import { BENCH_CREDENTIALS, BENCH_PROJECT, benchConfig, type PollSettings } from './setup.js';

export interface PollMeasurement {
  wallMs: number;
  /** CPU time of the whole process (user + system, every thread) during the poll. */
  cpuMs: number;
  /** Garbage-collection pauses of the main thread during the poll (concurrent GC work is in cpuMs only). */
  gcPauseMs: number;
}

export interface MemoryMeasurement {
  rssMiB: number;
  heapTotalMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
  /** Peak resident memory of the process so far. */
  maxRssMiB: number;
}

export interface LoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  samples: number;
}

const credentials = { get: () => BENCH_CREDENTIALS };
const log = silentLogger();

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

let gcPauseMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauseMs += entry.duration;
}).observe({ entryTypes: ['gc'] });

async function measure(run: () => Promise<unknown>): Promise<PollMeasurement> {
  const cpu = cpuMs();
  const gc = gcPauseMs;
  const started = performance.now();
  await run();
  const wallMs = performance.now() - started;
  // GC entries are delivered asynchronously: let the last ones of the poll arrive.
  await new Promise((r) => setImmediate(r));
  return { wallMs, cpuMs: cpuMs() - cpu, gcPauseMs: gcPauseMs - gc };
}

/** The poller and what it needs, without the HTTP server (as `startExporter` wires them). */
function createPoller(config: Readonly<ResolvedConfig>): { poll(): Promise<void>; close(): Promise<void>; store: SnapshotStore; health(): TargetHealth[] } {
  const metrics = new SelfMetrics({ version: 'bench', revision: 'bench' });
  const store = new SnapshotStore({ withInfo: config.metrics.encodeServerInfo, estateFamilies: estateFamilies(config.resources, config.metrics.phoneInfo) });
  const client = createClient(config, metrics.observer);
  const poller = new Poller({ config, client, credentials, store, metrics, log });
  return {
    poll: () => poller.poll(),
    close: async () => {
      await poller.stop();
      await client.close();
    },
    store,
    health: () => poller.health(),
  };
}

function assertPolled(poller: { health(): TargetHealth[] }): void {
  const health = poller.health()[0];
  if (!health?.up) throw new Error(`poll failed: ${health?.resources.map((r) => `${r.resource} ${r.errorReason ?? 'ok'}`).join(', ') ?? 'no outcome'}`);
}

function delayOf(h: ReturnType<typeof monitorEventLoopDelay>): LoopDelay {
  return { p50Ms: h.percentile(50) / 1e6, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6, samples: h.count };
}

let exporter: RunningExporter | undefined;

/** The raw page bodies of the bench project's whole listing. */
async function fetchPages(simUrl: string, pageSize: number): Promise<Buffer[]> {
  const bodies: Buffer[] = [];
  for (let offset = 0; ; offset += pageSize) {
    const url = new URL(`/v1/${BENCH_PROJECT}/cloud-phone/encode-servers?offset=${offset}&limit=${pageSize}`, simUrl);
    const res = await request(url, { headers: signRequest({ method: 'GET', url, headers: {} }, BENCH_CREDENTIALS) });
    const body = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== 200) throw new Error(`page at ${offset}: HTTP ${res.statusCode}`);
    bodies.push(body);
    if ((JSON.parse(body.toString('utf8')) as { encode_servers: unknown[] }).encode_servers.length < pageSize) break;
  }
  return bodies;
}

serveCommands({
  /** Scenario 1: polls with a fresh client and poller per configuration; `repeat` polls, each measured. */
  async pollOnly(args: { simUrl: string; settings: PollSettings; repeat: number }): Promise<PollMeasurement[]> {
    const p = createPoller(benchConfig(args.simUrl, args.settings));
    try {
      const out: PollMeasurement[] = [];
      for (let i = 0; i < args.repeat; i++) {
        out.push(await measure(() => p.poll()));
        assertPolled(p);
        await p.store.resources.prepared?.gzip; // background compression, not part of the poll
      }
      return out;
    } finally {
      await p.close();
    }
  },

  /**
   * Scenario 1: the CPU time to parse and convert one listing, without the network: the raw page
   * bodies are fetched first, then decoded, parsed, validated, converted and published as a poll
   * would. The fastest of `repeat` runs.
   */
  async parseConvertCost(args: { simUrl: string; pageSize: number; repeat: number }): Promise<{ cpuMs: number; wallMs: number; pages: number; servers: number }> {
    const bodies = await fetchPages(args.simUrl, args.pageSize);
    const config = benchConfig(args.simUrl);
    const target = config.targets[0];
    if (!target) throw new Error('no target');
    let best = { cpuMs: Number.POSITIVE_INFINITY, wallMs: Number.POSITIVE_INFINITY, servers: 0 };
    for (let i = 0; i < args.repeat; i++) {
      const store = new SnapshotStore({ withInfo: true });
      const run = await measure(async () => {
        const builder = new TargetSeriesBuilder(target, true);
        for (const body of bodies) builder.add(validateListEncodeServersResponse(JSON.parse(body.toString('utf8')), undefined).encode_servers);
        const series = builder.finish();
        store.publish([series], true);
        best.servers = series.count;
      });
      if (run.cpuMs < best.cpuMs) best = { ...best, cpuMs: run.cpuMs, wallMs: run.wallMs };
      await store.resources.prepared?.gzip;
    }
    return { ...best, pages: bodies.length };
  },

  /**
   * SD scenario: what /sd/access-ports adds to a publication, without the network: collecting one listing's access
   * ports (done during conversion, page by page) and the heap they hold, and rendering and compressing the default
   * answer (in batches, compression off the event loop). The fastest of `repeat` runs of each.
   */
  async sdPrepareCost(args: { simUrl: string; pageSize: number; repeat: number }): Promise<{ servers: number; collectCpuMs: number; retainedMiB: number; gzip: PollMeasurement; gzipBytes: number }> {
    const pages = (await fetchPages(args.simUrl, args.pageSize)).map((b) => validateListEncodeServersResponse(JSON.parse(b.toString('utf8')), undefined).encode_servers);
    const target = benchConfig(args.simUrl).targets[0];
    if (!target) throw new Error('no target');
    let best = { collectCpuMs: Infinity, retainedMiB: 0, gzip: { wallMs: Infinity, cpuMs: Infinity, gcPauseMs: 0 }, gzipBytes: 0 };
    for (let i = 0; i < args.repeat; i++) {
      let ports = new AccessPortsBuilder(target).finish();
      const collect = await measure(async () => {
        const builder = new AccessPortsBuilder(target);
        for (const page of pages) builder.add(page);
        ports = builder.finish();
      });
      // What the collected ports hold: their Buffers and typed arrays (the strings of non-IPv4 hosts are few).
      const bytes32 = ports.servers.byteLength + ports.buckets.reduce((n, b) => n + b.byteLength, 0);
      const retainedMiB = (ports.serverChunks.reduce((n, c) => n + c.length, 0) + bytes32) / 1024 / 1024;
      let bytes = 0;
      const gzip = await measure(async () => {
        bytes = (await new PreparedAccessPorts([ports]).answer(DEFAULT_SD_QUERY).gzip()).length;
      });
      best = {
        collectCpuMs: Math.min(best.collectCpuMs, collect.cpuMs),
        retainedMiB: Math.max(best.retainedMiB, retainedMiB),
        gzip: gzip.wallMs < best.gzip.wallMs ? gzip : best.gzip,
        gzipBytes: bytes,
      };
    }
    return { servers: pages.reduce((n, p) => n + p.length, 0), ...best };
  },

  /** Scenarios 2 to 4: the whole exporter, serving /metrics once its first poll is done. */
  async serve(args: { simUrl: string; settings: PollSettings }): Promise<{ url: string; firstPoll: PollMeasurement; bodyBytes: number }> {
    const config = benchConfig(args.simUrl, args.settings);
    let started: RunningExporter | undefined;
    const firstPoll = await measure(async () => {
      started = await startExporter({ config, credentials, listen: { host: '127.0.0.1', port: 0 }, log, schedule: false });
      await started.firstPoll;
    });
    if (!started) throw new Error('exporter did not start');
    exporter = started;
    assertPolled(exporter);
    const res = await request(`${exporter.url}/metrics`);
    const bodyBytes = (await res.body.arrayBuffer()).byteLength;
    return { url: exporter.url, firstPoll, bodyBytes };
  },

  /** One poll of the running exporter. */
  async poll(): Promise<PollMeasurement> {
    const e = exporter;
    if (!e) throw new Error('serve first');
    const m = await measure(() => e.poll());
    assertPolled(e);
    return m;
  },

  /**
   * Scenario 3: event-loop delay over `seconds`, with polls back to back (or none), as
   * `monitorEventLoopDelay` sees it at prom-client's default resolution of 10 ms.
   */
  async loopDelay(args: { seconds: number; polling: boolean }): Promise<{ delay: LoopDelay; polls: PollMeasurement[] }> {
    const e = exporter;
    if (!e) throw new Error('serve first');
    const h = monitorEventLoopDelay({ resolution: 10 });
    const polls: PollMeasurement[] = [];
    h.enable();
    const end = performance.now() + args.seconds * 1000;
    if (args.polling) {
      while (performance.now() < end) polls.push(await measure(() => e.poll()));
    } else {
      await new Promise((r) => setTimeout(r, args.seconds * 1000));
    }
    h.disable();
    assertPolled(e);
    return { delay: delayOf(h), polls };
  },

  /** Memory now; with `gc`, after two full collections (the child runs with --expose-gc). */
  memory(args: { gc: boolean }): MemoryMeasurement {
    if (args.gc && globalThis.gc) {
      globalThis.gc();
      globalThis.gc();
    }
    const m = process.memoryUsage();
    const MiB = 1024 * 1024;
    return { rssMiB: m.rss / MiB, heapTotalMiB: m.heapTotal / MiB, heapUsedMiB: m.heapUsed / MiB, externalMiB: m.external / MiB, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
  },

  async stop(): Promise<void> {
    await exporter?.stop();
    exporter = undefined;
  },
});
