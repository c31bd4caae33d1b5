/**
 * Issue 11's estate scenario: 10,000 cloud-phone servers (one encode server each) and 200,000 cloud phones at 50 ms
 * of latency, the default concurrency with the client-side limiter lifted. Each resource is polled alone (its wall
 * time against its round-trip bound plus CPU), then all three together; and the exporter's RSS with 20,000 and with
 * 200,000 phones on the same servers (memory must grow with servers, not phones, while cph_phone_info is off).
 * Its section of BENCHMARKS.md sits between markers, so `npm run bench -- --only=estate` can refresh it alone.
 */
import type { MemoryMeasurement, PollMeasurement } from './exporter-child.js';
import { Child } from './ipc.js';
import { LIFTED, type Paths } from './scenarios.js';
import { benchConfig } from './setup.js';

export const ESTATE_BEGIN = '<!-- estate:begin -->';
export const ESTATE_END = '<!-- estate:end -->';

type Resource = 'encode_servers' | 'phone_servers' | 'phones';
const OPERATION: Record<Resource, string> = { encode_servers: 'ListEncodeServers', phone_servers: 'ListCloudPhoneServers', phones: 'ListCloudPhones' };

export interface EstateRow {
  label: string;
  resources: Resource[];
  /** Requests of the poll, at the simulator. */
  requests: number;
  /** Fewest round trips that many requests can take at this concurrency (each resource's first page alone). */
  boundRoundTrips: number;
  /** Deepest chain of round trips the simulator saw, per operation. */
  depth: Record<string, number>;
  wallMs: number;
  cpuMs: number;
}

export interface EstateMemoryRow {
  phones: number;
  afterPoll: MemoryMeasurement;
  afterGc: MemoryMeasurement;
  warmPoll: PollMeasurement;
  bodyBytes: number;
}

export interface EstateResult {
  phoneServers: number;
  phones: number;
  latencyMs: number;
  concurrency: number;
  rows: EstateRow[];
  memory: EstateMemoryRow[];
}

const PHONE_SERVERS = 10_000;
const PHONES = 200_000;
const LATENCY_MS = 50;

async function withChildren<T>(paths: Paths, body: (sim: Child, exporter: Child) => Promise<T>): Promise<T> {
  const [sim, exporter] = await Promise.all([Child.start('simulator', paths.sim, {}), Child.start('exporter', paths.exporter, {})]);
  try {
    return await body(sim, exporter);
  } finally {
    await Promise.all([sim.stop(), exporter.stop()]);
  }
}

export async function estateScenario(paths: Paths, log: (s: string) => void): Promise<EstateResult> {
  const concurrency = benchConfig('http://127.0.0.1:1').poll.concurrency;
  const rows = await withChildren(paths, async (sim, exporter) => {
    const simUrl = await sim.request<string>('startEstate', { phoneServers: PHONE_SERVERS, phones: PHONES, latencyMs: LATENCY_MS });
    const out: EstateRow[] = [];
    const runs: { label: string; resources: Resource[] }[] = [
      { label: 'encode servers alone', resources: ['encode_servers'] },
      { label: 'phone servers alone', resources: ['phone_servers'] },
      { label: 'phones alone', resources: ['phones'] },
      { label: 'all three (one p-limit)', resources: ['encode_servers', 'phone_servers', 'phones'] },
    ];
    // Warm-up: JIT and connection set-up code paths.
    await exporter.request('pollOnly', { simUrl, settings: { ...LIFTED, resources: ['phones'] }, repeat: 1 });
    for (const run of runs) {
      log(`estate: ${run.label}`);
      await exporter.idle();
      await sim.request('resetStats');
      const [m] = await exporter.request<PollMeasurement[]>('pollOnly', { simUrl, settings: { ...LIFTED, resources: run.resources }, repeat: 1 });
      if (!m) throw new Error('no measurement');
      const stats = await sim.request<{ totalRequests: number; throttled: number }>('stats');
      if (stats.throttled > 0) throw new Error('the simulator throttled the poll');
      const depth: Record<string, number> = {};
      for (const r of run.resources) depth[OPERATION[r]] = (await sim.request<{ maxDepth: number }>('operationStats', { operation: OPERATION[r] })).maxDepth;
      out.push({
        label: run.label,
        resources: run.resources,
        requests: stats.totalRequests,
        // The first page of each resource goes alone (together), then every other request `concurrency` at a time.
        boundRoundTrips: 1 + Math.ceil((stats.totalRequests - run.resources.length) / concurrency),
        depth,
        wallMs: m.wallMs,
        cpuMs: m.cpuMs,
      });
    }
    return out;
  });
  const memory: EstateMemoryRow[] = [];
  for (const phones of [20_000, PHONES]) {
    log(`estate memory: ${PHONE_SERVERS} servers, ${phones} phones`);
    memory.push(
      await withChildren(paths, async (sim, exporter) => {
        const simUrl = await sim.request<string>('startEstate', { phoneServers: PHONE_SERVERS, phones, latencyMs: 0 });
        const served = await exporter.request<{ firstPoll: PollMeasurement; bodyBytes: number }>('serve', {
          simUrl,
          settings: { ...LIFTED, resources: ['encode_servers', 'phone_servers', 'phones'], maxPages: 5000 },
        });
        await exporter.idle(60_000);
        const warmPoll = await exporter.request<PollMeasurement>('poll');
        const afterPoll = await exporter.request<MemoryMeasurement>('memory', { gc: false });
        await exporter.idle(60_000);
        const afterGc = await exporter.request<MemoryMeasurement>('memory', { gc: true });
        return { phones, afterPoll, afterGc, warmPoll, bodyBytes: served.bodyBytes };
      }),
    );
  }
  return { phoneServers: PHONE_SERVERS, phones: PHONES, latencyMs: LATENCY_MS, concurrency, rows, memory };
}

