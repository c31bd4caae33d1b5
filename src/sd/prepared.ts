import { once } from 'node:events';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import { BUCKETS, bucketIndex, renderGroup, SD_PORT_TYPES, type TargetAccessPorts } from './access-ports.js';
import { DEFAULT_SD_QUERY, type SdQuery, sdQueryKey } from './query.js';

/** One answer of the endpoint, for one publication and one query. */
export interface SdAnswer {
  /** Target groups in it (known without rendering). */
  readonly groups: number;
  /**
   * The JSON array, gzip-compressed: rendered and compressed once, by the first caller, in batches that leave the
   * event loop free in between (compression runs in zlib's thread pool). Plain answers are decompressed from it: the
   * rendered JSON of a large fleet is about ten times its gzip, and Prometheus always asks for gzip.
   */
  gzip(): Promise<GzipAnswer>;
}

export interface GzipAnswer {
  readonly chunks: readonly Buffer[];
  /** Bytes of the compressed answer. */
  readonly length: number;
  /** Bytes of the JSON it decompresses to. */
  readonly plainLength: number;
}

/** Distinct queries remembered per publication; Prometheus servers ask a handful, a client looping over values more. */
const MAX_CACHED_ANSWERS = 64;
/** Groups rendered into one string before it goes to the compressor (about 100 KB). */
const BATCH = 256;

/**
 * The service-discovery answers of one publication. The default answer (every public port) is rendered and
 * compressed when the publication is made, like /metrics; any other query once, on its first request, and then
 * shared by every later request of the same publication.
 */
export class PreparedAccessPorts {
  private readonly answers = new Map<string, SdAnswer>();

  constructor(readonly targets: readonly TargetAccessPorts[]) {
    // Rendering starts now, in the background; a failure reaches whoever awaits it.
    this.answer(DEFAULT_SD_QUERY).gzip().catch(() => undefined);
  }

  /** Target groups by exposure over every target (ports the endpoint could serve), and the ports left out. */
  totals(): { public: number; private: number; unaddressable: number } {
    const count = (from: number): number =>
      this.targets.reduce((n, t) => n + t.counts.slice(from, from + SD_PORT_TYPES.length).reduce((a, b) => a + b, 0), 0);
    return { public: count(0), private: count(SD_PORT_TYPES.length), unaddressable: this.targets.reduce((n, t) => n + t.unaddressable, 0) };
  }

  answer(query: SdQuery): SdAnswer {
    const key = sdQueryKey(query);
    let answer = this.answers.get(key);
    if (answer === undefined) {
      answer = select(this.targets, query);
      if (this.answers.size >= MAX_CACHED_ANSWERS) this.answers.delete(this.answers.keys().next().value as string);
      this.answers.set(key, answer);
    }
    return answer;
  }
}

/** The (target, bucket) pairs a query selects, in answer order: targets as published, buckets adb first. */
function select(targets: readonly TargetAccessPorts[], query: SdQuery): SdAnswer {
  const portTypes = query.portTypes.length > 0 ? query.portTypes : SD_PORT_TYPES;
  const buckets = query.exposures
    .flatMap((e) => portTypes.map((t) => bucketIndex(e, t)))
    .filter((b) => b >= 0 && b < BUCKETS)
    .sort((a, b) => a - b);
  const parts: [TargetAccessPorts, number][] = [];
  for (const target of targets) {
    if (query.projectIds.length > 0 && !query.projectIds.includes(target.projectId)) continue;
    if (query.regions.length > 0 && !query.regions.includes(target.region)) continue;
    for (const b of buckets) if ((target.counts[b] ?? 0) > 0) parts.push([target, b]);
  }
  let gzipped: Promise<GzipAnswer> | undefined;
  return {
    groups: parts.reduce((n, [t, b]) => n + (t.counts[b] ?? 0), 0),
    gzip: () => (gzipped ??= renderGzip(parts)),
  };
}

async function renderGzip(parts: readonly [TargetAccessPorts, number][]): Promise<GzipAnswer> {
  const gzip = createGzip();
  const out: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = once(gzip, 'end');
  let plainLength = 0;
  const write = async (text: string): Promise<void> => {
    const bytes = Buffer.from(text);
    plainLength += bytes.length;
    if (!gzip.write(bytes)) await once(gzip, 'drain');
  };
  let batch: string[] = ['['];
  let first = true;
  for (const [target, b] of parts) {
    const n = target.counts[b] ?? 0;
    for (let i = 0; i < n; i++) {
      const group = renderGroup(target, b, i);
      // Every group starts with a comma; the array's first one must not.
      batch.push(first ? group.slice(1) : group);
      first = false;
      if (batch.length >= BATCH) {
        await write(batch.join(''));
        batch = [];
        await yieldToEventLoop(); // scrapes and probes get their turn between batches
      }
    }
  }
  batch.push(']\n');
  await write(batch.join(''));
  gzip.end();
  await ended;
  return { chunks: out, length: out.reduce((n, c) => n + c.length, 0), plainLength };
}
