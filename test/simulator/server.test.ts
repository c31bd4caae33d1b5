import { afterEach, describe, expect, it } from 'vitest';
import type { EncodeServer } from '../../src/cph/types.js';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { DEMO, P1, P2, admin, call, list, listUrl, until } from './helpers.js';

let sims: Simulator[] = [];
async function start(options: SimulatorOptions = {}): Promise<{ sim: Simulator; base: string }> {
  const sim = createSimulator({ seed: 5, projects: { [P1]: { encodeServers: 1234, cloudPhoneServers: 40 } }, ...options });
  sims.push(sim);
  return { sim, base: await sim.listen() };
}
afterEach(async () => {
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});

function expectRequestId(r: { headers: Headers; json: any }): void {
  const id = r.headers.get('x-request-id');
  expect(id).toMatch(/^[0-9a-f]{32}$/);
  expect(r.json?.request_id).toBe(id);
}

describe('ListEncodeServers route', () => {
  it('answers like the API', async () => {
    const { sim, base } = await start();
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.url).toBe(base);
    const r = await list(base, P1, 'offset=0&limit=3');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expectRequestId(r);
    expect(Object.keys(r.json)).toEqual(['request_id', 'encode_servers']);
    expect(r.json.encode_servers).toEqual(sim.fleet(P1).items.slice(0, 3));
    // Default limit is 100.
    expect((await list(base, P1)).json.encode_servers).toHaveLength(100);
  });

  it('pages over offset/limit returning every item exactly once', async () => {
    const { sim, base } = await start();
    for (const limit of [100, 7]) {
      const seen: string[] = [];
      for (let offset = 0; ; offset += limit) {
        const r = await list(base, P1, `offset=${offset}&limit=${limit}`);
        expect(r.status).toBe(200);
        seen.push(...r.json.encode_servers.map((e: EncodeServer) => e.encode_server_id));
        if (r.json.encode_servers.length < limit) break;
      }
      expect(seen).toEqual(sim.fleet(P1).items.map((e) => e.encode_server_id));
      expect(new Set(seen).size).toBe(1234);
    }
    expect((await list(base, P1, 'offset=5000')).json.encode_servers).toEqual([]);
  });

  it('filters by type, status and server_id, and pages over the filtered list', async () => {
    const { sim, base } = await start();
    const items = sim.fleet(P1).items;
    const collect = async (filter: string): Promise<EncodeServer[]> => {
      const out: EncodeServer[] = [];
      for (let offset = 0; ; offset += 50) {
        const r = await list(base, P1, `${filter}&offset=${offset}&limit=50`);
        expect(r.status).toBe(200);
        out.push(...r.json.encode_servers);
        if (r.json.encode_servers.length < 50) return out;
      }
    };
    expect(await collect('type=0')).toEqual(items.filter((e) => e.type === 0));
    expect(await collect('type=1&status=1')).toEqual(items.filter((e) => e.type === 1 && e.status === 1));
    expect(await collect('status=1014')).toEqual(items.filter((e) => e.status === 1014));
    const sid = sim.fleet(P1).serverIds[3] as string;
    const bySid = await collect(`server_id=${sid}`);
    expect(bySid.length).toBeGreaterThan(0);
    expect(bySid).toEqual(items.filter((e) => e.server_id === sid));
    expect((await list(base, P1, 'type=7')).json.encode_servers).toEqual([]);
  });

  it('rejects invalid parameters with the documented codes', async () => {
    const { base } = await start();
    const cases: [string, number, string][] = [
      ['offset=-1', 400, 'CPS.0002'],
      ['offset=abc', 400, 'CPS.0002'],
      ['offset=1.5', 400, 'CPS.0002'],
      ['offset=', 400, 'CPS.0002'],
      ['offset=99999999999', 400, 'CPS.0002'],
      ['limit=0', 400, 'CPS.0002'],
      ['limit=101', 400, 'CPS.0002'],
      ['limit=ten', 400, 'CPS.0002'],
      ['limit=10&limit=20', 400, 'CPS.0002'],
      ['status=abc', 400, 'CPS.0010'],
      ['status=42', 400, 'CPS.0010'],
      ['server_id=not-an-id', 400, 'CPS.0016'],
      ['server_id=', 400, 'CPS.0016'],
      ['type=x', 400, 'APIGW.0201'],
    ];
    for (const [query, status, code] of cases) {
      const r = await list(base, P1, query);
      expect([query, r.status, r.json?.error_code]).toEqual([query, status, code]);
      expectRequestId(r);
    }
    const bad = await list(base, P1, 'limit=0');
    expect(bad.json.error_msg).toBe('Parameter: offset or limit is invalid.');
    for (const q of ['limit=1', 'limit=100', 'offset=0', 'status=0', 'status=100', 'type=0', 'unknown=1']) {
      expect((await list(base, P1, q)).status).toBe(200);
    }
  });

  it('answers 404 APIGW.0101 for a wrong method or path', async () => {
    const { base } = await start();
    const post = await call(listUrl(base, P1), { method: 'POST' });
    expect([post.status, post.json.error_code]).toEqual([404, 'APIGW.0101']);
    expectRequestId(post);
    for (const path of [`/v1/${P1}/cloud-phone/images`, `/v1/${P1}/cloud-phone/encode-servers/x`, '/', '/v2/x']) {
      const r = await call(new URL(`${base}${path}`));
      expect([path, r.status, r.json.error_code]).toEqual([path, 404, 'APIGW.0101']);
    }
  });

  it('serves a default fleet for other project ids only when configured', async () => {
    const { base } = await start({ defaultFleet: { encodeServers: 30, cloudPhoneServers: 3 } });
    const r = await list(base, P2);
    expect(r.json.encode_servers).toHaveLength(30);
    // Different project ids get different fleets.
    expect(r.json.encode_servers[0].encode_server_id).not.toBe((await list(base, P1)).json.encode_servers[0].encode_server_id);
    const { base: strict } = await start();
    const denied = await list(strict, P2);
    expect([denied.status, denied.json.error_code, denied.json.error_msg]).toEqual([403, 'CPS.0001', 'No permission to request resources.']);
  });
});

