/**
 * Fault injection for the CPH simulator: which faults exist, how a fault is scoped and triggered,
 * and the controller that picks the fault (if any) for each request.
 */
import { mulberry32 } from './generate.js';

/** Every fault kind and what it does (`npm run simulator -- --help` prints this). */
export const FAULT_CATALOGUE = {
  'throttle': '429 `APIGW.0308` with a `Retry-After` header (`retryAfterSeconds`, default 1).',
  'throttle-no-retry-after': '429 `APIGW.0308` without `Retry-After`.',
  'error-500': '500 JSON error (`APIGW.0201` "An unexpected error occurred").',
  'error-502': '502 JSON error (`APIGW.0201` backend unavailable).',
  'error-503': '503 JSON error (`APIGW.0201` service unavailable; the code for 503 is not documented).',
  'error-504': '504 JSON error (`APIGW.0201` backend timeout).',
  'html-502': '502 with an nginx-style HTML page and `Content-Type: text/html`.',
  'wrong-content-type':
    '200 with `Content-Type: text/html` (the valid JSON page, or an HTML page when `htmlBody` is true).',
  'reset': 'Headers and part of the body are sent, then the connection is reset (RST).',
  'hang':
    'No answer until the simulator closes, the client goes away, or faults are set/cleared (then answered ' +
    'normally).',
  'malformed-json': '200 `application/json` whose body is not valid JSON (a trailing comma).',
  'truncated-json': '200 whose valid JSON body is cut in half; `Content-Length` matches the cut.',
  'oversized':
    '200 with a huge valid JSON body (`sizeBytes`, default 50 MiB), streamed; chunked unless ' +
    '`contentLength`.',
  'wrong-types': 'The page\'s records carry wrong field types (`type: "0"`, `status: null`, `access_infos: {}`, ...).',
  'missing-list': 'The body has no `encode_servers` field.',
  'unknown-enums': 'The page\'s records carry unknown enum values: status 42, type 9, an unseen port type.',
  'weird-names':
    'The page\'s records carry names with over-long, unicode, control, quote, backslash and newline ' +
    'characters.',
  'shift':
    'The fleet changes before this page is served: `by` > 0 inserts that many new records at the front, ' +
    '`by` < 0 removes that many from the front (default 5). The change persists.',
  'bad-signature':
    '401 `APIGW.0301` "verify aksk signature fail", as if the SK were wrong; counts toward the AK ' +
    'lockout.',
  'unauthorized':
    '401 with the body `error` selects (`UNAUTHORIZED_ERRORS`, default `signature`); counts toward the AK ' +
    'lockout like every 401. Scope it with `projectId` for a wrong project id or a token of another ' +
    'region.',
  'forbidden':
    '403 with the body `error` selects (`FORBIDDEN_ERRORS`, default `not-authorized`: `APIGW.0302`). ' +
    'Resets the lockout run.',
  'fleet-change':
    'The page is answered normally, THEN the fleet changes: `remove` records (default 0) are deleted at ' +
    'position `at` (default 0, i.e. before any later offset) and `insert` new records (default 0) are ' +
    'added there. Models servers deleted or created between two pages of one listing.',
} as const;

export type FaultKind = keyof typeof FAULT_CATALOGUE;

export const FAULT_KINDS = Object.keys(FAULT_CATALOGUE) as readonly FaultKind[];

/** Error bodies of the `unauthorized` fault (NOTES.md section 5, gateway codes). */
export const UNAUTHORIZED_ERRORS = {
  /** Wrong SK (or a tampered request): the key itself is bad. */
  signature: { code: 'APIGW.0301', msg: 'verify aksk signature fail' },
  /** The AK does not exist (deleted, or a typo): the key itself is bad. */
  'ak-not-found': { code: 'APIGW.0301', msg: 'Incorrect IAM authentication information: Get secretKey failed,err:ak not exist' },
  /** The gateway's lockout answer: the key itself is locked. */
  'ak-locked': { code: 'APIGW.0301', msg: 'AK access failed to reach the limit,forbidden' },
  'decrypt-token': { code: 'APIGW.0301', msg: 'Incorrect IAM authentication information: decrypt token fail' },
  'token-expires': { code: 'APIGW.0301', msg: 'Incorrect IAM authentication information: token expires' },
  /** An expired token, or a token used against another region. */
  'token-must-be-updated': { code: 'APIG.0307', msg: 'The token must be updated.' },
} as const;
export type UnauthorizedError = keyof typeof UNAUTHORIZED_ERRORS;

/** Error bodies of the `forbidden` fault. */
export const FORBIDDEN_ERRORS = {
  /** The IAM user may not call the API (black/white list). */
  'not-authorized': { code: 'APIGW.0302', msg: 'The IAM user is not authorized to access the API.' },
  /** The project exists but this key has no permission on it. */
  'no-permission': { code: 'CPS.0001', msg: 'No permission to request resources.' },
} as const;
export type ForbiddenError = keyof typeof FORBIDDEN_ERRORS;

