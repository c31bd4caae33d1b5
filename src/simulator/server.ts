/**
 * The CPH simulator: an HTTP server (node:http) that behaves like ListEncodeServers behind the API gateway,
 * with signature checks, an AK lockout, a rate limit, fault injection and admin routes under `/_sim/`.
 * Used by tests, the demo and benchmarks. NEVER imported by exporter code.
 */
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { verifySignature } from '../cph/signer.js';
import type { EncodeServer } from '../cph/types.js';
import { DEMO_ACCESS_KEY, DEMO_SECRET_KEY } from './demo-credentials.js';
import { FaultController, WEIRD_NAMES, parseFaultSpec, type FaultSpec } from './faults.js';
import { DOCUMENTED_STATUSES, Fleet, projectSeed, type FleetFilter } from './fleet.js';
import { TokenBucket, type RateLimitOptions } from './ratelimit.js';

export type { RateLimitOptions } from './ratelimit.js';

export interface FleetSize {
  encodeServers: number;
  cloudPhoneServers: number;
}

export interface LockoutOptions {
  /** Consecutive failed authentications of one AK that lock it (default 5). */
  maxFailures?: number | undefined;
  /** How long a locked AK stays locked, in ms (default 5 minutes). */
  durationMs?: number | undefined;
}

export interface SimulatorOptions {
  /** Seed of every fleet and of rate-based faults (default 1). */
  seed?: number | undefined;
  /** Fleets by project id. */
  projects?: Record<string, FleetSize> | undefined;
  /**
   * Fleet size for any other project id (created on first use). Default: none when `projects` is given
   * (other ids get 403 CPS.0001), else 100 encode servers on 10 cloud-phone servers.
   */
  defaultFleet?: FleetSize | undefined;
  /** Accepted AK -> SK (default: the demo credentials). */
  credentials?: Record<string, string> | undefined;
  /** Check request signatures (default true). When false, any or no Authorization is accepted. */
  verifySignatures?: boolean | undefined;
  /** Added to every API request before it is answered (default 0; `sim.latencyMs` changes it). */
  latencyMs?: number | undefined;
  /** Token bucket over all API requests; excess gets 429 APIGW.0308 (default: no limit). */
  rateLimit?: RateLimitOptions | undefined;
  /** AK lockout after consecutive failed authentications (default on: 5 failures, 5 minutes); false disables. */
  lockout?: LockoutOptions | false | undefined;
  /** Serve the `/_sim/` admin routes (default true). */
  admin?: boolean | undefined;
}

export interface ProjectStats {
  requests: number;
  inFlight: number;
  maxInFlight: number;
  /** Largest round-trip depth of any request of the project (see `SimulatorStats`). */
  maxDepth: number;
}

export interface StatsSnapshot {
  totalRequests: number;
  inFlight: number;
  maxInFlight: number;
  maxDepth: number;
  throttled: number;
  authFailures: number;
  projects: Record<string, ProjectStats>;
  authFailuresByAccessKey: Record<string, number>;
  responsesByStatus: Record<string, number>;
  faultsInjected: Record<string, number>;
}

interface ProjectCounters extends ProjectStats {
  /** Largest depth among completed requests. */
  completedDepth: number;
}

/**
 * Counters over API requests (admin routes are not counted).
 *
 * Round-trip depth: a request's depth is 1 + the largest depth among the requests that had completed (response
 * finished or connection closed) before it arrived, 0 if none did. Per project only that project's requests count.
 * Paging P pages with c requests in flight at a time gives a maximum depth of about ceil(P / c).
 */
export class SimulatorStats {
  totalRequests = 0;
  inFlight = 0;
  maxInFlight = 0;
  maxDepth = 0;
  /** 429 responses sent (rate limit and faults). */
  throttled = 0;
  /** Failed authentications (401 APIGW.0301, lockout rejections included). */
  authFailures = 0;
  /** Incremented by `reset()`; requests that arrived before a reset do not touch the new counters. */
  generation = 0;
  completedDepth = 0;
  private readonly projectMap = new Map<string, ProjectCounters>();
  private readonly akFailures = new Map<string, number>();
  private readonly statuses = new Map<number, number>();
  private readonly faults = new Map<string, number>();

  /** Counters of one project (zeros if it had no request). */
  project(projectId: string): ProjectStats {
    const p = this.projectMap.get(projectId);
    return p
      ? { requests: p.requests, inFlight: p.inFlight, maxInFlight: p.maxInFlight, maxDepth: p.maxDepth }
      : { requests: 0, inFlight: 0, maxInFlight: 0, maxDepth: 0 };
  }

  /** Failed authentications of one access key. */
  authFailuresFor(accessKey: string): number {
    return this.akFailures.get(accessKey) ?? 0;
  }

