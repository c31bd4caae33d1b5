import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { BUCKETS, bucketIndex, SD_PORT_TYPES, type TargetAccessPorts } from './access-ports.js';
import { DEFAULT_SD_QUERY, type SdQuery, sdQueryKey } from './query.js';

/** One answer of the endpoint, for one publication and one query. */
export interface SdAnswer {
  /** The JSON array as UTF-8 chunks, sent one after the other (the targets' own buffers: nothing copied). */
  readonly chunks: readonly Buffer[];
  readonly length: number;
  /** Target groups in it. */
  readonly groups: number;
  /** The same bytes gzip-compressed, off the event loop; compressed once, by the first caller. */
  gzip(): Promise<Buffer[]>;
}

/** Distinct queries remembered per publication; Prometheus servers ask a handful, a client looping over values more. */
const MAX_CACHED_ANSWERS = 64;

const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']\n');

/**
 * The service-discovery answers of one publication. The default answer (every public port) is assembled
 * and compressed when the publication is made, like /metrics; any other query is assembled and compressed
 * once, on first request, and then shared by every later request of the same publication.
 */
export class PreparedAccessPorts {
  private readonly answers = new Map<string, SdAnswer>();

  constructor(private readonly targets: readonly TargetAccessPorts[]) {
    // Compression starts now, in the background; a failure reaches whoever awaits it.
    this.answer(DEFAULT_SD_QUERY).gzip().catch(() => undefined);
  }

  /** Target groups by exposure over every target (ports the endpoint could serve), and the ports left out. */
  totals(): { public: number; private: number; unaddressable: number } {
    const sum = (from: number): number =>
      this.targets.reduce((n, t) => n + t.counts.slice(from, from + SD_PORT_TYPES.length).reduce((a, b) => a + b, 0), 0);
    return { public: sum(0), private: sum(SD_PORT_TYPES.length), unaddressable: this.targets.reduce((n, t) => n + t.unaddressable, 0) };
  }

  answer(query: SdQuery): SdAnswer {
    const key = sdQueryKey(query);
    let answer = this.answers.get(key);
    if (answer === undefined) {
      answer = assemble(this.targets, query);
      if (this.answers.size >= MAX_CACHED_ANSWERS) this.answers.delete(this.answers.keys().next().value as string);
      this.answers.set(key, answer);
    }
    return answer;
  }
}

function assemble(targets: readonly TargetAccessPorts[], query: SdQuery): SdAnswer {
  const portTypes = query.portTypes.length > 0 ? query.portTypes : SD_PORT_TYPES;
  const selected = query.exposures.flatMap((e) => portTypes.map((t) => bucketIndex(e, t))).sort((a, b) => a - b);
  const body: Buffer[] = [OPEN];
  let groups = 0;
  for (const target of targets) {
    if (query.projectIds.length > 0 && !query.projectIds.includes(target.projectId)) continue;
    if (query.regions.length > 0 && !query.regions.includes(target.region)) continue;
    for (const b of selected) {
      if (b < 0 || b >= BUCKETS) continue;
      for (const chunk of target.buckets[b] ?? []) {
        // Every group starts with a comma; the array's first one must not.
        body.push(body.length === 1 ? chunk.subarray(1) : chunk);
      }
      groups += target.counts[b] ?? 0;
    }
  }
  body.push(CLOSE);
  let gzipped: Promise<Buffer[]> | undefined;
  return {
    chunks: body,
    length: body.reduce((n, c) => n + c.length, 0),
    groups,
    gzip: () => (gzipped ??= gzipChunks(body)),
  };
}

async function gzipChunks(chunks: readonly Buffer[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), createGzip(), async (compressed: AsyncIterable<Buffer>) => {
    for await (const piece of compressed) out.push(piece);
  });
  return out;
}
