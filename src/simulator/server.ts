/**
 * The CPH simulator: an HTTP server (node:http) that behaves like the CPH API behind Huawei Cloud's API gateway.
 * Used by tests, the demo and benchmarks; NEVER imported by exporter code. Its rooms:
 *   gateway/   rate limit, AK/SK signature check, AK lockout     api/     the API routes (ListEncodeServers, ...)
 *   admin/     the `/_sim/` admin API                           stats.ts the counters
 *   faults.ts  the fault catalogue                              fleet.ts the generated fleets
 * This file wires them: options, listening and closing, and the order every API request goes through
 * (counters, latency, route lookup, gateway, route).
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { handleAdmin } from './admin/routes.js';
import { API_ROUTES } from './api/routes.js';
import { DEMO_ACCESS_KEY, DEMO_SECRET_KEY } from './demo-credentials.js';
import { Exchange, Waits, pathMatcher } from './exchange.js';
import { FaultController } from './faults.js';
import { Estate } from './estate.js';
import { Fleet } from './fleet.js';
import { projectSeed } from './generate.js';
import { SimAccounts } from './accounts/accounts.js';
import { MetadataService } from './accounts/metadata.js';
import { Gateway } from './gateway/gateway.js';
import type { Clock, FleetSize, RateLimitOptions, Simulator, SimulatorOptions } from './options.js';
import { type OpenPortsSpec, PortListeners } from './port-listeners.js';
import { SimulatorStats } from './stats.js';
import type { SimWorld } from './world.js';

export type { Clock, FleetSize, LockoutOptions, RateLimitOptions, Simulator, SimulatorOptions } from './options.js';
export { SimulatorStats, type ProjectStats, type StatsSnapshot } from './stats.js';

const PROJECT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SYSTEM_CLOCK: Clock = { now: () => Date.now() };
const realTimer = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};
const apiRoutes = API_ROUTES.map((route) => ({ route, match: pathMatcher(route.path) }));

class SimulatorImpl implements SimWorld {
  readonly stats = new SimulatorStats();
  readonly faults: FaultController;
  readonly gateway: Gateway;
  readonly clock: Clock;
  readonly seed: number;
  readonly defaultFleet: FleetSize | undefined;
  readonly accounts: SimAccounts;
  readonly metadata: MetadataService | undefined;
  latencyMs: number;
  readonly listeners = new PortListeners((projectId) => this.fleet(projectId));

  private readonly sizes = new Map<string, FleetSize>();
  private readonly fleets = new Map<string, Fleet>();
  private readonly estates = new Map<string, Estate>();
  private readonly adminEnabled: boolean;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly waits: Waits;
  private baseUrl: string | undefined;
  private readonly openPorts: readonly OpenPortsSpec[];

  constructor(options: SimulatorOptions) {
    this.seed = (options.seed ?? 1) >>> 0;
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.waits = new Waits(this.clock.setTimer?.bind(this.clock) ?? realTimer);
    this.faults = new FaultController(this.seed);
    for (const [pid, size] of Object.entries(options.projects ?? {})) this.sizes.set(pid, size);
    this.defaultFleet =
      options.defaultFleet ?? (options.projects === undefined ? { encodeServers: 100, cloudPhoneServers: 10 } : undefined);
    this.latencyMs = options.latencyMs ?? 0;
    const accounts = options.accounts ?? {};
    this.accounts = new SimAccounts(accounts, options.metadata?.clock ?? this.clock);
    this.metadata = options.metadata ? new MetadataService(options.metadata, this.accounts) : undefined;
    const accountKeys: Record<string, string> = {};
    for (const account of Object.values(accounts)) {
      Object.assign(accountKeys, account.credentials);
      // An account's projects are served: with their size from `projects`, else the default fleet.
      for (const p of account.projects) {
        if (!this.sizes.has(p.id)) this.sizes.set(p.id, options.defaultFleet ?? { encodeServers: 100, cloudPhoneServers: 10 });
      }
    }
    this.gateway = new Gateway(
      {
        credentials: { ...(options.credentials ?? { [DEMO_ACCESS_KEY]: DEMO_SECRET_KEY }), ...accountKeys },
        verifySignatures: options.verifySignatures ?? true,
        rateLimit: options.rateLimit,
        lockout:
          options.lockout === false
            ? undefined
            : { maxFailures: options.lockout?.maxFailures ?? 5, durationMs: options.lockout?.durationMs ?? 5 * 60_000 },
      },
      this.stats,
      this.clock,
      this.accounts,
    );
    this.adminEnabled = options.admin ?? true;
    this.openPorts = options.openPorts ?? [];
    if (options.faults) this.faults.set(options.faults);

    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          const body = JSON.stringify({
            error_code: 'APIGW.0201',
            error_msg: `An unexpected error occurred: ${String(err)}`,
            request_id: String(res.getHeader('X-Request-Id') ?? ''),
          });
          res.writeHead(500, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
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
    this.faults.onChange(() => this.waits.releaseHangs());
  }

  // ---- public API -------------------------------------------------------------------------------------------

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    // Generate the configured fleets now, so that the first request does not pay for it.
    for (const pid of this.sizes.keys()) this.fleetOrUndefined(pid);
    for (const spec of this.openPorts) await this.listeners.open(spec);
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

  async close(): Promise<void> {
    this.waits.closeAll();
    await this.listeners.stop();
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

  get verifySignatures(): boolean {
    return this.gateway.verifySignatures;
  }

  set verifySignatures(value: boolean) {
    this.gateway.verifySignatures = value;
  }

  setRateLimit(rateLimit: RateLimitOptions | undefined): void {
    this.gateway.setRateLimit(rateLimit);
  }

  fleet(projectId: string): Fleet {
    const f = this.fleetOrUndefined(projectId);
    if (!f) throw new Error(`the simulator serves no project ${projectId}`);
    return f;
  }

  estate(projectId: string): Estate {
    const e = this.estateOrUndefined(projectId);
    if (!e) throw new Error(`the simulator serves no project ${projectId}`);
    return e;
  }

  projectIds(): string[] {
    return [...new Set([...this.sizes.keys(), ...this.fleets.keys()])];
  }

  setCredential(accessKey: string, secretKey: string): void {
    this.gateway.credentials.set(accessKey, secretKey);
  }

  removeCredential(accessKey: string): void {
    this.gateway.credentials.delete(accessKey);
  }

  clearLockouts(): void {
    this.gateway.lockout.clear();
  }

  lockedUntil(accessKey: string): number | undefined {
    return this.gateway.lockout.lockedUntil(accessKey);
  }

  resetStats(): void {
    this.stats.reset();
  }

  // ---- for the routes (SimWorld) ----------------------------------------------------------------------------

  fleetOrUndefined(projectId: string): Fleet | undefined {
    let f = this.fleets.get(projectId);
    if (f) return f;
    const size = this.sizes.get(projectId) ?? (PROJECT_ID.test(projectId) ? this.defaultFleet : undefined);
    if (!size) return undefined;
    f = new Fleet({ seed: projectSeed(this.seed, projectId), ...size });
    this.fleets.set(projectId, f);
    return f;
  }

  estateOrUndefined(projectId: string): Estate | undefined {
    let e = this.estates.get(projectId);
    if (e) return e;
    const fleet = this.fleetOrUndefined(projectId);
    if (!fleet) return undefined;
    const size = this.sizes.get(projectId) ?? this.defaultFleet;
    e = new Estate({
      seed: projectSeed(this.seed, projectId),
      encodeServerIds: fleet.serverIds,
      phones: size?.phones ?? 4 * fleet.serverIds.length,
      orphans: size?.orphans,
    });
    this.estates.set(projectId, e);
    return e;
  }

  configJson(): unknown {
    return {
      seed: this.seed,
      latencyMs: this.latencyMs,
      verifySignatures: this.verifySignatures,
      rateLimit: this.gateway.rateLimitOptions ?? null,
      lockout: this.gateway.lockout.policy ?? null,
      projects: this.projectIds(),
      defaultFleet: this.defaultFleet ?? null,
      accessKeys: [...this.gateway.credentials.keys()],
      accounts: this.accounts.accountNames(),
      metadata: this.metadata ? { lifetimeMs: this.metadata.lifetimeMs } : null,
    };
  }

  // ---- one request ------------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`);
    } catch {
      new Exchange(req, res, new URL('http://localhost/'), this.waits).error(400, 'APIGW.0201', 'Bad request');
      return;
    }
    const ex = new Exchange(req, res, url, this.waits);
    if (this.adminEnabled && url.pathname.startsWith('/_sim/')) {
      await handleAdmin(ex, this);
      return;
    }

    let found: (typeof apiRoutes)[number] | undefined;
    for (const candidate of apiRoutes) {
      if (candidate.route.method !== ex.method) continue;
      const params = candidate.match(url.pathname);
      if (!params) continue;
      ex.params = params;
      found = candidate;
      break;
    }
    this.stats.track(res, ex.params.project_id, found?.route.operation, url.searchParams.getAll('limit'));

    await ex.sleep(this.latencyMs);
    if (ex.gone()) return;
    if (!found) {
      ex.error(404, 'APIGW.0101', 'The API does not exist or has not been published in the environment');
      return;
    }
    if (found.route.signed !== false && !this.gateway.admit(ex)) return;
    await found.route.handle(ex, this);
  }
}

/** Creates a simulator (not yet listening). */
export function createSimulator(options: SimulatorOptions = {}): Simulator {
  return new SimulatorImpl(options);
}
