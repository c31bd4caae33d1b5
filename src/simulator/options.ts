/** What a simulator is created with, and what a running one offers (see docs/CONTRACTS.md, "Simulator"). */
import type { SimAccounts } from './accounts/accounts.js';
import type { MetadataService } from './accounts/metadata.js';
import type { FaultController, FaultSpec } from './faults.js';
import type { Estate } from './estate.js';
import type { Fleet } from './fleet.js';
import type { OpenPortsSpec, PortListeners } from './port-listeners.js';
import type { SimulatorStats } from './stats.js';

export interface FleetSize {
  encodeServers: number;
  cloudPhoneServers: number;
  /** Cloud phones, spread over the phone servers (default 4 per cloud-phone server). */
  phones?: number | undefined;
  /** Orphans on each side of the server_id join (default: 1 per 50 cloud-phone servers, at least 1 from 3 on). */
  orphans?: number | undefined;
}

export interface RateLimitOptions {
  /** Tokens added per second. */
  requestsPerSecond: number;
  /** Bucket capacity (default: `requestsPerSecond`, at least 1). */
  burst?: number | undefined;
  /** Send `Retry-After` (whole seconds until a token is available, at least 1) on 429 (default true). */
  retryAfter?: boolean | undefined;
}

export interface LockoutOptions {
  /** Consecutive failed authentications of one AK that lock it (default 5: the 5th failure locks). */
  maxFailures?: number | undefined;
  /** How long a locked AK stays locked, in ms (default 5 minutes). */
  durationMs?: number | undefined;
}

/**
 * The simulator's time: the gateway's (lockouts, rate limit, X-Sdk-Date skew) and, when `setTimer` is given, its
 * waits (latency, fault delays). Tests pass a fake one and advance it instead of waiting.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls `fn` after `ms` of this clock's time; returns a cancel function (default: setTimeout). */
  setTimer?(fn: () => void, ms: number): () => void;
}

/** An account of the simulated cloud: its own keys and projects (see accounts/accounts.ts). */
export interface SimAccount {
  /** Permanent AK -> SK of this account (added to the accepted credentials). */
  credentials?: Record<string, string> | undefined;
  /**
   * Its projects: IAM lists them by `name` (a region, e.g. cn-north-4; two with one name make discovery ambiguous).
   * Keys of other accounts get 403 CPS.0001 on them. Each is served with its fleet from `projects`, else `defaultFleet`.
   */
  projects: Array<{ id: string; name: string }>;
}

/** The ECS metadata service (accounts/metadata.ts). */
export interface MetadataOptions {
  /** The account whose temporary keys it hands out (the server's agency); undefined: 401 "configure an agency". */
  account: string | undefined;
  /** How long each temporary key is valid, on the accounts' clock (default 24 h). */
  lifetimeMs?: number | undefined;
  /** Require the session token of `PUT /meta-data/latest/api/token` (default false: that call answers 404). */
  requireToken?: boolean | undefined;
  /** The clock temporary keys and session tokens expire on (default: the simulator's clock). */
  clock?: Clock | undefined;
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
  /** The simulator's clock (default the system clock and setTimeout). */
  clock?: Clock | undefined;
  /** Accounts, each with its own keys and projects (IAM `GET /v3/projects` lists them). Default: none. */
  accounts?: Record<string, SimAccount> | undefined;
  /** Serve the metadata service's credential routes (default: not served, 404). */
  metadata?: MetadataOptions | undefined;
  /** Access ports to open as real TCP listeners when the simulator starts listening (see `listeners`). */
  openPorts?: readonly OpenPortsSpec[] | undefined;
  /** Faults in force from the start (see faults.ts; `POST /_sim/faults` changes them at run time). */
  faults?: FaultSpec[] | undefined;
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
  /** The phone servers and phones of a project, around its fleet's `server_id`s; throws for a project it does not serve. */
  estate(projectId: string): Estate;
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
  /** Accounts, their projects and the temporary keys handed out (`issued`). */
  readonly accounts: SimAccounts;
  /** The metadata service, when `metadata` was given. */
  readonly metadata: MetadataService | undefined;
  /**
   * Real TCP listeners on 127.0.0.1 for the access ports of chosen encode servers, which their records then list as
   * public 127.0.0.1:port (port-listeners.ts); all closed by `close()`.
   */
  readonly listeners: PortListeners;
}