describe('authentication', () => {
  it('rejects missing, wrong and unknown-AK signatures with 401 APIGW.0301', async () => {
    const { sim, base } = await start();
    for (const opts of [
      { credentials: null },
      { credentials: { ...DEMO, secretKey: 'wrong' } },
      { credentials: { accessKey: 'UNKNOWNAK', secretKey: 'x' } },
    ]) {
      const r = await list(base, P1, '', opts);
      expect([r.status, r.json.error_code, r.json.error_msg]).toEqual([401, 'APIGW.0301', 'verify aksk signature fail']);
      expectRequestId(r);
    }
    expect(sim.stats.authFailuresFor(DEMO.accessKey)).toBe(1);
    expect(sim.stats.authFailuresFor('UNKNOWNAK')).toBe(1);
    expect(sim.stats.authFailures).toBe(3);
  });

  it('accepts any request when signatures are not checked', async () => {
    const { sim, base } = await start({ verifySignatures: false });
    expect((await list(base, P1, '', { credentials: null })).status).toBe(200);
    sim.verifySignatures = true;
    expect((await list(base, P1, '', { credentials: null })).status).toBe(401);
  });

  it('honours a signed X-Project-Id', async () => {
    const { base } = await start();
    expect((await list(base, P1, '', { headers: { 'X-Project-Id': P1 } })).status).toBe(200);
    const r = await list(base, P1, '', { headers: { 'X-Project-Id': P2 } });
    expect([r.status, r.json.error_code]).toEqual([403, 'CPS.0001']);
  });

  it('locks an AK after 5 consecutive failures, also for correct signatures, until the lockout passes', async () => {
    const clock = new ManualClock();
    const { sim, base } = await start({ clock, lockout: { durationMs: 5 * 60_000 } });
    const wrong = { credentials: { ...DEMO, secretKey: 'wrong' } };
    // A success resets the consecutive count.
    for (let i = 0; i < 4; i++) expect((await list(base, P1, '', wrong)).status).toBe(401);
    expect((await list(base, P1)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await list(base, P1, '', wrong)).status).toBe(401);
    expect((await list(base, P1)).status).toBe(200);
    expect(sim.lockedUntil(DEMO.accessKey)).toBeUndefined();
    // Five in a row lock it.
    for (let i = 0; i < 5; i++) {
      const r = await list(base, P1, '', wrong);
      expect(r.json.error_msg).toBe('verify aksk signature fail');
    }
    expect(sim.lockedUntil(DEMO.accessKey)).toBe(clock.now() + 5 * 60_000);
    const locked = await list(base, P1);
    expect([locked.status, locked.json.error_code, locked.json.error_msg]).toEqual([
      401,
      'APIGW.0301',
      'AK access failed to reach the limit,forbidden',
    ]);
    // Other AKs are not affected.
    sim.setCredential('OTHERAK', 'othersecret');
    expect((await list(base, P1, '', { credentials: { accessKey: 'OTHERAK', secretKey: 'othersecret' } })).status).toBe(200);
    clock.advance(5 * 60_000 - 1);
    expect((await list(base, P1)).status).toBe(401);
    clock.advance(1);
    expect(sim.lockedUntil(DEMO.accessKey)).toBeUndefined();
    expect((await list(base, P1)).status).toBe(200);
  });

  it('clearLockouts unlocks', async () => {
    const { sim, base } = await start();
    for (let i = 0; i < 5; i++) await list(base, P1, '', { credentials: { ...DEMO, secretKey: 'bad' } });
    expect((await list(base, P1)).status).toBe(401);
    sim.clearLockouts();
    expect((await list(base, P1)).status).toBe(200);
  });
});