/** The operations a fault can be scoped to (`*`: every API). */
export const FAULT_OPERATIONS = ['ListEncodeServers', 'ListCloudPhoneServers', 'ListCloudPhones', '*'] as const;
/** Kinds whose record-level effect is written for encode-server records only. */
export const ENCODE_SERVER_ONLY_KINDS: readonly FaultKind[] = ['oversized', 'wrong-types', 'unknown-enums', 'weird-names', 'fleet-change'];

export interface FaultSpec {
  kind: FaultKind;
  /** Apply to the next `count` matching requests only (then the fault is removed). */
  count?: number | undefined;
  /** Let this many matching requests pass untouched first (e.g. `skip: 2, count: 1`: only the 3rd request). */
  skip?: number | undefined;
  /** Apply to this share (0..1) of matching requests, drawn from a PRNG seeded with `seed`. */
  rate?: number | undefined;
  /** Seed of the `rate` draw (default: derived from the simulator seed and the fault's position). */
  seed?: number | undefined;
  /** Only requests for this project id. */
  projectId?: string | undefined;
  /** Only requests for this page offset. */
  offset?: number | undefined;
  /**
   * Only requests of this API operation (`ListEncodeServers`, `ListCloudPhoneServers`, `ListCloudPhones`),
   * or `*` for every one. Default `ListEncodeServers`, so that a fault meant for encode servers is not used up
   * by the listings of phone servers and phones.
   */
  operation?: string | undefined;
  /** `throttle`: the `Retry-After` value in seconds (default 1). */
  retryAfterSeconds?: number | undefined;
  /** `shift`: how many records to insert (> 0) or remove (< 0) at the front (default 5). */
  by?: number | undefined;
  /** `oversized`: body size in bytes (default 50 MiB). */
  sizeBytes?: number | undefined;
  /** `oversized`: send a `Content-Length` header instead of chunked encoding. */
  contentLength?: boolean | undefined;
  /** `wrong-content-type`: send an HTML page instead of the JSON page. */
  htmlBody?: boolean | undefined;
  /** Wait this long (ms, after the simulator's latency) before the fault acts, e.g. a 401 that takes 13 s. */
  delayMs?: number | undefined;
  /** `unauthorized` / `forbidden`: which error body (see `UNAUTHORIZED_ERRORS`, `FORBIDDEN_ERRORS`). */
  error?: string | undefined;
  /** `fleet-change`: records to delete at `at`. */
  remove?: number | undefined;
  /** `fleet-change`: new records to add at `at`. */
  insert?: number | undefined;
  /** `fleet-change`: the position (default 0). */
  at?: number | undefined;
}

/** A configured fault and how many triggers it has left (`null`: unlimited). */
export interface ActiveFault {
  spec: FaultSpec;
  remaining: number | null;
}

/** Throws a descriptive Error when `input` is not a valid fault spec; returns it typed otherwise. */
export function parseFaultSpec(input: unknown): FaultSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new Error('a fault must be a JSON object');
  }
  const o = input as Record<string, unknown>;
  const known = new Set([
    'kind',
    'count',
    'rate',
    'seed',
    'projectId',
    'offset',
    'operation',
    'retryAfterSeconds',
    'by',
    'sizeBytes',
    'contentLength',
    'htmlBody',
    'skip',
    'delayMs',
    'error',
    'remove',
    'insert',
    'at',
  ]);
  for (const key of Object.keys(o)) {
    if (!known.has(key)) throw new Error(`unknown fault field "${key}"`);
  }
  if (typeof o.kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(o.kind)) {
    throw new Error(`fault kind must be one of ${FAULT_KINDS.join(', ')}`);
  }
  const int = (key: string, min: number): void => {
    const v = o[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min)) {
      throw new Error(`fault field "${key}" must be an integer >= ${min}`);
    }
  };
  int('count', 1);
  int('seed', 0);
  int('offset', 0);
  int('retryAfterSeconds', 0);
  int('sizeBytes', 1);
  int('skip', 0);
  int('delayMs', 0);
  int('remove', 0);
  int('insert', 0);
  int('at', 0);
  if (o.error !== undefined) {
    const table: Record<string, unknown> =
      o.kind === 'unauthorized' ? UNAUTHORIZED_ERRORS : o.kind === 'forbidden' ? FORBIDDEN_ERRORS : {};
    if (typeof o.error !== 'string' || !Object.hasOwn(table, o.error)) {
      const names = Object.keys(table);
      throw new Error(
        names.length === 0
          ? `fault field "error" applies only to kinds unauthorized and forbidden`
          : `fault field "error" of kind ${o.kind} must be one of ${names.join(', ')}`,
      );
    }
  }
  if (o.by !== undefined && (typeof o.by !== 'number' || !Number.isInteger(o.by))) {
    throw new Error('fault field "by" must be an integer');
  }
  if (o.rate !== undefined && (typeof o.rate !== 'number' || !(o.rate >= 0 && o.rate <= 1))) {
    throw new Error('fault field "rate" must be a number in 0..1');
  }
  if (o.projectId !== undefined && typeof o.projectId !== 'string') {
    throw new Error('fault field "projectId" must be a string');
  }
  if (o.operation !== undefined && (typeof o.operation !== 'string' || !(FAULT_OPERATIONS as readonly string[]).includes(o.operation))) {
    throw new Error(`fault field "operation" must be one of ${FAULT_OPERATIONS.join(', ')}`);
  }
  if (o.operation !== undefined && o.operation !== 'ListEncodeServers' && (ENCODE_SERVER_ONLY_KINDS as readonly string[]).includes(o.kind)) {
    throw new Error(`fault kind "${o.kind}" applies to ListEncodeServers only`);
  }
  if (o.kind === 'shift' && (o.operation === 'ListCloudPhoneServers' || o.operation === '*')) {
    throw new Error('fault kind "shift" applies to ListEncodeServers and ListCloudPhones only');
  }
  for (const key of ['contentLength', 'htmlBody']) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw new Error(`fault field "${key}" must be a boolean`);
  }
  return o as unknown as FaultSpec;
}

