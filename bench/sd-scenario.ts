/**
 * The HTTP service discovery scenario (issue 12): what GET /sd/access-ports costs at 20,000 encode servers, to
 * prepare once per poll and to serve to Prometheus servers that refresh it every 30 s. Runs inside `npm run bench`,
 * or alone with `npm run bench -- --only=sd`, which replaces only this section of BENCHMARKS.md.
 */
import { request } from 'undici';
import type { PollMeasurement } from './exporter-child.js';
import { Child } from './ipc.js';
import { load, type LoadFigures } from './load.js';
import { LIFTED, type Paths } from './scenarios.js';

export interface SdAnswerSize {
  label: string;
  query: string;
  groups: number;
  plainBytes: number;
  gzipBytes: number;
}

export interface SdServeRow {
  label: string;
  path: string;
  load: LoadFigures;
  /** CPU of the exporter process per answered request (all threads). */
  exporterCpuMsPerRequest: number;
}

export interface SdResult {
  servers: number;
  connections: number;
  seconds: number;
  prepare: { collectCpuMs: number; retainedMiB: number; gzip: PollMeasurement; gzipBytes: number; parseConvertCpuMs: number };
  sizes: SdAnswerSize[];
  /** A query no one asked before in this publication (assembled and compressed by this request), then the same again. */
  firstAsk: { query: string; coldMs: number; warmMs: number };
  rows: SdServeRow[];
}

const GZIP = { 'accept-encoding': 'gzip' };
const PAGE_SIZE = 100;

async function get(url: string, headers: Record<string, string> = {}): Promise<{ ms: number; bytes: number; body: Buffer }> {
  const started = performance.now();
  const res = await request(url, { headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode}`);
  return { ms: performance.now() - started, bytes: body.length, body };
}

export async function sdScenario(paths: Paths, log: (s: string) => void): Promise<SdResult> {
  const servers = 20_000;
  const connections = 4;
  const seconds = 4;
  const [sim, exporter] = await Promise.all([Child.start('simulator', paths.sim, {}), Child.start('exporter', paths.exporter, {})]);
  try {
    const simUrl = await sim.request<string>('start', { encodeServers: servers, latencyMs: 0 });
    log('sd: preparation cost');
    const prepare = await exporter.request<{ collectCpuMs: number; retainedMiB: number; gzip: PollMeasurement; gzipBytes: number }>('sdPrepareCost', { simUrl, pageSize: PAGE_SIZE, repeat: 3 });
    const convert = await exporter.request<{ cpuMs: number }>('parseConvertCost', { simUrl, pageSize: PAGE_SIZE, repeat: 3 });
    const served = await exporter.request<{ url: string }>('serve', { simUrl, settings: { concurrency: 16, ...LIFTED } });

    const sizes: SdAnswerSize[] = [];
    for (const [label, query] of [
      ['default: every public port', ''],
      ['public ADB and VNC', '?port_type=adb&port_type=vnc'],
      ['public and private', '?exposure=all'],
    ] as const) {
      const plain = await get(`${served.url}/sd/access-ports${query}`);
      const gz = await get(`${served.url}/sd/access-ports${query}`, GZIP);
      sizes.push({ label, query, groups: (JSON.parse(plain.body.toString('utf8')) as unknown[]).length, plainBytes: plain.bytes, gzipBytes: gz.bytes });
    }

    const fresh = '?exposure=all&port_type=cph_h5_server&port_type=cph_app_server';
    const cold = await get(`${served.url}/sd/access-ports${fresh}`, GZIP);
    const warm = await get(`${served.url}/sd/access-ports${fresh}`, GZIP);

    const rows: SdServeRow[] = [];
    for (const [label, path] of [
      ['/sd/access-ports (default), gzip', '/sd/access-ports'],
      ['/sd/access-ports?exposure=all, gzip', '/sd/access-ports?exposure=all'],
      ['/metrics, gzip (for comparison)', '/metrics'],
    ] as const) {
      log(`sd: ${connections} clients without pause on ${label}`);
      await exporter.idle();
      await load(`${served.url}${path}`, 2, 1, GZIP); // warm-up
      await exporter.idle();
      const cpuBefore = await exporter.request<number>('cpuMs');
      const figures = await load(`${served.url}${path}`, connections, seconds, GZIP);
      const cpu = (await exporter.request<number>('cpuMs')) - cpuBefore;
      rows.push({ label, path, load: figures, exporterCpuMsPerRequest: figures.completed > 0 ? cpu / figures.completed : 0 });
    }
    await exporter.request('stop');
    return {
      servers,
      connections,
      seconds,
      prepare: { ...prepare, parseConvertCpuMs: convert.cpuMs },
      sizes,
      firstAsk: { query: fresh, coldMs: cold.ms, warmMs: warm.ms },
      rows,
    };
  } finally {
    await Promise.all([sim.stop(), exporter.stop()]);
  }
}

const f1 = (n: number): string => n.toFixed(1);
const f2 = (n: number): string => n.toFixed(2);
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

export const SD_SECTION_BEGIN = '<!-- sd-bench:begin -->';
export const SD_SECTION_END = '<!-- sd-bench:end -->';

/** This scenario's section of BENCHMARKS.md, between markers so that `--only=sd` can replace it alone. */
export function renderSdSection(r: SdResult, context: { command: string; date: string; revision: string; loadAverage: number }): string {
  const def = r.rows[0];
  // Ten Prometheus servers, each with the two probe jobs, refreshing every 30 s.
  const refreshesPerSecond = (10 * 2) / 30;
  const cpuShare = def ? (refreshesPerSecond * def.exporterCpuMsPerRequest) / 1000 : 0;
  return `${SD_SECTION_BEGIN}
## 5. HTTP service discovery (/sd/access-ports)

Measured by \`${context.command}\` on ${context.date}, revision ${context.revision}: ${r.servers.toLocaleString('en')} encode servers from the
simulator (their access ports as the fleet generator lays them out), one exporter process; 1-minute load average ${f2(context.loadAverage)} at the
start${context.loadAverage >= 0.3 ? ' (**the machine was shared**: throughput and latency are noisy; CPU per request less so)' : ''}. Reproduce this section alone with
\`npm run bench -- --only=sd\` (about a minute).

**Prepared once per poll.** Collecting the listing's access ports (src/sd/access-ports.ts, during conversion, compact and outside
the JavaScript heap: each encode server's labels as JSON bytes, four 32-bit numbers per port): ${f1(r.prepare.collectCpuMs)} ms CPU, against
${f1(r.prepare.parseConvertCpuMs)} ms for parsing and converting the whole listing (that figure includes it); they hold ${f1(r.prepare.retainedMiB)} MB (their Buffers
and typed arrays), where the rendered groups of every port would take the ${mb(r.sizes[2]?.plainBytes ?? 0)} of the \`exposure=all\` answer. Rendering the publication's
default answer and compressing it (src/sd/prepared.ts): ${f1(r.prepare.gzip.wallMs)} ms wall, ${f1(r.prepare.gzip.cpuMs)} ms CPU, in batches of 256 groups with
the event loop free in between and the compression in zlib's thread pool; only the ${mb(r.prepare.gzipBytes)} of gzip are kept (a plain
answer is inflated on the way out). Best of 3 runs each.

| answer | query | target groups | plain | gzip |
|---|---|---:|---:|---:|
${r.sizes.map((s) => `| ${s.label} | \`${s.query || '(none)'}\` | ${s.groups.toLocaleString('en')} | ${mb(s.plainBytes)} | ${mb(s.gzipBytes)} |`).join('\n')}