describe('rate limit', () => {
  it('answers 429 APIGW.0308 with Retry-After beyond the bucket', async () => {
    const clock = new ManualClock();
    const { sim, base } = await start({ clock, rateLimit: { requestsPerSecond: 1, burst: 2 } });
    expect((await list(base, P1)).status).toBe(200);
    expect((await list(base, P1)).status).toBe(200);
    const r = await list(base, P1);
    expect([r.status, r.json.error_code]).toEqual([429, 'APIGW.0308']);
    expect(r.json.error_msg).toMatch(/^The throttling threshold has been reached: policy user over ratelimit,limit:60,time:1 minute$/);
    expect(r.headers.get('retry-after')).toBe('1');
    expectRequestId(r);
    expect(sim.stats.throttled).toBe(1);
    clock.advance(999);
    expect((await list(base, P1)).status).toBe(429);
    clock.advance(1);
    expect((await list(base, P1)).status).toBe(200);
  });

  it('can omit Retry-After, and is changeable at run time', async () => {
    const { sim, base } = await start();
    sim.setRateLimit({ requestsPerSecond: 0.5, burst: 1, retryAfter: false });
    expect((await list(base, P1)).status).toBe(200);
    const r = await list(base, P1);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBeNull();
    sim.setRateLimit(undefined);
    expect((await list(base, P1)).status).toBe(200);
  });
});

