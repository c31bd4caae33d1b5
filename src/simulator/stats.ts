/** The simulator's counters over API requests, read by tests and benchmarks (`sim.stats`, `GET /_sim/stats`). */
import type { ServerResponse } from 'node:http';

export interface ProjectStats {
  requests: number;
  inFlight: number;
  maxInFlight: number;
  /** Largest round-trip depth of any request of the project (see `SimulatorStats`). */
  maxDepth: number;
}

/** Counters of one API operation (across projects). */
export interface OperationStats {
  requests: number;
  /** Largest round-trip depth among this operation's requests, counted on their own (see `SimulatorStats`). */
  maxDepth: number;
  /** Every distinct `limit` query value sent, as sent, sorted. */
  limits: string[];
}

/** What happened to one access key at the gateway. */
export interface AccessKeyStats {
  /** Failed authentications (lockout rejections included). */
  authFailures: number;
  /** Longest run of consecutive failed authentications the lockout counter reached (0 after a reset counts again). */
  maxConsecutiveFailures: number;
  /** Times the AK was locked. */
  lockouts: number;
  /** Epoch ms (the simulator's clock) of the last lock, or null if it was never locked. */
  lastLockedAt: number | null;
}

/** One failed authentication, as the gateway saw it. */
export interface AuthFailureEvent {
  /** Epoch ms on the simulator's clock. */
  at: number;
  accessKey: string;
  /** The path's project id, if the route has one. */
  projectId: string | null;
  /** Whether the AK was already locked (the request was refused without checking its signature). */
  whileLocked: boolean;
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
  /** Per AK: failures, longest consecutive run, lockouts. An AK absent here never failed. */
  accessKeys: Record<string, AccessKeyStats>;
  /** Total AK lockouts. */
  lockouts: number;
  /** The last `AUTH_FAILURE_LOG_SIZE` failed authentications, oldest first. */
  authFailureLog: AuthFailureEvent[];
  responsesByStatus: Record<string, number>;
  faultsInjected: Record<string, number>;
  operations: Record<string, OperationStats>;
}

interface ProjectCounters extends ProjectStats {
  /** Largest depth among completed requests. */
  completedDepth: number;
}