  /** Responses sent with this HTTP status. */
  responsesWithStatus(status: number): number {
    return this.statuses.get(status) ?? 0;
  }

  /** Times a fault of this kind was applied. */
  faultsInjectedOf(kind: string): number {
    return this.faults.get(kind) ?? 0;
  }

  reset(): void {
    this.totalRequests = 0;
    this.inFlight = 0;
    this.maxInFlight = 0;
    this.maxDepth = 0;
    this.throttled = 0;
    this.authFailures = 0;
    this.completedDepth = 0;
    this.projectMap.clear();
    this.akFailures.clear();
    this.statuses.clear();
    this.faults.clear();
    this.generation++;
  }

  toJSON(): StatsSnapshot {
    return {
      totalRequests: this.totalRequests,
      inFlight: this.inFlight,
      maxInFlight: this.maxInFlight,
      maxDepth: this.maxDepth,
      throttled: this.throttled,
      authFailures: this.authFailures,
      projects: Object.fromEntries([...this.projectMap.keys()].map((k) => [k, this.project(k)])),
      authFailuresByAccessKey: Object.fromEntries(this.akFailures),
      responsesByStatus: Object.fromEntries([...this.statuses].map(([k, v]) => [String(k), v])),
      faultsInjected: Object.fromEntries(this.faults),
    };
  }

  /** @internal */ projectCounters(projectId: string): ProjectCounters {
    let p = this.projectMap.get(projectId);
    if (!p) {
      p = { requests: 0, inFlight: 0, maxInFlight: 0, maxDepth: 0, completedDepth: 0 };
      this.projectMap.set(projectId, p);
    }
    return p;
  }

  /** @internal */ countAuthFailure(accessKey: string): void {
    this.authFailures++;
    this.akFailures.set(accessKey, (this.akFailures.get(accessKey) ?? 0) + 1);
  }

  /** @internal */ countStatus(status: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    if (status === 429) this.throttled++;
  }

  /** @internal */ countFault(kind: string): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1);
  }
}

export interface Simulator {
  /** Starts listening; resolves to the base URL, e.g. `http://127.0.0.1:40123`. */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops listening and destroys every connection (hung ones included); resolves when the server is closed. */
  close(): Promise<void>;
  /** The base URL (after `listen`). */
  readonly url: string;
  readonly stats: SimulatorStats;
  readonly faults: FaultController;
  /** Per-request latency in ms, changeable at run time. */
  latencyMs: number;
  /** Whether signatures are checked, changeable at run time. */
  verifySignatures: boolean;
  /** Replaces (or with undefined removes) the rate limit; the bucket starts full. */
  setRateLimit(rateLimit: RateLimitOptions | undefined): void;
  /** The fleet of a project (created on first use for the default fleet); throws for a project it does not serve. */
  fleet(projectId: string): Fleet;
  /** Project ids with a fleet (configured ones, plus default ones created so far). */
  projectIds(): string[];
  /** Accepts this AK with this SK (replacing its previous SK). */
  setCredential(accessKey: string, secretKey: string): void;
  /** Stops accepting this AK. */
  removeCredential(accessKey: string): void;
  /** Unlocks every AK and forgets consecutive failures. */
  clearLockouts(): void;
  /** Epoch ms until which the AK is locked, or undefined if it is not locked. */
  lockedUntil(accessKey: string): number | undefined;
  resetStats(): void;
}

const API_PATH = /^\/v1\/([^/]+)\/cloud-phone\/encode-servers$/;
const PROJECT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SERVER_ID = /^[0-9a-f]{32}$/;
const INT32_MAX = 2147483647;
const ERR_SIGNATURE = 'verify aksk signature fail';
const ERR_LOCKED = 'AK access failed to reach the limit,forbidden';
const ERR_NO_PERMISSION = 'No permission to request resources.';
const HTML_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n' +
  '<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
const HTML_200 =
  '<!DOCTYPE html><html><head><title>Security check</title></head><body><p>Please enable JavaScript to continue.</p></body></html>\n';

function newRequestId(): string {
  return randomBytes(16).toString('hex');
}

/** A 200 body. Only the requested page is serialised (records are not cached as JSON, to keep memory flat). */
function pageBody(requestId: string, items: readonly unknown[]): string {
  return JSON.stringify({ request_id: requestId, encode_servers: items });
}

/** Parses one integer query parameter: undefined if absent, null if invalid (repeated, empty, not an integer). */
function intParam(sp: URLSearchParams, name: string, allowNegative = false): number | undefined | null {
  const all = sp.getAll(name);
  if (all.length === 0) return undefined;
  if (all.length > 1) return null;
  const v = all[0] as string;
  if (!(allowNegative ? /^-?\d{1,10}$/ : /^\d{1,10}$/).test(v)) return null;
  const n = Number(v);
  return Math.abs(n) > INT32_MAX ? null : n;
}