describe('counters', () => {
  it('counts requests, in-flight and round-trip depth for a known pattern', async () => {
    const clock = new ManualClock();
    const { sim, base } = await start({ clock, latencyMs: 100, defaultFleet: { encodeServers: 10, cloudPhoneServers: 1 } });
    /** Lets `requests` through once all of them wait in their latency: one round trip, however slow the machine. */
    const round = async <T>(requests: Promise<T>, waiting: number, ms = 100): Promise<T> => {
      await until(() => clock.pending === waiting);
      clock.advance(ms);
      return requests;
    };
    // Three sequential requests: depths 1, 2, 3.
    for (let i = 0; i < 3; i++) await round(list(base, P2), 1);
    expect(sim.stats.project(P2)).toEqual({ requests: 3, inFlight: 0, maxInFlight: 1, maxDepth: 3 });

    sim.resetStats();
    expect(sim.stats.totalRequests).toBe(0);
    // 10 pages with 3 workers: ceil(10 / 3) = 4 round trips.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < 10) {
        const offset = next++ * 100;
        expect((await list(base, P1, `offset=${offset}`)).status).toBe(200);
      }
    };
    const workers = Promise.all([worker(), worker(), worker()]);
    for (const waiting of [3, 3, 3, 1]) await round(Promise.resolve(), waiting);
    await workers;
    expect(sim.stats.project(P1)).toEqual({ requests: 10, inFlight: 0, maxInFlight: 3, maxDepth: 4 });
    expect(sim.stats.maxDepth).toBe(4);

    // Two rounds of 4 concurrent requests: depth 2, max in flight 4; another project does not add depth to P1.
    sim.resetStats();
    const four = () => Promise.all([1, 2, 3, 4].map(() => list(base, P1)));
    await round(four(), 4);
    await round(list(base, P2), 1);
    await round(four(), 4);
    expect(sim.stats.project(P1)).toEqual({ requests: 8, inFlight: 0, maxInFlight: 4, maxDepth: 2 });
    expect(sim.stats.project(P2).maxDepth).toBe(1);
    expect(sim.stats.maxDepth).toBe(3);
    expect(sim.stats.totalRequests).toBe(9);
    expect(sim.stats.maxInFlight).toBe(4);
    expect(sim.stats.responsesWithStatus(200)).toBe(9);

    // In flight while requests are pending.
    sim.latencyMs = 300;
    const pending = Promise.all([list(base, P1), list(base, P1)]);
    await until(() => sim.stats.project(P1).inFlight === 2 && clock.pending === 2);
    expect(sim.stats.inFlight).toBe(2);
    clock.advance(300);
    await pending;
    expect(sim.stats.inFlight).toBe(0);
    expect(sim.stats.toJSON().projects[P1]).toEqual(sim.stats.project(P1));
  });

  it('applies latency per request (on its clock)', async () => {
    const clock = new ManualClock();
    const { sim, base } = await start({ clock, latencyMs: 150 });
    let answered = false;
    const r = list(base, P1, 'limit=1').then((x) => ((answered = true), x));
    await until(() => clock.pending === 1); // the request waits for its latency
    clock.advance(149);
    expect(clock.pending).toBe(1); // not answered: its timer has not fired
    expect(answered).toBe(false);
    clock.advance(1);
    expect((await r).status).toBe(200);
    sim.latencyMs = 0;
    expect((await list(base, P1, 'limit=1')).status).toBe(200);
    expect(clock.pending).toBe(0);
  });
});