A query not asked before in a publication is assembled and compressed by its first request (${f1(r.firstAsk.coldMs)} ms for
\`${r.firstAsk.query}\`), then served from memory (${f1(r.firstAsk.warmMs)} ms).

**Served from memory.** ${r.connections} clients asking without pause (gzip) for ${r.seconds} s per row: far more than Prometheus servers
refreshing every 30 s.

| endpoint | requests/s | p50 | p99 | exporter CPU per request | bytes per response |
|---|---:|---:|---:|---:|---:|
${r.rows
  .map(
    (row) =>
      `| ${row.label} | ${f1(row.load.reqPerSec)} | ${f2(row.load.p50Ms)} ms | ${f2(row.load.p99Ms)} ms | ${f2(row.exporterCpuMsPerRequest)} ms | ${mb(row.load.bytesPerResponse)} |`,
  )
  .join('\n')}

Ten Prometheus servers with both probe jobs (20 discovery requests every 30 s) cost the exporter ${f2(refreshesPerSecond * (def?.exporterCpuMsPerRequest ?? 0))} ms
of CPU per second at this size, ${(cpuShare * 100).toFixed(2)} % of one core.
${SD_SECTION_END}
`;
}

/** BENCHMARKS.md with its SD section replaced by `section` (or appended when it has none). */
export function spliceSdSection(markdown: string, section: string): string {
  const begin = markdown.indexOf(SD_SECTION_BEGIN);
  const end = markdown.indexOf(SD_SECTION_END);
  if (begin < 0 || end < begin) return `${markdown.trimEnd()}\n\n${section}`;
  return `${markdown.slice(0, begin)}${section}${markdown.slice(end + SD_SECTION_END.length + 1)}`;
}