interface Query {
  offset: number;
  limit: number;
  filter: FleetFilter;
}

type QueryResult = { ok: true; query: Query } | { ok: false; status: number; code: string; msg: string };

function parseQuery(sp: URLSearchParams): QueryResult {
  const offset = intParam(sp, 'offset');
  const limit = intParam(sp, 'limit');
  if (offset === null || limit === null || (limit !== undefined && (limit < 1 || limit > 100))) {
    return { ok: false, status: 400, code: 'CPS.0002', msg: 'Parameter: offset or limit is invalid.' };
  }
  const type = intParam(sp, 'type', true);
  if (type === null) {
    // Not documented: the API declares `type` an integer; a non-integer is rejected like any malformed parameter.
    return { ok: false, status: 400, code: 'APIGW.0201', msg: 'Bad request: parameter type is invalid.' };
  }
  const status = intParam(sp, 'status', true);
  if (status === null || (status !== undefined && !DOCUMENTED_STATUSES.includes(status))) {
    return { ok: false, status: 400, code: 'CPS.0010', msg: 'Parameter: status is invalid.' };
  }
  const serverIds = sp.getAll('server_id');
  if (serverIds.length > 1 || (serverIds.length === 1 && !SERVER_ID.test(serverIds[0] as string))) {
    return { ok: false, status: 400, code: 'CPS.0016', msg: 'Parameter: server_id is invalid.' };
  }
  return {
    ok: true,
    query: { offset: offset ?? 0, limit: limit ?? 100, filter: { type, status, server_id: serverIds[0] } },
  };
}

/** The AK named in an Authorization header, however malformed the rest is. */
function accessKeyOf(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /Access=([^\s,]+)/.exec(authorization);
  return m ? m[1] : undefined;
}

function signedHeaderNames(authorization: string | undefined): string[] {
  if (!authorization) return [];
  const m = /SignedHeaders=([^\s,]+)/.exec(authorization);
  return m ? (m[1] as string).toLowerCase().split(';') : [];
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, 'body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

function asObject(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'body must be a JSON object');
  return v as Record<string, unknown>;
}

interface AkState {
  consecutive: number;
  lockedUntil: number;
}

class SimulatorImpl implements Simulator {
  readonly stats = new SimulatorStats();
  readonly faults: FaultController;
  latencyMs: number;
  verifySignatures: boolean;

  private readonly seed: number;
  private readonly sizes = new Map<string, FleetSize>();
  private readonly defaultFleet: FleetSize | undefined;
  private readonly fleets = new Map<string, Fleet>();
  private readonly credentials = new Map<string, string>();
  private readonly akStates = new Map<string, AkState>();
  private readonly lockout: { maxFailures: number; durationMs: number } | undefined;
  private readonly adminEnabled: boolean;
  private bucket: TokenBucket | undefined;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  /** Wake-ups of pending waits (latency, hangs); called on close. */
  private readonly waiters = new Set<() => void>();
  private closing = false;
  private baseUrl: string | undefined;

