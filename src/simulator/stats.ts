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
  operations: Record<string, OperationStats>;
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
  private completedDepth = 0;
  private readonly projectMap = new Map<string, ProjectCounters>();
  private readonly akFailures = new Map<string, number>();
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
      authFailuresByAccessKey: Object.fromEntries(this.akFailures),
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
