import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { FailureReason } from '../../src/cph/errors.js';
import type { RunningExporter } from '../../src/exporter.js';
import { type FaultSpec, WEIRD_NAMES } from '../../src/simulator/faults.js';
import type { Simulator } from '../../src/simulator/server.js';
import { FakeClock, startClockedExporter } from '../helpers/clocked-exporter.js';
import type { Family } from '../helpers/exposition.js';
import { DEMO_CREDENTIALS, startSimulator } from '../helpers/harness.js';
import { promtool } from '../helpers/tools.js';
import { promtoolCheck, scrapeValid } from '../helpers/validity.js';

/*
 * Every fault the simulator can inject, against the exporter in-process over real HTTP.
 * P1 is the target under fault, P2 a healthy control on the same endpoint. Wall-clock deadlines
 * (max staleness, auth back-off) are reached with a fake clock; request timeouts and retry
 * back-offs are real but short.
 */

const P1 = 'f0000000000000000000000000000001';
const P2 = 'f0000000000000000000000000000002';

const MAX_STALENESS_MS = 30_000;
const AUTH_BACKOFF_MS = 60_000;
/** The encode-server listing's faults (the phone listings have their own tests: test/poller/estate-*.test.ts). */
const CONFIG = {
  resources: ['encode_servers'],
  poll: { schedule: '*/10 * * * * *', timeout: '4s', max_staleness: '30s', auth_failure_backoff: '1m', page_size: 10, concurrency: 4 },
  api: { connect_timeout: '1s', request_timeout: '300ms', max_retries: 2, max_response_bytes: '256KiB', requests_per_second: 200, burst: 200 },
};
type RetryReason = 'throttled' | 'server_error' | 'timeout' | 'network';

/** What a scrape says, read through a parsed and validated exposition. */
class View {
  constructor(
    readonly text: string,
    readonly families: Map<string, Family>,
  ) {}
  private samples(name: string, match: Record<string, string> = {}) {
    const out = [];
    for (const f of this.families.values()) {
      for (const s of f.samples) if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) out.push(s);
    }
    return out;
  }
  up(projectId: string): number | undefined {
    return this.samples('cph_up', { project_id: projectId })[0]?.value;
  }
  failures(projectId: string, reason?: string): number {
    return this.samples('cph_poll_failures_total', { project_id: projectId, ...(reason ? { reason } : {}) }).reduce((a, s) => a + s.value, 0);
  }
  errorReasons(projectId: string): string[] {
    return this.samples('cph_poll_error', { project_id: projectId }).map((s) => s.labels['reason'] as string);
  }
  retries(reason: string): number {
    return this.samples('cph_api_retries_total', { reason }).reduce((a, s) => a + s.value, 0);
  }
  backoff(projectId: string): number | undefined {
    return this.samples('cph_target_auth_backoff_seconds', { project_id: projectId })[0]?.value;
  }
  lastSuccess(projectId: string): number | undefined {
    return this.samples('cph_poll_last_success_timestamp_seconds', { project_id: projectId })[0]?.value;
  }
  infos(projectId: string) {
    return this.samples('cph_encode_server_info', { project_id: projectId });
  }
  infoIds(projectId: string): string[] {
    return this.infos(projectId)
      .map((s) => s.labels['encode_server_id'] as string)
      .sort();
  }
  servers(projectId: string): number {
    return this.samples('cph_encode_servers', { project_id: projectId }).reduce((a, s) => a + s.value, 0);
  }
  resourceSeries(projectId: string): number {
    return ['cph_encode_servers', 'cph_encode_server_ports', 'cph_encode_server_info'].reduce((a, n) => a + this.samples(n, { project_id: projectId }).length, 0);
  }
}

let sim: Simulator;
let exporter: RunningExporter | undefined;
let clock: FakeClock;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

async function view(ctx?: TestContext): Promise<View> {
  const { text, families } = await scrapeValid(exporter!.url);
  if (ctx) {
    const tool = promtool(ctx);
    if (tool) promtoolCheck(tool, text);
  }
  // The process is up: the other routes still answer.
  expect((await fetch(`${exporter!.url}/healthz`)).status).toBe(200);
  return new View(text, families);
}

async function pollAt(advanceMs: number): Promise<void> {
  clock.advance(advanceMs);
  await exporter!.poll();
}

function fleetIds(projectId: string): string[] {
  return sim
    .fleet(projectId)
    .items.map((e) => e.encode_server_id)
    .sort();
}

