/**
 * The four scenarios of issue 6. Each starts its own child processes (simulator, exporter, reference
 * servers), measures side by side, stops them and returns plain figures; `report.ts` turns them
 * into ratios and text. Loads stop after their duration, polls by their deadline, and bench/run.ts
 * ends everything if the run outlives its watchdog.
 */
import type { LoopDelay, MemoryMeasurement, PollMeasurement } from './exporter-child.js';
import { Child } from './ipc.js';
import { load, type LoadFigures, loadWithAutocannon } from './load.js';
import { benchConfig, type PollSettings } from './setup.js';

/** Where the compiled children live (see bench/tsconfig.json). */
export interface Paths {
  sim: string;
  exporter: string;
  naive: string;
  bare: string;
}

/** Lifts the client-side token bucket out of the way: 200/s is the schema's maximum, and a burst of
 * 1000 covers every request of a 200-page poll, so the bucket never delays one. */
export const LIFTED = { requestsPerSecond: 200, burst: 1000 } as const;

const PAGE_SIZE = 100;

async function using<T>(children: Promise<Child>[], body: (c: Child[]) => Promise<T>): Promise<T> {
  const started = await Promise.allSettled(children);
  const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return await body(ok);
  } finally {
    await Promise.all(ok.map((c) => c.stop()));
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

// ---- 1. Poll against the latency bound -------------------------------------------------------------

export interface PollRow {
  label: string;
  /** `sequential`: one page at a time; `default`: the default configuration with the limiter lifted; `shipped`: all defaults. */
  kind: 'sequential' | 'sweep' | 'default' | 'shipped';
  concurrency: number;
  settings: PollSettings;
  /** Median of the measured polls. */
  wallMs: number;
  cpuMs: number;
  runs: number;
  /** Deepest chain of round trips the simulator saw in one poll (first page alone included). */
  roundTrips: number;
  requests: number;
}

export interface PollResult {
  /** The configuration's defaults, as the schema gives them. */
  defaults: { concurrency: number; requestsPerSecond: number; burst: number };
  servers: number;
  pages: number;
  latencyMs: number;
  /** CPU time to decode, parse, validate, convert and publish the listing, without the network. */
  parseConvertCpuMs: number;
  rows: PollRow[];
}

export async function pollScenario(paths: Paths, log: (s: string) => void): Promise<PollResult> {
  const servers = 20_000;
  const latencyMs = 50;
  return using([Child.start('simulator', paths.sim, {}), Child.start('exporter', paths.exporter, {})], async ([sim, exporter]) => {
    if (!sim || !exporter) throw new Error('children missing');
    const simUrl = await sim.request<string>('start', { encodeServers: servers, latencyMs });
    log('parse + convert cost');
    const cost = await exporter.request<{ cpuMs: number; pages: number; servers: number }>('parseConvertCost', { simUrl, pageSize: PAGE_SIZE, repeat: 3 });
    if (cost.servers !== servers) throw new Error(`listed ${cost.servers} servers, expected ${servers}`);
    // Warm-up: JIT, connection set-up code paths.
    await exporter.request('pollOnly', { simUrl, settings: { concurrency: 64, ...LIFTED }, repeat: 1 });

    const d = benchConfig(simUrl);
    const defaults = { concurrency: d.poll.concurrency, requestsPerSecond: d.api.requestsPerSecond, burst: d.api.burst };
    const configs: { label: string; kind: PollRow['kind']; settings: PollSettings; runs: number }[] = [
      { label: 'concurrency 1 (one page at a time)', kind: 'sequential', settings: { concurrency: 1, ...LIFTED }, runs: 1 },
      { label: 'concurrency 4', kind: 'sweep', settings: { concurrency: 4, ...LIFTED }, runs: 3 },
      { label: 'concurrency 16', kind: 'sweep', settings: { concurrency: 16, ...LIFTED }, runs: 3 },
      { label: 'concurrency 64', kind: 'sweep', settings: { concurrency: 64, ...LIFTED }, runs: 3 },
      { label: `default configuration (concurrency ${defaults.concurrency}), limiter lifted`, kind: 'default', settings: { ...LIFTED }, runs: 3 },
      {
        label: `shipped defaults (concurrency ${defaults.concurrency}, ${defaults.requestsPerSecond} req/s, burst ${defaults.burst})`,
        kind: 'shipped',
        settings: {},
        runs: 1,
      },
    ];
    const rows: PollRow[] = [];
    for (const c of configs) {
      log(c.label);
      const polls: PollMeasurement[] = [];
      let roundTrips = 0;
      let requests = 0;
      for (let i = 0; i < c.runs; i++) {
        await exporter.idle();
        await sim.request('resetStats');
        const [m] = await exporter.request<PollMeasurement[]>('pollOnly', { simUrl, settings: c.settings, repeat: 1 });
        if (!m) throw new Error('no measurement');
        polls.push(m);
        const stats = await sim.request<{ maxDepth: number; totalRequests: number; throttled: number }>('stats');
        if (stats.throttled > 0) throw new Error('the simulator throttled the poll');
        roundTrips = Math.max(roundTrips, stats.maxDepth);
        requests = Math.max(requests, stats.totalRequests);
      }
      rows.push({
        label: c.label,
        kind: c.kind,
        concurrency: c.settings.concurrency ?? defaults.concurrency,
        settings: c.settings,
        wallMs: median(polls.map((p) => p.wallMs)),
        cpuMs: median(polls.map((p) => p.cpuMs)),
        runs: c.runs,
        roundTrips,
        requests,
      });
    }
    return { defaults, servers, pages: servers / PAGE_SIZE, latencyMs, parseConvertCpuMs: cost.cpuMs, rows };
  });
}

// ---- 2. Scrape cost, and 3. poll impact on scrapes --------------------------------------------------

export interface ScrapeRow {
  server: 'exporter' | 'bare' | 'naive';
  gzip: boolean;
  /** Bare and exporter run twice, alternating, so that a slow moment of the shared machine hits both. */
  round: number;
  load: LoadFigures;
}

export interface ScrapeResult {
  servers: number;
  connections: number;
  seconds: number;
  plainBytes: number;
  gzipBytes: number;
  naiveBytes: number;
  rows: ScrapeRow[];
  /** The bare server, plain, loaded by autocannon and by our client for the same time. */
  clientCheck: { seconds: number; autocannon: { reqPerSec: number; clientCpu: number }; undici: LoadFigures };
}

export type { LoadFigures };

export interface ImpactRow {
  label: string;
  polling: boolean;
  scrapers: number;
  delay: LoopDelay;
  /** The same window in an idle process (the bare server, unused). */
  control: LoopDelay;
  load?: LoadFigures | undefined;
  polls: number;
  pollWallMs: number;
}

export interface ImpactResult {
  servers: number;
  seconds: number;
  rows: ImpactRow[];
}

const GZIP = { 'accept-encoding': 'gzip' };

export async function scrapeAndImpactScenarios(paths: Paths, log: (s: string) => void): Promise<{ scrape: ScrapeResult; impact: ImpactResult }> {
  const servers = 20_000;
  const connections = 64;
  const seconds = 4;
  return using(
    [Child.start('simulator', paths.sim, {}), Child.start('exporter', paths.exporter, {}), Child.start('naive', paths.naive, {}), Child.start('bare', paths.bare, {})],
    async ([sim, exporter, naive, bare]) => {
      if (!sim || !exporter || !naive || !bare) throw new Error('children missing');
      // No simulated latency: the poll in scenario 3 is then all CPU, the worst case for scrapes.
      const simUrl = await sim.request<string>('start', { encodeServers: servers, latencyMs: 0 });
      const served = await exporter.request<{ url: string }>('serve', { simUrl, settings: { concurrency: 16, ...LIFTED } });
      const naiveServed = await naive.request<{ url: string; bodyBytes: number }>('start', { simUrl });
      const bareServed = await bare.request<{ url: string; plainBytes: number; gzipBytes: number }>('start', { exporterUrl: served.url });
      const urls = { exporter: served.url, bare: bareServed.url, naive: naiveServed.url };

      const idle = (): Promise<unknown> => Promise.all([exporter, bare, naive].map((c) => c.idle()));

      log('scrapes: load generators compared on the bare server');
      const checkSeconds = 3;
      await idle();
      const viaAutocannon = await loadWithAutocannon(`${urls.bare}/metrics`, connections, checkSeconds);
      await idle();
      const viaUndici = await load(`${urls.bare}/metrics`, connections, checkSeconds);

      const rows: ScrapeRow[] = [];
      const order = [
        ['bare', 1],
        ['exporter', 1],
        ['bare', 2],
        ['exporter', 2],
        ['naive', 1],
      ] as const;
      for (const gzip of [false, true]) {
        for (const [server, round] of order) {
          log(`scrapes: ${server}${gzip ? ', gzip' : ''}, round ${round}`);
          const url = `${urls[server]}/metrics`;
          await idle();
          if (round === 1) await load(url, 4, 1, gzip ? GZIP : {}); // warm-up
          await idle();
          rows.push({ server, gzip, round, load: await load(url, connections, seconds, gzip ? GZIP : {}) });
        }
      }
      const scrape: ScrapeResult = {
        servers,
        connections,
        seconds,
        plainBytes: bareServed.plainBytes,
        gzipBytes: bareServed.gzipBytes,
        naiveBytes: naiveServed.bodyBytes,
        rows,
        clientCheck: { seconds: checkSeconds, autocannon: viaAutocannon, undici: viaUndici },
      };
      // Scenario 3 measures the exporter; the naive server goes, and its queued work with it. The bare
      // server stays, idle, as a control: its event-loop delay is what the shared machine alone causes.
      await naive.stop();

      // 3. Two scrapers asking for gzip, as two Prometheus replicas would, without pause.
      const impactSeconds = 5;
      const scrapers = 2;
      const impactRows: ImpactRow[] = [];
      const windows = [
        { label: 'idle, no scrapes', polling: false, scrapers: 0 },
        { label: 'polling, no scrapes', polling: true, scrapers: 0 },
        { label: 'idle, scraped', polling: false, scrapers },
        { label: 'polling, scraped', polling: true, scrapers },
      ];
      for (const w of windows) {
        log(`poll impact: ${w.label}`);
        await exporter.idle();
        const [measured, figures, control] = await Promise.all([
          exporter.request<{ delay: LoopDelay; polls: PollMeasurement[] }>('loopDelay', { seconds: impactSeconds, polling: w.polling }),
          w.scrapers > 0 ? load(`${urls.exporter}/metrics`, w.scrapers, impactSeconds, GZIP) : Promise.resolve(undefined),
          bare.request<LoopDelay>('loopDelay', { seconds: impactSeconds }),
        ]);
        impactRows.push({
          label: w.label,
          polling: w.polling,
          scrapers: w.scrapers,
          delay: measured.delay,
          control,
          load: figures,
          polls: measured.polls.length,
          pollWallMs: measured.polls.length > 0 ? median(measured.polls.map((p) => p.wallMs)) : 0,
        });
      }
      return { scrape, impact: { servers, seconds: impactSeconds, rows: impactRows } };
    },
  );
}

// ---- 4. Memory and scaling --------------------------------------------------------------------------

export interface MemoryRow {
  servers: number;
  /** V8 flags the exporter ran with (none: Node's defaults, as deployed). */
  v8Flags: string[];
  /** Right after start-up, before the first poll. */
  baseline: MemoryMeasurement;
  /** After the second poll: the previous snapshot has been replaced once (steady state). */
  afterPoll: MemoryMeasurement;
  afterGc: MemoryMeasurement;
  firstPoll: PollMeasurement;
  /** The second poll, with warm code: the CPU figure that is compared. */
  warmPoll: PollMeasurement;
  /** CPU used after the warm poll returned, until the process went idle: compressing the publication in the background. */
  compressCpuMs: number;
  bodyBytes: number;
}

/** A smaller V8 heap, for a third row: how much of the RSS is V8 waiting to collect garbage. */
export const SMALL_HEAP_FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=96'];

export async function memoryScenario(paths: Paths, log: (s: string) => void): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = [];
  const runs = [
    { servers: 20_000, v8Flags: [] },
    { servers: 200_000, v8Flags: [] },
    { servers: 20_000, v8Flags: SMALL_HEAP_FLAGS },
  ];
  for (const { servers, v8Flags } of runs) {
    log(`memory: ${servers} servers ${v8Flags.join(' ')}`);
    // A fresh simulator and exporter per run: the figures of one owe nothing to another.
    rows.push(
      await using([Child.start('simulator', paths.sim, {}), Child.start('exporter', paths.exporter, {}, v8Flags)], async ([sim, exporter]) => {
        if (!sim || !exporter) throw new Error('children missing');
        const simUrl = await sim.request<string>('start', { encodeServers: servers, latencyMs: 0 });
        const baseline = await exporter.request<MemoryMeasurement>('memory', { gc: false });
        const served = await exporter.request<{ firstPoll: PollMeasurement; bodyBytes: number }>('serve', {
          simUrl,
          settings: { concurrency: 16, ...LIFTED, maxPages: 5000 },
        });
        // The first poll's publication is compressed in the background: let it finish before measuring the next poll.
        await exporter.idle(60_000);
        const warmPoll = await exporter.request<PollMeasurement>('poll');
        const cpuAtPollEnd = await exporter.request<number>('cpuMs');
        const afterPoll = await exporter.request<MemoryMeasurement>('memory', { gc: false });
        await exporter.idle(60_000);
        const compressCpuMs = (await exporter.request<number>('cpuMs')) - cpuAtPollEnd;
        const afterGc = await exporter.request<MemoryMeasurement>('memory', { gc: true });
        return { servers, v8Flags, baseline, afterPoll, afterGc, firstPoll: served.firstPoll, warmPoll, compressCpuMs, bodyBytes: served.bodyBytes };
      }),
    );
  }
  return rows;
}