  constructor(options: SimulatorOptions) {
    this.seed = (options.seed ?? 1) >>> 0;
    this.faults = new FaultController(this.seed);
    for (const [pid, size] of Object.entries(options.projects ?? {})) this.sizes.set(pid, size);
    this.defaultFleet =
      options.defaultFleet ?? (options.projects === undefined ? { encodeServers: 100, cloudPhoneServers: 10 } : undefined);
    for (const [ak, sk] of Object.entries(options.credentials ?? { [DEMO_ACCESS_KEY]: DEMO_SECRET_KEY })) {
      this.credentials.set(ak, sk);
    }
    this.verifySignatures = options.verifySignatures ?? true;
    this.latencyMs = options.latencyMs ?? 0;
    this.bucket = options.rateLimit ? new TokenBucket(options.rateLimit) : undefined;
    this.lockout =
      options.lockout === false
        ? undefined
        : { maxFailures: options.lockout?.maxFailures ?? 5, durationMs: options.lockout?.durationMs ?? 5 * 60_000 };
    this.adminEnabled = options.admin ?? true;

    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          this.sendError(res, 500, 'APIGW.0201', `An unexpected error occurred: ${String(err)}`);
        } else {
          res.destroy();
        }
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.keepAliveTimeout = 30_000;
    // Hung requests and slow faults would otherwise be cut by Node's default request timeout.
    this.server.requestTimeout = 0;
    this.faults.onChange(() => this.releaseHangs());
  }

  // ---- public API -------------------------------------------------------------------------------------------

  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    // Generate the configured fleets now, so that the first request does not pay for it.
    for (const pid of this.sizes.keys()) this.fleetOrUndefined(pid);
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        const actualPort = typeof addr === 'object' && addr ? addr.port : port;
        const h = host.includes(':') ? `[${host}]` : host;
        this.baseUrl = `http://${h}:${actualPort}`;
        resolve(this.baseUrl);
      });
    });
  }

  close(): Promise<void> {
    this.closing = true;
    for (const wake of [...this.waiters]) wake();
    return new Promise((resolve) => {
      if (!this.server.listening) {
        for (const s of this.sockets) s.destroy();
        resolve();
        return;
      }
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      for (const s of this.sockets) s.destroy();
    });
  }

  get url(): string {
    if (this.baseUrl === undefined) throw new Error('simulator is not listening');
    return this.baseUrl;
  }

  setRateLimit(rateLimit: RateLimitOptions | undefined): void {
    this.bucket = rateLimit ? new TokenBucket(rateLimit) : undefined;
  }

  fleet(projectId: string): Fleet {
    const f = this.fleetOrUndefined(projectId);
    if (!f) throw new Error(`the simulator serves no project ${projectId}`);
    return f;
  }

  projectIds(): string[] {
    return [...new Set([...this.sizes.keys(), ...this.fleets.keys()])];
  }

  setCredential(accessKey: string, secretKey: string): void {
    this.credentials.set(accessKey, secretKey);
  }

  removeCredential(accessKey: string): void {
    this.credentials.delete(accessKey);
  }

  clearLockouts(): void {
    this.akStates.clear();
  }

  lockedUntil(accessKey: string): number | undefined {
    const s = this.akStates.get(accessKey);
    return s && s.lockedUntil > Date.now() ? s.lockedUntil : undefined;
  }

  resetStats(): void {
    this.stats.reset();
  }

  // ---- internals --------------------------------------------------------------------------------------------

  private fleetOrUndefined(projectId: string): Fleet | undefined {
    let f = this.fleets.get(projectId);
    if (f) return f;
    const size = this.sizes.get(projectId) ?? (PROJECT_ID.test(projectId) ? this.defaultFleet : undefined);
    if (!size) return undefined;
    f = new Fleet({ seed: projectSeed(this.seed, projectId), ...size });
    this.fleets.set(projectId, f);
    return f;
  }

  /** Resolves after `ms`, or at once when the simulator closes or the client goes away. */
  private sleep(ms: number, req: IncomingMessage): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return this.waitFor(req, ms);
  }

  /** Waits until timeout (if any), close, client gone, or (`hang`) a fault change. */
  private waitFor(req: IncomingMessage, ms: number | undefined, onFaultChange = false): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        this.waiters.delete(done);
        if (onFaultChange) this.hangs.delete(done);
        req.socket.off('close', done);
        resolve();
      };
      if (this.closing || req.socket.destroyed) {
        resolve();
        return;
      }
      if (ms !== undefined) timer = setTimeout(done, ms);
      this.waiters.add(done);
      if (onFaultChange) this.hangs.add(done);
      req.socket.once('close', done);
    });
  }

  private readonly hangs = new Set<() => void>();
  private releaseHangs(): void {
    for (const wake of [...this.hangs]) wake();
  }

  private gone(req: IncomingMessage, res: ServerResponse): boolean {
    return this.closing || res.destroyed || req.socket.destroyed;
  }

  private send(
    res: ServerResponse,
    status: number,
    body: string | Buffer,
    contentType = 'application/json',
    headers: Record<string, string | number> = {},
  ): void {
    if (res.headersSent || res.destroyed) return;
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': buf.length, ...headers });
    res.end(buf);
  }

  private sendError(
    res: ServerResponse,
    status: number,
    code: string,
    msg: string,
    headers: Record<string, string | number> = {},
  ): void {
    const requestId = String(res.getHeader('X-Request-Id') ?? '');
    this.send(res, status, JSON.stringify({ error_code: code, error_msg: msg, request_id: requestId }), 'application/json', headers);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    res.setHeader('X-Request-Id', requestId);
    let url: URL;
    try {
      url = new URL(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`);
    } catch {
      this.sendError(res, 400, 'APIGW.0201', 'Bad request');
      return;
    }
    if (this.adminEnabled && url.pathname.startsWith('/_sim/')) {
      await this.handleAdmin(req, res, url);
      return;
    }
    await this.handleApi(req, res, url, requestId);
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, url: URL, requestId: string): Promise<void> {
    const st = this.stats;
    const generation = st.generation;
    const m = req.method === 'GET' ? API_PATH.exec(url.pathname) : null;
    let projectId: string | undefined;
    if (m) {
      try {
        projectId = decodeURIComponent(m[1] as string);
      } catch {
        projectId = undefined;
      }
    }

    // Counters, in flight and round-trip depth.
    st.totalRequests++;
    st.inFlight++;
    st.maxInFlight = Math.max(st.maxInFlight, st.inFlight);
    const depth = st.completedDepth + 1;
    st.maxDepth = Math.max(st.maxDepth, depth);
    const pc = projectId !== undefined ? st.projectCounters(projectId) : undefined;
    let pDepth = 0;
    if (pc) {
      pc.requests++;
      pc.inFlight++;
      pc.maxInFlight = Math.max(pc.maxInFlight, pc.inFlight);
      pDepth = pc.completedDepth + 1;
      pc.maxDepth = Math.max(pc.maxDepth, pDepth);
    }
    let completed = false;
    const complete = (): void => {
      if (completed) return;
      completed = true;
      if (st.generation !== generation) return;
      st.inFlight--;
      st.completedDepth = Math.max(st.completedDepth, depth);
      if (res.writableFinished) st.countStatus(res.statusCode); // not for resets, hangs, aborted streams
      if (pc) {
        pc.inFlight--;
        pc.completedDepth = Math.max(pc.completedDepth, pDepth);
      }
    };
    res.once('finish', complete);
    res.once('close', complete);

    await this.sleep(this.latencyMs, req);
    if (this.gone(req, res)) return;

    if (projectId === undefined) {
      this.sendError(res, 404, 'APIGW.0101', 'The API does not exist or has not been published in the environment');
      return;
    }

    // Gateway: rate limit, then authentication.
    if (this.bucket) {
      const waitMs = this.bucket.take();
      if (waitMs > 0) {
        const headers: Record<string, string | number> = {};
        if (this.bucket.options.retryAfter !== false) headers['Retry-After'] = Math.max(1, Math.ceil(waitMs / 1000));
        const limit = Math.round(this.bucket.options.requestsPerSecond * 60);
        this.sendError(
          res,
          429,
          'APIGW.0308',
          `The throttling threshold has been reached: policy user over ratelimit,limit:${limit},time:1 minute`,
          headers,
        );
        return;
      }
    }

    const authorization = headerValue(req, 'authorization');
    const accessKey = accessKeyOf(authorization);
    let verifiedAk: string | undefined;
    if (this.verifySignatures) {
      if (accessKey !== undefined && this.lockedUntil(accessKey) !== undefined) {
        st.countAuthFailure(accessKey);
        this.sendError(res, 401, 'APIGW.0301', ERR_LOCKED);
        return;
      }
      const result = verifySignature({ method: req.method ?? 'GET', url, headers: req.headers }, (ak) =>
        this.credentials.get(ak),
      );
      if (!result.ok) {
        this.authFailed(accessKey ?? '');
        this.sendError(res, 401, 'APIGW.0301', ERR_SIGNATURE);
        return;
      }
      verifiedAk = result.accessKey;
    }

    // Checks after authentication, then the fault (if any). A successful authentication resets the AK's consecutive
    // failures, except when a `bad-signature` fault turns it into a failure.
    const early = ((): { status: number; code: string; msg: string } | { fleet: Fleet; query: Query; fault: FaultSpec | undefined } => {
      const headerProject = headerValue(req, 'x-project-id');
      if (
        headerProject !== undefined &&
        (!this.verifySignatures || signedHeaderNames(authorization).includes('x-project-id')) &&
        headerProject !== projectId
      ) {
        return { status: 403, code: 'CPS.0001', msg: ERR_NO_PERMISSION };
      }
      const fleet = this.fleetOrUndefined(projectId);
      if (!fleet) return { status: 403, code: 'CPS.0001', msg: ERR_NO_PERMISSION };
      const parsed = parseQuery(url.searchParams);
      if (!parsed.ok) return parsed;
      return { fleet, query: parsed.query, fault: this.faults.match({ projectId, offset: parsed.query.offset }) };
    })();
    if (verifiedAk !== undefined && !('fault' in early && early.fault?.kind === 'bad-signature')) {
      this.authSucceeded(verifiedAk);
    }
    if (!('fleet' in early)) {
      this.sendError(res, early.status, early.code, early.msg);
      return;
    }
    const { fleet, query, fault } = early;

    if (fault) {
      st.countFault(fault.kind);
      const handled = await this.applyFault(fault, req, res, fleet, query, requestId, accessKey);
      if (handled || this.gone(req, res)) return;
    }

    this.send(res, 200, pageBody(requestId, fleet.page(query.offset, query.limit, query.filter)));
  }

  private authFailed(accessKey: string): void {
    this.stats.countAuthFailure(accessKey);
    if (!this.lockout) return;
    let s = this.akStates.get(accessKey);
    if (!s) {
      s = { consecutive: 0, lockedUntil: 0 };
      this.akStates.set(accessKey, s);
    }
    s.consecutive++;
    if (s.consecutive >= this.lockout.maxFailures) {
      s.consecutive = 0;
      s.lockedUntil = Date.now() + this.lockout.durationMs;
    }
  }

  private authSucceeded(accessKey: string): void {
    const s = this.akStates.get(accessKey);
    if (s) s.consecutive = 0;
  }

  /** Applies a fault; returns false when the request should then be answered normally. */
  private async applyFault(
    fault: FaultSpec,
    req: IncomingMessage,
    res: ServerResponse,
    fleet: Fleet,
    query: Query,
    requestId: string,
    accessKey: string | undefined,
  ): Promise<boolean> {
    const page = (): EncodeServer[] => fleet.page(query.offset, query.limit, query.filter);
    /** The page, or one record when it is empty, so that record-level faults are always visible. */
    const nonEmptyPage = (): EncodeServer[] => {
      const p = page();
      if (p.length > 0) return p;
      const sample = fleet.items[0] ?? new Fleet({ seed: this.seed, encodeServers: 1, cloudPhoneServers: 1 }).items[0];
      return sample ? [sample] : [];
    };
    const throttleMsg = 'The throttling threshold has been reached: policy user over ratelimit,limit:12000,time:1 minute';

    switch (fault.kind) {
      case 'throttle':
        this.sendError(res, 429, 'APIGW.0308', throttleMsg, { 'Retry-After': fault.retryAfterSeconds ?? 1 });
        return true;
      case 'throttle-no-retry-after':
        this.sendError(res, 429, 'APIGW.0308', throttleMsg);
        return true;
      case 'error-500':
        this.sendError(res, 500, 'APIGW.0201', 'An unexpected error occurred');
        return true;
      case 'error-502':
        this.sendError(res, 502, 'APIGW.0201', 'Backend unavailable');
        return true;
      case 'error-503':
        this.sendError(res, 503, 'APIGW.0201', 'Service temporarily unavailable');
        return true;
      case 'error-504':
        this.sendError(res, 504, 'APIGW.0201', 'Backend timeout');
        return true;
      case 'html-502':
        this.send(res, 502, HTML_502, 'text/html');
        return true;
      case 'wrong-content-type':
        this.send(res, 200, fault.htmlBody ? HTML_200 : pageBody(requestId, page()), 'text/html; charset=utf-8');
        return true;
      case 'reset': {
        const body = Buffer.from(pageBody(requestId, nonEmptyPage()), 'utf8');
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
        const socket = req.socket;
        res.write(body.subarray(0, Math.max(1, body.length >> 1)), () => {
          if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
          else socket.destroy();
        });
        return true;
      }
      case 'hang':
        await this.waitFor(req, undefined, true);
        return false;
      case 'malformed-json': {
        const parts = page().map((r) => JSON.stringify(r));
        this.send(res, 200, `{"request_id":"${requestId}","encode_servers":[${parts.join(',')},]}`);
        return true;
      }
      case 'truncated-json': {
        const body = Buffer.from(pageBody(requestId, nonEmptyPage()), 'utf8');
        this.send(res, 200, body.subarray(0, body.length >> 1));
        return true;
      }
      case 'oversized':
        await this.sendOversized(req, res, requestId, nonEmptyPage(), fault.sizeBytes ?? 50 * 1024 * 1024, fault.contentLength === true);
        return true;
      case 'wrong-types':
        this.send(res, 200, pageBody(requestId, nonEmptyPage().map(wrongTypes)));
        return true;
      case 'missing-list':
        this.send(res, 200, JSON.stringify({ request_id: requestId }));
        return true;
      case 'unknown-enums':
        this.send(res, 200, pageBody(requestId, nonEmptyPage().map(unknownEnums)));
        return true;
      case 'weird-names':
        this.send(res, 200, pageBody(requestId, nonEmptyPage().map(weirdNames)));
        return true;
      case 'shift': {
        const by = fault.by ?? 5;
        if (by > 0) fleet.add(by, 0);
        else if (by < 0) fleet.removeAt(0, -by);
        return false;
      }
      case 'bad-signature':
        this.authFailed(accessKey ?? '');
        this.sendError(res, 401, 'APIGW.0301', ERR_SIGNATURE);
        return true;
      case 'forbidden':
        this.sendError(res, 403, 'APIGW.0302', 'The IAM user is not authorized to access the API.');
        return true;
    }
  }

  /** Streams a valid JSON page of about `size` bytes without building it in memory. */
  private async sendOversized(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    sample: readonly EncodeServer[],
    size: number,
    withLength: boolean,
  ): Promise<void> {
    const head = Buffer.from(`{"request_id":"${requestId}","encode_servers":[`, 'utf8');
    const tail = Buffer.from(']}', 'utf8');
    const batch = sample.map((r) => JSON.stringify(r)).join(',');
    const batchLen = Buffer.byteLength(batch, 'utf8');
    const unit = batchLen + 1; // "," + batch
    const repeats = Math.max(0, Math.ceil((size - head.length - tail.length - batchLen) / unit));
    const total = head.length + batchLen + repeats * unit + tail.length;
    const perChunk = Math.max(1, Math.floor((64 * 1024) / unit));
    const chunk = Buffer.from(`,${batch}`.repeat(perChunk), 'utf8');

    res.writeHead(200, { 'Content-Type': 'application/json', ...(withLength ? { 'Content-Length': total } : {}) });
    const write = async (buf: Buffer): Promise<boolean> => {
      if (this.gone(req, res)) return false;
      if (!res.write(buf)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            this.waiters.delete(done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
          this.waiters.add(done);
        });
      }
      return !this.gone(req, res);
    };
    if (!(await write(head)) || !(await write(Buffer.from(batch, 'utf8')))) return;
    let left = repeats;
    while (left > 0) {
      const n = Math.min(left, perChunk);
      if (!(await write(n === perChunk ? chunk : chunk.subarray(0, n * unit)))) return;
      left -= n;
    }
    if (!this.gone(req, res)) res.end(tail);
  }

  // ---- admin routes -----------------------------------------------------------------------------------------

  private async handleAdmin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const json = (status: number, body: unknown): void => this.send(res, status, JSON.stringify(body));
    try {
      const result = await this.admin(req.method ?? 'GET', url, req);
      if (result === undefined) res.writeHead(204).end();
      else json(200, result);
    } catch (err) {
      if (err instanceof HttpError) json(err.status, { error: err.message });
      else json(400, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private async admin(method: string, url: URL, req: IncomingMessage): Promise<unknown> {
    const path = url.pathname.replace(/\/+$/, '');
    const route = `${method} ${path}`;
    switch (route) {
      case 'GET /_sim/stats':
        return this.stats.toJSON();
      case 'DELETE /_sim/stats':
        this.stats.reset();
        return undefined;
      case 'GET /_sim/faults':
        return { faults: this.faults.list() };
      case 'POST /_sim/faults': {
        const body = await readBody(req);
        const specs = (Array.isArray(body) ? body : [body]).map(parseFaultSpec);
        if (url.searchParams.get('append') === 'true' || url.searchParams.get('append') === '1') {
          for (const s of specs) this.faults.add(s);
        } else {
          this.faults.set(specs);
        }
        return { faults: this.faults.list() };
      }
      case 'DELETE /_sim/faults': {
        const kind = url.searchParams.get('kind');
        if (kind !== null) this.faults.clear(parseFaultSpec({ kind }).kind);
        else this.faults.clear();
        return { faults: this.faults.list() };
      }
      case 'GET /_sim/config':
        return this.configJson();
      case 'POST /_sim/config': {
        const body = asObject(await readBody(req));
        if (body.latencyMs !== undefined) {
          if (typeof body.latencyMs !== 'number' || !(body.latencyMs >= 0)) throw new HttpError(400, 'latencyMs must be >= 0');
          this.latencyMs = body.latencyMs;
        }
        if (body.verifySignatures !== undefined) {
          if (typeof body.verifySignatures !== 'boolean') throw new HttpError(400, 'verifySignatures must be a boolean');
          this.verifySignatures = body.verifySignatures;
        }
        if (body.rateLimit !== undefined) {
          if (body.rateLimit === null) this.setRateLimit(undefined);
          else this.setRateLimit(asObject(body.rateLimit) as unknown as RateLimitOptions);
        }
        return this.configJson();
      }
      case 'POST /_sim/credentials': {
        const body = asObject(await readBody(req));
        const creds: Record<string, unknown> =
          body.credentials !== undefined ? asObject(body.credentials) : { [String(body.accessKey)]: body.secretKey };
        for (const [ak, sk] of Object.entries(creds)) {
          if (typeof sk !== 'string' || sk === '' || ak === '' || ak === 'undefined') {
            throw new HttpError(400, 'give {accessKey, secretKey} or {credentials: {AK: SK}}');
          }
        }
        if (body.replace === true) this.credentials.clear();
        for (const [ak, sk] of Object.entries(creds)) this.setCredential(ak, sk as string);
        return { accessKeys: [...this.credentials.keys()] };
      }
      case 'DELETE /_sim/lockouts':
        this.clearLockouts();
        return undefined;
      case 'GET /_sim/projects':
        return { projects: this.projectIds().map((id) => ({ projectId: id, encodeServers: this.fleet(id).size })) };
    }

    const fm = /^\/_sim\/fleet\/([^/]+)(?:\/([a-z-]+))?$/.exec(path);
    if (fm) {
      const projectId = decodeURIComponent(fm[1] as string);
      const fleet = this.fleetOrUndefined(projectId);
      if (!fleet) throw new HttpError(404, `no project ${projectId}`);
      const action = fm[2];
      if (method === 'GET' && action === undefined) {
        return { project_id: projectId, count: fleet.size, encode_servers: fleet.items };
      }
      if (method === 'POST' && action !== undefined) {
        const body = asObject(await readBody(req));
        const id = (): string => {
          if (typeof body.encode_server_id !== 'string') throw new HttpError(400, 'encode_server_id must be a string');
          if (!fleet.find(body.encode_server_id)) throw new HttpError(404, `no encode server ${body.encode_server_id}`);
          return body.encode_server_id;
        };
        const int = (v: unknown, name: string): number => {
          if (typeof v !== 'number' || !Number.isInteger(v)) throw new HttpError(400, `${name} must be an integer`);
          return v;
        };
        switch (action) {
          case 'status':
            return fleet.setStatus(id(), int(body.status, 'status'));
          case 'type':
            return fleet.setType(id(), int(body.type, 'type'));
          case 'public-ip': {
            const ip = body.public_ip;
            if (ip !== null && typeof ip !== 'string') throw new HttpError(400, 'public_ip must be a string or null');
            if (typeof body.port_type !== 'string') throw new HttpError(400, 'port_type must be a string');
            return fleet.setPublicIp(id(), body.port_type, ip);
          }
          case 'add': {
            const count = int(body.count ?? 1, 'count');
            const at = body.at === undefined ? fleet.size : int(body.at, 'at');
            return { added: fleet.add(count, at).map((r) => r.encode_server_id), count: fleet.size };
          }
          case 'remove': {
            let removed: number;
            if (Array.isArray(body.encode_server_ids)) {
              removed = fleet.remove(body.encode_server_ids.map(String));
            } else {
              removed = fleet.removeAt(int(body.at ?? 0, 'at'), int(body.count ?? 1, 'count')).length;
            }
            return { removed, count: fleet.size };
          }
        }
      }
    }
    throw new HttpError(404, `no admin route ${method} ${path}`);
  }

  private configJson(): unknown {
    return {
      seed: this.seed,
      latencyMs: this.latencyMs,
      verifySignatures: this.verifySignatures,
      rateLimit: this.bucket ? this.bucket.options : null,
      lockout: this.lockout ?? null,
      projects: this.projectIds(),
      defaultFleet: this.defaultFleet ?? null,
      accessKeys: [...this.credentials.keys()],
    };
  }
}

// ---- record-level faults ----------------------------------------------------------------------------------

function wrongTypes(r: EncodeServer, k: number): unknown {
  const o: Record<string, unknown> = { ...r };
  switch (k % 6) {
    case 0:
      o.type = String(r.type);
      break;
    case 1:
      o.status = null;
      break;
    case 2:
      o.access_infos = {};
      break;
    case 3:
      o.encode_server_name = 12345;
      break;
    case 4:
      o.access_infos =
        r.access_infos.length > 0
          ? r.access_infos.map((p, i) => (i === 0 ? { ...p, listen_port: String(p.listen_port) } : p))
          : null;
      break;
    default:
      o.status = String(r.status);
  }
  return o;
}

function unknownEnums(r: EncodeServer): unknown {
  const priv = r.access_infos[0]?.server_ip ?? r.access_infos[0]?.intranet_ip ?? '172.16.0.1';
  return {
    ...r,
    type: 9,
    status: 42,
    access_infos: [
      ...r.access_infos,
      { listen_port: 9999, access_port: 9999, server_ip: priv, public_ip: '', type: 'quantum_tunnel' },
    ],
  };
}

function weirdNames(r: EncodeServer, k: number): unknown {
  return {
    ...r,
    encode_server_name: WEIRD_NAMES[k % WEIRD_NAMES.length],
    keypair_name: WEIRD_NAMES[(k + 3) % WEIRD_NAMES.length],
  };
}

/** Creates a simulator (not yet listening). */
export function createSimulator(options: SimulatorOptions = {}): Simulator {
  return new SimulatorImpl(options);
}
