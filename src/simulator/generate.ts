/**
 * How the simulator makes encode-server records: seeded PRNGs, and a record factory whose fleets contain every
 * variety the API documents (and some it does not), spread evenly. Pure and deterministic.
 */
import type { AccessInfo, EncodeServer } from '../cph/types.js';

export interface FleetOptions {
  seed: number;
  /** Number of encode servers. */
  encodeServers: number;
  /** Number of cloud-phone servers the encode servers belong to (their `server_id`s); at least 1 is used. */
  cloudPhoneServers: number;
}

/** Every status code either table of the API document names, in the order the document lists them. */
export const DOCUMENTED_STATUSES: readonly number[] = [0, 1, 2, 3, 4, 5, 100, 1014];
/** A status code the document does not name; fleets contain it so that clients meet an unknown code. */
export const UNDOCUMENTED_STATUS = 7;
/** Port types the document names. */
export const DOCUMENTED_PORT_TYPES: readonly string[] = ['adb', 'vnc', 'cph_app_server', 'cph_h5_server'];
/** User-defined port types that fleets contain (the document's example uses port1..port4). */
export const USER_DEFINED_PORT_TYPES: readonly string[] = ['port1', 'port2', 'port3', 'port4', 'custom_rtc'];

/** mulberry32: a tiny, fast, seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a 32-bit hash of a string (used to derive a per-project seed). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The seed of one project's fleet: the simulator seed mixed with the project id. */
export function projectSeed(seed: number, projectId: string): number {
  return (fnv1a(projectId) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
}

type Rng = () => number;

const ID_BUF = Buffer.alloc(16);

/**
 * A 32-lowercase-hex id: 96 random bits and then `serial` (so ids of one fleet are unique by construction).
 * Built through a Buffer so that the result is one flat string, not a rope of concatenations.
 */
function makeId(rng: Rng, serial: number): string {
  ID_BUF.writeUInt32BE(Math.floor(rng() * 4294967296), 0);
  ID_BUF.writeUInt32BE(Math.floor(rng() * 4294967296), 4);
  ID_BUF.writeUInt32BE(Math.floor(rng() * 4294967296), 8);
  ID_BUF.writeUInt32BE(serial >>> 0, 12);
  return ID_BUF.toString('hex');
}

function randInt(rng: Rng, lo: number, hiInclusive: number): number {
  return lo + Math.floor(rng() * (hiInclusive - lo + 1));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

function weighted<T>(rng: Rng, table: readonly (readonly [T, number])[]): T {
  let total = 0;
  for (const [, w] of table) total += w;
  let r = rng() * total;
  for (const [value, w] of table) {
    r -= w;
    if (r < 0) return value;
  }
  return (table[table.length - 1] as readonly [T, number])[0];
}

/**
 * How a record's `access_infos` look:
 * - `both`: new and deprecated fields side by side, like the document's example (documented port types);
 * - `example`: the document's example itself (ports port1..port4, two public, two private);
 * - `new-only`: only `public_ip`/`server_ip`;
 * - `legacy`: only the deprecated `access_ip`/`intranet_ip` (no `public_ip`/`server_ip` key at all);
 * - `none`: no ports (`access_infos: []`).
 */
export type PortLayout = 'both' | 'example' | 'new-only' | 'legacy' | 'none';

export interface Traits {
  type: number;
  status: number;
  layout: PortLayout;
  /** Force the public/private pattern of the ports (documented layouts): which port types are public. */
  publicPorts?: readonly string[];
}

/**
 * Records that every fleet of at least `COVERAGE.length * 3` servers contains, spread evenly over the fleet,
 * so that every status, both types and every port layout occur whatever the seed.
 */
const COVERAGE: readonly Traits[] = [
  { type: 0, status: 1, layout: 'example' },
  { type: 1, status: 1, layout: 'both', publicPorts: ['cph_app_server', 'cph_h5_server'] },
  { type: 1, status: 0, layout: 'none' },
  { type: 0, status: 2, layout: 'legacy', publicPorts: ['cph_app_server'] },
  { type: 1, status: 3, layout: 'new-only', publicPorts: ['custom_rtc'] },
  { type: 1, status: 4, layout: 'both', publicPorts: ['adb'] },
  { type: 0, status: 5, layout: 'legacy', publicPorts: ['adb', 'vnc'] },
  { type: 1, status: 100, layout: 'both', publicPorts: [] },
  { type: 1, status: 1014, layout: 'new-only', publicPorts: ['vnc'] },
  { type: 1, status: UNDOCUMENTED_STATUS, layout: 'both', publicPorts: ['cph_h5_server'] },
  { type: 1, status: 1, layout: 'legacy', publicPorts: [] },
  { type: 0, status: 1, layout: 'both', publicPorts: ['vnc', 'cph_app_server'] },
];

/** Fleet size from which every variety above is guaranteed. */
export const FULL_VARIETY_MIN_SIZE = COVERAGE.length;

const STATUS_WEIGHTS: readonly (readonly [number, number])[] = [
  [1, 80],
  [2, 5],
  [3, 3],
  [4, 2],
  [5, 3],
  [0, 2],
  [100, 2],
  [1014, 2],
  [UNDOCUMENTED_STATUS, 1],
];

const LAYOUT_WEIGHTS: readonly (readonly [PortLayout, number])[] = [
  ['both', 60],
  ['new-only', 14],
  ['legacy', 15],
  ['example', 8],
  ['none', 3],
];

const KEYPAIRS: readonly string[] = ['KeyPair-cph', 'keypair-ops', 'kp-game-01', 'kp-game-02'];

const LISTEN_PORTS: Readonly<Record<string, number>> = {
  adb: 5555,
  vnc: 5900,
  cph_app_server: 6900,
  cph_h5_server: 6901,
  custom_rtc: 7000,
};

/** Chance that a port of a random record is public, by port type. */
const PUBLIC_CHANCE: Readonly<Record<string, number>> = {
  adb: 0.1,
  vnc: 0.1,
  cph_app_server: 0.7,
  cph_h5_server: 0.7,
  custom_rtc: 0.5,
};

/** 10.0.0.0/8 address of the n-th encode server (unique for n < 254 * 65536). */
export function encodeServerIp(n: number): string {
  const host = (n % 254) + 1;
  const block = Math.floor(n / 254);
  return `10.${(block >> 8) & 255}.${block & 255}.${host}`;
}

/** Private (intranet) address in 172.16.0.0/12 of the n-th encode server's ports. */
function privateIp(n: number): string {
  const host = (n % 254) + 1;
  const block = Math.floor(n / 254);
  return `172.${16 + ((block >> 8) & 15)}.${block & 255}.${host}`;
}

/** A public address from the documentation ranges (RFC 5737). */
function publicIp(rng: Rng): string {
  const nets = ['192.0.2', '198.51.100', '203.0.113'];
  return `${pick(rng, nets)}.${randInt(rng, 1, 254)}`;
}

function makePort(
  layout: PortLayout,
  type: string,
  listenPort: number,
  priv: string,
  pub: string | undefined,
  accessPort: number,
): AccessInfo {
  const access_port = pub === undefined ? listenPort : accessPort;
  switch (layout) {
    case 'legacy':
      // Deprecated fields only. A private port repeats the intranet IP in access_ip.
      return { listen_port: listenPort, intranet_ip: priv, access_port, access_ip: pub ?? priv, type };
    case 'new-only':
      return { listen_port: listenPort, access_port, server_ip: priv, public_ip: pub ?? '', type };
    default:
      // Both field sets, in the example's key order; access_ip repeats the private IP when not public.
      return {
        listen_port: listenPort,
        intranet_ip: priv,
        access_port,
        access_ip: pub ?? priv,
        server_ip: priv,
        public_ip: pub ?? '',
        type,
      };
  }
}

/** Generates the records of one fleet; shared by `generateFleet` and `Fleet.add`. */
export class RecordFactory {
  private readonly rng: Rng;
  private readonly serverIds: string[];

  constructor(seed: number, cloudPhoneServers: number) {
    this.rng = mulberry32(seed);
    const sidRng = mulberry32((seed ^ 0x5eed5eed) >>> 0);
    const m = Math.max(1, Math.floor(cloudPhoneServers));
    this.serverIds = [];
    for (let i = 0; i < m; i++) {
      this.serverIds.push(makeId(sidRng, i + 1));
    }
  }

  get serverIdList(): readonly string[] {
    return this.serverIds;
  }

  make(index: number, forced: Traits | undefined): EncodeServer {
    const rng = this.rng;
    // Draw a fixed number of values per record so that forced traits do not change later records.
    const encodeServerId = makeId(rng, index + 1);
    const type = rng() < 0.7 ? 1 : 0;
    const status = weighted(rng, STATUS_WEIGHTS);
    const layout = weighted(rng, LAYOUT_WEIGHTS);
    const keypair = pick(rng, KEYPAIRS);
    const eip = publicIp(rng);
    const portRolls = [rng(), rng(), rng(), rng(), rng()];
    const accessPorts = [0, 0, 0, 0, 0];
    for (let k = 0; k < 5; k++) accessPorts[k] = randInt(rng, 20000, 59999);
    const traits: Traits = forced ?? { type, status, layout };

    const priv = privateIp(index);
    const ports: AccessInfo[] = [];
    if (traits.layout === 'example') {
      // The document's example: port1 and port4 public (the latter on another EIP), port2 and port3 private.
      const eip2 = eip.replace(/\.\d+$/, (m) => `.${((Number(m.slice(1)) + 100) % 254) + 1}`);
      ports.push(makePort('both', 'port1', 6902, priv, eip, 6902));
      ports.push(makePort('both', 'port2', 6903, priv, undefined, 6903));
      ports.push(makePort('both', 'port3', 6900, priv, undefined, 6900));
      ports.push(makePort('both', 'port4', 6901, priv, eip2, 6901));
    } else if (traits.layout !== 'none') {
      const portTypes =
        traits.layout === 'both'
          ? ['adb', 'vnc', 'cph_app_server', 'cph_h5_server']
          : traits.layout === 'new-only'
            ? ['adb', 'vnc', 'custom_rtc']
            : ['adb', 'vnc', 'cph_app_server', 'custom_rtc'];
      portTypes.forEach((pt, k) => {
        const isPublic =
          traits.publicPorts !== undefined
            ? traits.publicPorts.includes(pt)
            : (portRolls[k] as number) < (PUBLIC_CHANCE[pt] ?? 0.5);
        ports.push(
          makePort(traits.layout, pt, LISTEN_PORTS[pt] ?? 7000, priv, isPublic ? eip : undefined, accessPorts[k] as number),
        );
      });
    }

    return {
      encode_server_name: `encode-server-${String(index + 1).padStart(4, '0')}`,
      encode_server_id: encodeServerId,
      encode_server_ip: encodeServerIp(index),
      server_id: this.serverIds[index % this.serverIds.length] as string,
      keypair_name: keypair,
      type: traits.type,
      status: traits.status,
      access_infos: ports,
    };
  }
}

/** Index -> coverage traits for a fleet of n records (evenly spread). */
export function coveragePlan(n: number): Map<number, Traits> {
  const plan = new Map<number, Traits>();
  if (n <= 0) return plan;
  const k = Math.min(COVERAGE.length, n);
  for (let j = 0; j < k; j++) {
    plan.set(Math.floor(((j + 0.5) * n) / k), COVERAGE[j] as Traits);
  }
  return plan;
}