const f0 = (n: number): string => n.toFixed(0);
const x = (n: number): string => `${n.toFixed(2)}x`;
const mb = (mebibytes: number): string => `${f0(mebibytes * 1.048576)} MB`;

export function estateGoals(r: EstateResult): { goal: string; figure: string; ok: boolean }[] {
  const [small, large] = r.memory;
  const rssRatio = small && large ? large.afterPoll.rssMiB / small.afterPoll.rssMiB : Number.NaN;
  return [
    ...r.rows.map((row) => {
      const bound = row.boundRoundTrips * r.latencyMs + row.cpuMs;
      return { goal: `${row.label}: poll wall <= 1.15x (round-trip bound + CPU)`, figure: x(row.wallMs / bound), ok: row.wallMs <= 1.15 * bound };
    }),
    { goal: `RSS with ${r.phones.toLocaleString('en')} phones <= 1.3x RSS with 20,000 (same ${r.phoneServers.toLocaleString('en')} servers)`, figure: x(rssRatio), ok: rssRatio <= 1.3 },
  ];
}

export function renderEstateSection(r: EstateResult, command: string, loadAverage?: number): string {
  const table = (head: string[], body: string[][]): string =>
    [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((row) => `| ${row.join(' | ')} |`)].join('\n');
  const goals = estateGoals(r);
  return `${ESTATE_BEGIN}
## 6. The estate: encode servers, phone servers and phones (issue 11)

\`${command}\`: ${r.phoneServers.toLocaleString('en')} cloud-phone servers with one encode server each (so ${r.phoneServers.toLocaleString('en')} encode servers),
${r.phones.toLocaleString('en')} cloud phones, ${r.latencyMs} ms of latency per request, the default concurrency (${r.concurrency}) with the client-side
limiter lifted. Phone servers are listed at \`limit\` 100 and phones at 200 (each API's largest), encode servers at the default
\`poll.page_size\` of 100 with one record of overlap. The round-trip bound is the fewest round trips the poll's requests can take
at this concurrency (each resource's first page alone, then ${r.concurrency} at a time), times the latency; CPU is the exporter's
CPU time during the poll.${
    loadAverage !== undefined && loadAverage >= 2
      ? `

**The machine was shared** (load average ${loadAverage.toFixed(2)} when it started): the simulator and the exporter may
have waited for CPU, so the simulator can see more round trips than the bound and wall times are noisy; run it again on an
idle machine before reading much into a ratio near the goal.`
      : ''
  }

${table(
  ['poll', 'requests', 'round-trip bound', 'depth at the simulator', 'wall', 'CPU', 'wall / (bound + CPU)'],
  r.rows.map((row) => [
    row.label,
    f0(row.requests),
    `${row.boundRoundTrips} x ${r.latencyMs} ms = ${f0(row.boundRoundTrips * r.latencyMs)} ms`,
    Object.entries(row.depth).map(([op, d]) => `${op} ${d}`).join(', '),
    `${f0(row.wallMs)} ms`,
    `${f0(row.cpuMs)} ms`,
    x(row.wallMs / (row.boundRoundTrips * r.latencyMs + row.cpuMs)),
  ]),
)}

Memory of the exporter serving all three resources (\`metrics.phone_info\` off), after its second poll and after two full collections:

${table(
  ['phones', 'RSS after poll', 'RSS after GC', 'heap used after GC', 'warm poll CPU', '/metrics body'],
  r.memory.map((m) => [m.phones.toLocaleString('en'), mb(m.afterPoll.rssMiB), mb(m.afterGc.rssMiB), mb(m.afterGc.heapUsedMiB), `${f0(m.warmPoll.cpuMs)} ms`, `${f0(m.bodyBytes / 1000)} kB`]),
)}

${table(
  ['goal', 'figure', ''],
  goals.map((g) => [g.goal, g.figure, g.ok ? '**met**' : '**not met**']),
)}

Phones are counted per server and status as pages arrive (src/metrics/estate.ts); only the phone IDs of the listing in progress are
kept, to de-duplicate, and dropped with it. The /metrics body grows with servers and statuses, not with phones.
${ESTATE_END}
`;
}

/** BENCHMARKS.md with its estate section replaced (or appended). */
export function spliceEstateSection(markdown: string, section: string): string {
  const begin = markdown.indexOf(ESTATE_BEGIN);
  const end = markdown.indexOf(ESTATE_END);
  if (begin >= 0 && end > begin) return `${markdown.slice(0, begin)}${section.trimEnd()}${markdown.slice(end + ESTATE_END.length)}`;
  return `${markdown.trimEnd()}\n\n${section}`;
}
