import type { ResourceFamilyKey } from '../metrics/catalog.js';
import type { TargetSeries } from '../metrics/convert.js';
import type { ResourceSeries } from '../metrics/estate.js';
import { type PreparedExposition, prepareExposition } from '../metrics/prepared.js';
import { familyChunks, resourceChunks } from '../metrics/resources.js';
import { PreparedAccessPorts } from '../sd/prepared.js';

/** The resource exposition as of the last poll: what every scrape serves until the next one. */
export interface PublishedResources {
  /** Increases with every publication. */
  readonly generation: number;
  readonly text: string;
  /** The exposition as scrapes send it, plain and gzip, prepared once per publication. */
  readonly prepared: PreparedExposition;
  /** The same listings' access ports as HTTP service discovery answers (/sd/access-ports). */
  readonly accessPorts: PreparedAccessPorts;
}

/** A publication; its text is decoded from the chunks on demand, so the store keeps the bytes only. */
function publication(generation: number, chunks: Buffer[], series: readonly TargetSeries[]): PublishedResources {
  return {
    generation,
    prepared: prepareExposition(chunks),
    accessPorts: new PreparedAccessPorts(series.map((s) => s.accessPorts)),
    get text() {
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

export interface StoreOptions {
  withInfo: boolean;
  /** The families of phone servers and phones to serve, in order (their HELP and TYPE even when empty). */
  estateFamilies?: readonly ResourceFamilyKey[] | undefined;
}

/**
 * The published exposition: what every scrape serves until the next poll. The poller's target
 * states decide which listings are in it (the last complete one of each target, until it is
 * stale); a poll publishes them in one synchronous step, so a scrape always sees one consistent
 * snapshot.
 */
export class SnapshotStore {
  private current: PublishedResources;
  private ready = false;

  constructor(private options: StoreOptions) {
    this.current = publication(0, this.chunks([], []), []);
  }

  private chunks(series: readonly TargetSeries[], estate: readonly ResourceSeries[]): Buffer[] {
    return [...resourceChunks(series, this.options.withInfo), ...familyChunks(estate, this.options.estateFamilies ?? [])];
  }

  get resources(): PublishedResources {
    return this.current;
  }

  /** New rendering options (a reload), used from the next publication on. */
  configure(options: StoreOptions): void {
    this.options = options;
  }

  /** Ready once every target has finished its first poll, whatever the result. */
  isReady(): boolean {
    return this.ready;
  }

  /**
   * Publishes these listings (encode servers, and phone servers and phones) and readiness; returns the new
   * publication. Synchronous by design.
   */
  publish(series: readonly TargetSeries[], ready: boolean, estate: readonly ResourceSeries[] = []): PublishedResources {
    this.ready = ready;
    this.current = publication(this.current.generation + 1, this.chunks(series, estate), series);
    return this.current;
  }
}