/** The target's resource series are exactly its current fleet. */
function expectFresh(v: View, projectId: string): void {
  expect(v.up(projectId)).toBe(1);
  expect(v.errorReasons(projectId)).toEqual([]);
  expect(v.infoIds(projectId)).toEqual(fleetIds(projectId));
  expect(v.servers(projectId)).toBe(sim.fleet(projectId).size);
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  sim = await startSimulator({
    seed: 99,
    projects: { [P1]: { encodeServers: 25, cloudPhoneServers: 5 }, [P2]: { encodeServers: 12, cloudPhoneServers: 2 } },
  });
});

afterEach(async () => {
  await exporter?.stop();
  exporter = undefined;
  sim.faults.clear();
  sim.clearLockouts();
});

afterAll(async () => {
  await sim?.close();
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

async function start(): Promise<View> {
  sim.faults.clear();
  sim.resetStats();
  clock = new FakeClock();
  exporter = await startClockedExporter(sim, { targets: [{ projectId: P1 }, { projectId: P2 }], raw: CONFIG, clock });
  const v = await view();
  expectFresh(v, P1);
  expectFresh(v, P2);
  return v;
}

describe('a fault that a retry gets past: the target stays up and the retry is counted', () => {
  // That the client waits as long as Retry-After asks is shown in test/cph/client.test.ts (the timer it sets).
  const rows: Array<{ name: string; fault: FaultSpec; retry: RetryReason }> = [
    { name: '429 with Retry-After: 1', fault: { kind: 'throttle', retryAfterSeconds: 1 }, retry: 'throttled' },
    { name: '429 without Retry-After', fault: { kind: 'throttle-no-retry-after' }, retry: 'throttled' },
    { name: '502', fault: { kind: 'error-502' }, retry: 'server_error' },
    { name: '503', fault: { kind: 'error-503' }, retry: 'server_error' },
    { name: '504', fault: { kind: 'error-504' }, retry: 'server_error' },
    { name: '502 HTML gateway page', fault: { kind: 'html-502' }, retry: 'server_error' },
    { name: 'connection reset mid-body', fault: { kind: 'reset' }, retry: 'network' },
    { name: 'hang past the request timeout', fault: { kind: 'hang' }, retry: 'timeout' },
  ];
  it.each(rows)('$name', async ({ fault, retry }) => {
    await start();
    sim.faults.set({ ...fault, projectId: P1, count: 1 });
    await pollAt(1000);
    const v = await view();
    expect(sim.stats.faultsInjectedOf(fault.kind)).toBe(1);
    expectFresh(v, P1);
    expectFresh(v, P2);
    expect(v.failures(P1)).toBe(0);
    expect(v.retries(retry)).toBe(1);
  });
});

describe('a fault that persists: cph_up 0 with the reason, last good series kept until max staleness, then recovery', () => {
  const rows: Array<{ name: string; fault: FaultSpec; reason: FailureReason; retried?: boolean; key?: boolean }> = [
    { name: '429 with Retry-After: 0', fault: { kind: 'throttle', retryAfterSeconds: 0 }, reason: 'throttled', retried: true },
    { name: '429 without Retry-After', fault: { kind: 'throttle-no-retry-after' }, reason: 'throttled', retried: true },
    { name: '500', fault: { kind: 'error-500' }, reason: 'server_error', retried: false },
    { name: '502', fault: { kind: 'error-502' }, reason: 'server_error', retried: true },
    { name: '503', fault: { kind: 'error-503' }, reason: 'server_error', retried: true },
    { name: '504', fault: { kind: 'error-504' }, reason: 'server_error', retried: true },
    { name: '502 HTML gateway page', fault: { kind: 'html-502' }, reason: 'server_error', retried: true },
    { name: '200 with a JSON body but Content-Type text/html', fault: { kind: 'wrong-content-type' }, reason: 'bad_response', retried: false },
    { name: '200 with an HTML page', fault: { kind: 'wrong-content-type', htmlBody: true }, reason: 'bad_response', retried: false },
    { name: 'connection reset mid-body', fault: { kind: 'reset' }, reason: 'network', retried: true },
    { name: 'hang past the request timeout', fault: { kind: 'hang' }, reason: 'timeout', retried: true },
    { name: 'malformed JSON', fault: { kind: 'malformed-json' }, reason: 'bad_response', retried: false },
    { name: 'truncated JSON', fault: { kind: 'truncated-json' }, reason: 'bad_response', retried: false },
    { name: 'oversized body, chunked', fault: { kind: 'oversized', sizeBytes: 1 << 20 }, reason: 'bad_response', retried: false },
    { name: 'oversized body, Content-Length', fault: { kind: 'oversized', sizeBytes: 1 << 20, contentLength: true }, reason: 'bad_response', retried: false },
    { name: 'fields of the wrong type', fault: { kind: 'wrong-types' }, reason: 'bad_response', retried: false },
    { name: 'missing encode_servers', fault: { kind: 'missing-list' }, reason: 'bad_response', retried: false },
    { name: '403 APIGW.0302 (this project)', fault: { kind: 'forbidden' }, reason: 'auth', retried: false },
    { name: '401 APIGW.0301 bad signature (the key: every target)', fault: { kind: 'bad-signature' }, reason: 'auth', retried: false, key: true },
  ];

  it.for(rows)('$name', async (row, ctx) => {
    const { fault, reason, key } = row;
    const before = await start();
    const goodP1 = before.infoIds(P1);
    const t0 = before.lastSuccess(P1);
    const p1Requests = (): number => sim.stats.project(P1).requests;

    // The fault appears. A signature failure concerns the key, so it is not scoped to a project.
    sim.faults.set(key ? fault : { ...fault, projectId: P1 });
    sim.resetStats();
    await pollAt(1000);
    const failed = await view(ctx);
    expect(failed.up(P1)).toBe(0);
    expect(failed.failures(P1, reason)).toBe(1);
    expect(failed.failures(P1)).toBe(1);
    expect(failed.errorReasons(P1)).toEqual([reason]);
    expect(failed.infoIds(P1)).toEqual(goodP1); // the last complete listing, not a partial one
    expect(failed.lastSuccess(P1)).toBe(t0);
    const attempts = row.retried ? 1 + CONFIG.api.max_retries : 1;
    expect(p1Requests()).toBe(attempts);
    expect(failed.retries('throttled') + failed.retries('server_error') + failed.retries('timeout') + failed.retries('network')).toBe(attempts - 1);
    if (reason === 'auth') expect(failed.backoff(P1)).toBe(AUTH_BACKOFF_MS / 1000);
    else expect(failed.backoff(P1)).toBe(0);
    if (key) {
      // One failed authentication for the whole key: P2 was held back, not sent.
      expect(sim.stats.authFailuresFor(DEMO_CREDENTIALS.accessKey)).toBe(1);
      expect(sim.lockedUntil(DEMO_CREDENTIALS.accessKey)).toBeUndefined();
      expect(failed.up(P2)).toBe(0);
      expect(failed.errorReasons(P2)).toEqual(['auth']);
    } else {
      expectFresh(failed, P2);
    }

    // Just before max staleness: still failing (or held back), series still there.
    sim.resetStats();
    await pollAt(MAX_STALENESS_MS - 2000);
    const stale = await view();
    expect(stale.up(P1)).toBe(0);
    expect(stale.infoIds(P1)).toEqual(goodP1);
    if (reason === 'auth') expect(p1Requests()).toBe(0); // in back-off: not even tried
    else expect(stale.failures(P1, reason)).toBe(2);

    // Past max staleness: the resource series go, the health series stay.
    await pollAt(2000);
    const gone = await view();
    expect(gone.resourceSeries(P1)).toBe(0);
    expect(gone.up(P1)).toBe(0);
    expect(gone.errorReasons(P1)).toEqual([reason]);
    expect(gone.lastSuccess(P1)).toBe(t0);
    expect(gone.failures(P1, reason)).toBeGreaterThanOrEqual(1);
    if (!key) expectFresh(gone, P2);
    if (reason === 'auth') expect(p1Requests()).toBe(0);
    if (key) expect(sim.stats.authFailuresFor(DEMO_CREDENTIALS.accessKey)).toBe(0); // held back for the whole window

    // The fault clears (and, after an auth failure, the back-off runs out): everything recovers.
    sim.faults.clear();
    await pollAt(reason === 'auth' ? AUTH_BACKOFF_MS : 1000);
    const healed = await view();
    expectFresh(healed, P1);
    expectFresh(healed, P2);
    expect(healed.backoff(P1)).toBe(0);
  });
});

describe('odd but valid data: accepted, escaped, and the exposition stays valid', () => {
  it('unknown enum values become "unknown" / "custom", with the raw status kept', async (ctx) => {
    await start();
    sim.faults.set({ kind: 'unknown-enums', projectId: P1 });
    await pollAt(1000);
    const v = await view(ctx);
    expect(v.up(P1)).toBe(1);
    expect(v.infoIds(P1)).toEqual(fleetIds(P1));
    for (const s of v.infos(P1)) expect(s.labels).toMatchObject({ type: 'unknown', status: 'unknown', status_code: '42' });
    expect(v.text).toMatch(new RegExp(`cph_encode_server_ports\\{project_id="${P1}",[^}]*port_type="custom"`));
    expectFresh(v, P2);
  });

  it('over-long, unicode, control, quote, backslash and newline characters in names round-trip', async (ctx) => {
    await start();
    sim.faults.set({ kind: 'weird-names', projectId: P1 });
    await pollAt(1000);
    const v = await view(ctx);
    expect(v.up(P1)).toBe(1);
    // What a UTF-8 encoder makes of each name (a lone surrogate becomes U+FFFD).
    const wellFormed = new Set(WEIRD_NAMES.map((n) => Buffer.from(n, 'utf8').toString('utf8')));
    const names = new Set(v.infos(P1).flatMap((s) => [s.labels['encode_server_name'], s.labels['keypair_name']]));
    expect(names.size).toBeGreaterThanOrEqual(WEIRD_NAMES.length - 1);
    for (const n of names) expect(wellFormed).toContain(n);
    sim.faults.clear();
    await pollAt(1000);
    expectFresh(await view(), P1);
  });

  it.for([
    { name: 'records inserted at the front between two pages', by: 7 },
    { name: 'records removed from the front between two pages', by: -7 },
  ])('$name: the listing notices the shift, lists again and publishes the fleet after the change', async ({ by }, ctx) => {
    await start();
    const sizeBefore = sim.fleet(P1).size;
    // Pages of 10 overlap by one record: the second page starts at offset 9.
    sim.faults.set({ kind: 'shift', by, offset: 9, projectId: P1, count: 1 });
    sim.resetStats();
    await pollAt(1000);
    const v = await view(ctx);
    expect(sim.fleet(P1).size).toBe(sizeBefore + by);
    expectFresh(v, P1);
    expect(v.failures(P1)).toBe(0);
    // The first listing stopped at its shifted second page; the second one took every page again
    // (plus up to concurrency - 1 look-ahead requests past the end, as its listing had grown or shrunk).
    const pages = (n: number): number => (n < 10 ? 1 : Math.floor((n - 10) / 9) + 2);
    expect(sim.stats.project(P1).requests).toBeGreaterThanOrEqual(2 + pages(sizeBefore + by));
    expect(sim.stats.project(P1).requests).toBeLessThanOrEqual(pages(sizeBefore) + pages(sizeBefore + by) + CONFIG.poll.concurrency - 1);
  });

  it('a listing that shifts again when listed a second time publishes nothing new, counted as inconsistent', async (ctx) => {
    const before = await start();
    sim.faults.set({ kind: 'shift', by: -1, offset: 9, projectId: P1, count: 2 });
    await pollAt(1000);
    const v = await view(ctx);
    expect(v.up(P1)).toBe(0);
    expect(v.errorReasons(P1)).toEqual(['inconsistent']);
    expect(v.failures(P1, 'inconsistent')).toBe(1);
    expect(v.infoIds(P1)).toEqual(before.infoIds(P1)); // the last complete listing, not a mix
    expectFresh(v, P2);
    await pollAt(1000);
    expectFresh(await view(), P1);
  });
});

describe('the poll deadline', () => {
  it.for([
    // Attempts end at the 500 ms request timeout; the second, after a 100-200 ms back-off, is cut by the 1 s
    // deadline, so the third that max_retries (2) allows is never sent.
    { name: 'requests hanging until the deadline', fault: { kind: 'hang' } as FaultSpec, requests: { atMost: 2 }, reason: 'timeout' },
    // The server asks for 5 s: the retry would come after the deadline, so it is never sent.
    { name: 'a retry back-off (Retry-After: 5) running past the deadline', fault: { kind: 'throttle', retryAfterSeconds: 5 } as FaultSpec, requests: { atMost: 1 }, reason: 'throttled' },
  ])('$name: cut at the deadline (the retries it cut never reach the API), leaving no request, socket or timer behind', async ({ fault, requests, reason }) => {
    sim.faults.clear();
    sim.resetStats();
    clock = new FakeClock();
    exporter = await startClockedExporter(sim, {
      targets: [{ projectId: P1 }],
      raw: { resources: CONFIG.resources, poll: { ...CONFIG.poll, timeout: '1s' }, api: { ...CONFIG.api, request_timeout: '500ms' } },
      clock,
    });
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await pollAt(1000); // within the known listing: no look-ahead request of the start-up poll is left to count
    sim.resetStats();
    sim.faults.set({ ...fault, projectId: P1 });
    await pollAt(1000);
    const v = await view();
    expect(v.up(P1)).toBe(0);
    expect(v.errorReasons(P1)).toEqual([reason]);
    expect(sim.stats.project(P1).requests).toBeGreaterThanOrEqual(1);
    expect(sim.stats.project(P1).requests).toBeLessThanOrEqual(requests.atMost);
    // The simulator saw the client go: nothing is held open on its side.
    await new Promise((r) => setTimeout(r, 50));
    expect(sim.stats.inFlight).toBe(0);
    expect(timers()).toBeLessThanOrEqual(before);
    sim.faults.clear();
  });
});