/** How many failed authentications `authFailureLog` keeps. */
export const AUTH_FAILURE_LOG_SIZE = 1000;

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
  private completedDepth = 0;
  private readonly projectMap = new Map<string, ProjectCounters>();
  /** Total AK lockouts. */
  lockouts = 0;
  private readonly akStats = new Map<string, AccessKeyStats>();
  private authFailureLog: AuthFailureEvent[] = [];
  private readonly statuses = new Map<number, number>();
  private readonly faults = new Map<string, number>();
  private readonly operationMap = new Map<string, { requests: number; maxDepth: number; completedDepth: number; limits: Set<string> }>();

  /** Counters of one project (zeros if it had no request). */
  project(projectId: string): ProjectStats {
    const p = this.projectMap.get(projectId);
    return p
      ? { requests: p.requests, inFlight: p.inFlight, maxInFlight: p.maxInFlight, maxDepth: p.maxDepth }
      : { requests: 0, inFlight: 0, maxInFlight: 0, maxDepth: 0 };
  }

  /**
   * Counters of one API operation (`ListCloudPhones`, ...). Its depth counts its own requests only, so a listing's
   * round trips show even while other resources are listed at the same time.
   */
  operation(name: string): OperationStats {
    const o = this.operationMap.get(name);
    return o ? { requests: o.requests, maxDepth: o.maxDepth, limits: [...o.limits].sort() } : { requests: 0, maxDepth: 0, limits: [] };
  }

  /** Failed authentications of one access key. */
  authFailuresFor(accessKey: string): number {
    return this.akStats.get(accessKey)?.authFailures ?? 0;
  }

  /** What the gateway counted for one access key (zeros, never locked, if it never failed). */
  accessKey(accessKey: string): AccessKeyStats {
    const a = this.akStats.get(accessKey);
    return a ? { ...a } : { authFailures: 0, maxConsecutiveFailures: 0, lockouts: 0, lastLockedAt: null };
  }

  /** The last failed authentications (at most `AUTH_FAILURE_LOG_SIZE`), oldest first. */
  authFailureEvents(): AuthFailureEvent[] {
    return this.authFailureLog.map((e) => ({ ...e }));
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
    this.lockouts = 0;
    this.completedDepth = 0;
    this.projectMap.clear();
    this.akStats.clear();
    this.authFailureLog = [];
    this.statuses.clear();
    this.faults.clear();
    this.operationMap.clear();
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
      authFailuresByAccessKey: Object.fromEntries([...this.akStats].map(([k, a]) => [k, a.authFailures])),
      accessKeys: Object.fromEntries([...this.akStats].map(([k, a]) => [k, { ...a }])),
      lockouts: this.lockouts,
      authFailureLog: this.authFailureEvents(),
      responsesByStatus: Object.fromEntries([...this.statuses].map(([k, v]) => [String(k), v])),
      faultsInjected: Object.fromEntries(this.faults),
      operations: Object.fromEntries([...this.operationMap.keys()].map((k) => [k, this.operation(k)])),
    };
  }

  /**
   * Counts one API request from its arrival to its end (response finished or connection closed): in flight, depth,
   * and its status when the response finished. `projectId` undefined: not a project's request; `operation`
   * undefined: no API route matched. `limits`: the request's `limit` query values, as sent.
   */
  track(res: ServerResponse, projectId: string | undefined, operation?: string, limits: readonly string[] = []): void {
    const generation = this.generation;
    this.totalRequests++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const depth = this.completedDepth + 1;
    this.maxDepth = Math.max(this.maxDepth, depth);
    const pc = projectId !== undefined ? this.projectCounters(projectId) : undefined;
    let pDepth = 0;
    if (pc) {
      pc.requests++;
      pc.inFlight++;
      pc.maxInFlight = Math.max(pc.maxInFlight, pc.inFlight);
      pDepth = pc.completedDepth + 1;
      pc.maxDepth = Math.max(pc.maxDepth, pDepth);
    }
    let op: { requests: number; maxDepth: number; completedDepth: number; limits: Set<string> } | undefined;
    let opDepth = 0;
    if (operation !== undefined) {
      op = this.operationMap.get(operation);
      if (!op) {
        op = { requests: 0, maxDepth: 0, completedDepth: 0, limits: new Set() };
        this.operationMap.set(operation, op);
      }
      op.requests++;
      for (const l of limits) op.limits.add(l);
      opDepth = op.completedDepth + 1;
      op.maxDepth = Math.max(op.maxDepth, opDepth);
    }
    let completed = false;
    const complete = (): void => {
      if (completed) return;
      completed = true;
      if (this.generation !== generation) return; // arrived before a reset
      this.inFlight--;
      this.completedDepth = Math.max(this.completedDepth, depth);
      if (res.writableFinished) this.countStatus(res.statusCode); // not for resets, hangs, aborted streams
      if (pc) {
        pc.inFlight--;
        pc.completedDepth = Math.max(pc.completedDepth, pDepth);
      }
      if (op) op.completedDepth = Math.max(op.completedDepth, opDepth);
    };
    res.once('finish', complete);
    res.once('close', complete);
  }

  private projectCounters(projectId: string): ProjectCounters {
    let p = this.projectMap.get(projectId);
    if (!p) {
      p = { requests: 0, inFlight: 0, maxInFlight: 0, maxDepth: 0, completedDepth: 0 };
      this.projectMap.set(projectId, p);
    }
    return p;
  }

  /** @internal `consecutive`: the AK's run after this failure (0 when refused while locked). */
  countAuthFailure(event: AuthFailureEvent, consecutive: number): void {
    this.authFailures++;
    const a = this.akEntry(event.accessKey);
    a.authFailures++;
    a.maxConsecutiveFailures = Math.max(a.maxConsecutiveFailures, consecutive);
    this.authFailureLog.push(event);
    if (this.authFailureLog.length > AUTH_FAILURE_LOG_SIZE) this.authFailureLog.shift();
  }

  /** @internal */ countLockout(accessKey: string, at: number): void {
    this.lockouts++;
    const a = this.akEntry(accessKey);
    a.lockouts++;
    a.lastLockedAt = at;
  }

  private akEntry(accessKey: string): AccessKeyStats {
    let a = this.akStats.get(accessKey);
    if (!a) {
      a = { authFailures: 0, maxConsecutiveFailures: 0, lockouts: 0, lastLockedAt: null };
      this.akStats.set(accessKey, a);
    }
    return a;
  }

  /** @internal */ countStatus(status: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    if (status === 429) this.throttled++;
  }

  /** @internal */ countFault(kind: string): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1);
  }
}