describe('admin routes', () => {
  it('reads and resets stats', async () => {
    const { base } = await start();
    await list(base, P1);
    const s = await admin(base, 'GET', '/_sim/stats');
    expect(s.status).toBe(200);
    expect(s.json).toMatchObject({ totalRequests: 1, projects: { [P1]: { requests: 1, maxDepth: 1 } } });
    expect((await admin(base, 'DELETE', '/_sim/stats')).status).toBe(204);
    expect((await admin(base, 'GET', '/_sim/stats')).json.totalRequests).toBe(0);
  });

  it('sets, lists and clears faults', async () => {
    const { sim, base } = await start();
    const set = await admin(base, 'POST', '/_sim/faults', { kind: 'error-503', count: 2 });
    expect(set.json.faults).toEqual([{ spec: { kind: 'error-503', count: 2 }, remaining: 2 }]);
    expect((await admin(base, 'POST', '/_sim/faults?append=1', [{ kind: 'forbidden', projectId: P2 }])).json.faults).toHaveLength(2);
    expect((await list(base, P1)).status).toBe(503);
    expect((await admin(base, 'GET', '/_sim/faults')).json.faults[0].remaining).toBe(1);
    expect((await admin(base, 'DELETE', '/_sim/faults?kind=error-503')).json.faults).toHaveLength(1);
    expect((await list(base, P1)).status).toBe(200);
    expect((await admin(base, 'DELETE', '/_sim/faults')).json.faults).toEqual([]);
    expect(sim.faults.list()).toEqual([]);
    const bad = await admin(base, 'POST', '/_sim/faults', { kind: 'nope' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/kind/);
    expect((await admin(base, 'POST', '/_sim/faults', { kind: 'hang', cuont: 1 })).status).toBe(400);
  });

  it('changes the accepted secret key', async () => {
    const { base } = await start();
    const r = await admin(base, 'POST', '/_sim/credentials', { accessKey: DEMO.accessKey, secretKey: 'rotated-secret' });
    expect(r.json.accessKeys).toContain(DEMO.accessKey);
    expect((await list(base, P1)).status).toBe(401);
    expect((await list(base, P1, '', { credentials: { ...DEMO, secretKey: 'rotated-secret' } })).status).toBe(200);
    await admin(base, 'POST', '/_sim/credentials', { credentials: { NEWAK: 'newsk' }, replace: true });
    expect((await list(base, P1, '', { credentials: { ...DEMO, secretKey: 'rotated-secret' } })).status).toBe(401);
    expect((await list(base, P1, '', { credentials: { accessKey: 'NEWAK', secretKey: 'newsk' } })).status).toBe(200);
    expect((await admin(base, 'POST', '/_sim/credentials', { accessKey: 'X' })).status).toBe(400);
  });

  it('clears lockouts', async () => {
    const { base } = await start();
    for (let i = 0; i < 5; i++) await list(base, P1, '', { credentials: { ...DEMO, secretKey: 'bad' } });
    expect((await list(base, P1)).json.error_msg).toMatch(/limit,forbidden/);
    expect((await admin(base, 'DELETE', '/_sim/lockouts')).status).toBe(204);
    expect((await list(base, P1)).status).toBe(200);
  });

  it('changes latency, rate limit and signature checks', async () => {
    const { sim, base } = await start();
    const r = await admin(base, 'POST', '/_sim/config', {
      latencyMs: 25,
      rateLimit: { requestsPerSecond: 5, burst: 1 },
      verifySignatures: false,
    });
    expect(r.json).toMatchObject({ latencyMs: 25, verifySignatures: false, rateLimit: { requestsPerSecond: 5, burst: 1 } });
    expect(sim.latencyMs).toBe(25);
    expect((await list(base, P1, '', { credentials: null })).status).toBe(200);
    expect((await list(base, P1, '', { credentials: null })).status).toBe(429);
    await admin(base, 'POST', '/_sim/config', { rateLimit: null, verifySignatures: true });
    expect((await list(base, P1)).status).toBe(200);
    expect((await admin(base, 'GET', '/_sim/config')).json).toMatchObject({ rateLimit: null, projects: [P1] });
    expect((await admin(base, 'POST', '/_sim/config', { latencyMs: -1 })).status).toBe(400);
  });

  it('mutates the fleet', async () => {
    const { sim, base } = await start();
    const fleet = await admin(base, 'GET', `/_sim/fleet/${P1}`);
    expect(fleet.json.count).toBe(1234);
    const first: EncodeServer = fleet.json.encode_servers[0];
    const id = first.encode_server_id;

    expect((await admin(base, 'POST', `/_sim/fleet/${P1}/status`, { encode_server_id: id, status: 2 })).json.status).toBe(2);
    expect((await list(base, P1, 'limit=1')).json.encode_servers[0].status).toBe(2);

    const portType = first.access_infos.find((p) => 'public_ip' in p)?.type ?? 'adb';
    const pub = await admin(base, 'POST', `/_sim/fleet/${P1}/public-ip`, {
      encode_server_id: id,
      port_type: portType,
      public_ip: '198.51.100.77',
    });
    expect(pub.status).toBe(200);
    expect(sim.fleet(P1).items[0]!.access_infos.find((p) => p.type === portType)!.public_ip).toBe('198.51.100.77');
    await admin(base, 'POST', `/_sim/fleet/${P1}/public-ip`, { encode_server_id: id, port_type: portType, public_ip: null });
    expect(sim.fleet(P1).items[0]!.access_infos.find((p) => p.type === portType)!.public_ip).toBe('');

    const added = await admin(base, 'POST', `/_sim/fleet/${P1}/add`, { count: 2, at: 0 });
    expect(added.json.count).toBe(1236);
    expect((await list(base, P1, 'limit=1')).json.encode_servers[0].encode_server_id).toBe(added.json.added[0]);
    const removed = await admin(base, 'POST', `/_sim/fleet/${P1}/remove`, { encode_server_ids: added.json.added });
    expect(removed.json).toEqual({ removed: 2, count: 1234 });
    expect((await admin(base, 'POST', `/_sim/fleet/${P1}/remove`, { at: 1230, count: 10 })).json).toEqual({ removed: 4, count: 1230 });

    expect((await admin(base, 'POST', `/_sim/fleet/${P1}/status`, { encode_server_id: 'f'.repeat(32), status: 1 })).status).toBe(404);
    expect((await admin(base, 'GET', `/_sim/fleet/${P2}`)).status).toBe(404);
    expect((await admin(base, 'GET', '/_sim/nothing')).status).toBe(404);
    expect((await admin(base, 'GET', '/_sim/projects')).json).toEqual({ projects: [{ projectId: P1, encodeServers: 1230 }] });
  });
});

describe('close', () => {
  it('returns promptly with a hung request open', async () => {
    const { sim, base } = await start();
    sim.faults.set({ kind: 'hang' });
    const hung = list(base, P1).then(
      () => 'answered',
      () => 'failed',
    );
    await until(() => sim.stats.inFlight === 1);
    await sim.close(); // resolves although the hung request never got an answer
    expect(await hung).toBe('failed');
  });

  it('returns with a slow (latency) request open, without waiting for its latency', async () => {
    const clock = new ManualClock();
    const { sim, base } = await start({ clock, latencyMs: 60_000 });
    const slow = list(base, P1).catch(() => 'failed');
    await until(() => sim.stats.inFlight === 1 && clock.pending === 1);
    await sim.close(); // the clock never moves: only close can end the wait
    expect(clock.pending).toBe(0);
    expect(await slow).toBe('failed');
  });
});

describe('throughput', () => {
  it('pages through 20,000 encode servers at 64 concurrent requests in ceil(200 / 64) round trips', async () => {
    // Depth counts causality, so it needs latency: without it a fast server answers each request before the next one
    // arrives and every request is one round trip deeper than the last. On a manual clock each round is released
    // only once all of its requests have arrived, however slow the machine.
    const clock = new ManualClock();
    const { sim, base } = await start({ clock, latencyMs: 500, projects: { [P1]: { encodeServers: 20_000, cloudPhoneServers: 2000 } } });
    let next = 0;
    let count = 0;
    const worker = async (): Promise<void> => {
      while (next < 200) {
        const offset = next++ * 100;
        const r = await list(base, P1, `offset=${offset}&limit=100`);
        count += r.json.encode_servers.length;
      }
    };
    const all = Promise.all(Array.from({ length: 64 }, worker));
    for (let left = 200; left > 0; left -= 64) {
      await until(() => clock.pending === Math.min(64, left), 30_000);
      clock.advance(500);
    }
    await all;
    expect(count).toBe(20_000);
    expect(sim.stats.project(P1).maxInFlight).toBe(64);
    expect(sim.stats.project(P1).maxDepth).toBe(4);
  });
});