interface Rule {
  spec: FaultSpec;
  /** Matching requests still to let pass (`skip`). */
  skipping: number;
  remaining: number | null;
  rng: (() => number) | null;
}

/** The faults in force. The first configured fault that matches a request applies to it. */
export class FaultController {
  private rules: Rule[] = [];
  private added = 0;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly baseSeed: number = 1) {}

  /** Replaces every fault with these (and releases hung requests). */
  set(specs: FaultSpec | readonly FaultSpec[]): void {
    const list = Array.isArray(specs) ? (specs as readonly FaultSpec[]) : [specs as FaultSpec];
    const rules = list.map((s) => this.toRule(parseFaultSpec(s)));
    this.rules = rules;
    this.changed();
  }

  /** Adds a fault after the existing ones (does not release hung requests). */
  add(spec: FaultSpec): void {
    this.rules.push(this.toRule(parseFaultSpec(spec)));
  }

  /** Removes every fault, or every fault of one kind (and releases hung requests). */
  clear(kind?: FaultKind): void {
    this.rules = kind === undefined ? [] : this.rules.filter((r) => r.spec.kind !== kind);
    this.changed();
  }

  /** The faults in force. */
  list(): ActiveFault[] {
    return this.rules.map((r) => ({ spec: { ...r.spec }, remaining: r.remaining }));
  }

  /** Called whenever faults are set or cleared (the server releases hung requests then). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Picks the fault for one request, consuming a `count` trigger; undefined when none applies. */
  match(ctx: { projectId: string; offset: number; operation?: string | undefined }): FaultSpec | undefined {
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i] as Rule;
      const s = r.spec;
      const operation = s.operation ?? 'ListEncodeServers';
      if (operation !== '*' && operation !== (ctx.operation ?? 'ListEncodeServers')) continue;
      if (s.projectId !== undefined && s.projectId !== ctx.projectId) continue;
      if (s.offset !== undefined && s.offset !== ctx.offset) continue;
      if (r.rng !== null && !(r.rng() < (s.rate as number))) continue;
      if (r.skipping > 0) {
        r.skipping--;
        continue;
      }
      if (r.remaining !== null) {
        r.remaining--;
        if (r.remaining <= 0) this.rules.splice(i, 1);
      }
      return s;
    }
    return undefined;
  }

  private toRule(spec: FaultSpec): Rule {
    const n = this.added++;
    const seed = spec.seed ?? ((this.baseSeed >>> 0) + Math.imul(n + 1, 0x9e3779b1)) >>> 0;
    return {
      spec: { ...spec },
      skipping: spec.skip ?? 0,
      remaining: spec.count ?? null,
      rng: spec.rate === undefined ? null : mulberry32(seed),
    };
  }

  private changed(): void {
    for (const l of [...this.listeners]) l();
  }
}

/** Names a `weird-names` fault puts into records, in turn. */
export const WEIRD_NAMES: readonly string[] = [
  'encode-server-' + 'x'.repeat(300),
  'エンコード服务器-🚀-ünïcödé',
  'tab\there\r\nnewline',
  'quote"backslash\\end',
  'ctrl\u0000\u0001\u0007\u001b[31mred\u001b[0m\u007f',
  'line1\nline2\n',
  '{"json":"in a name"}',
  'rtl\u202eevil\u202c zero\u200bwidth',
  'lone surrogate \ud800 end',
  '',
];
