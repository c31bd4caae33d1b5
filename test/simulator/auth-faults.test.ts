/**
 * The faults issue 9's exporter tests are built on: project-scoped 401s with each gateway error body, 403s, slow
 * 401s, fleet changes between pages; and the lockout as the gateway counts it (consecutive failed authentications
 * per AK, reset by an authenticated answer, never by a 429 or 5xx), with what the stats tell about it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EncodeServer } from '../../src/cph/types.js';
import { FORBIDDEN_ERRORS, UNAUTHORIZED_ERRORS, type FaultSpec } from '../../src/simulator/faults.js';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { DEMO, P1, P2, admin, list, until } from './helpers.js';

const P3 = 'a0000000000000000000000000000003';
let sims: Simulator[] = [];
async function start(options: SimulatorOptions = {}): Promise<{ sim: Simulator; base: string; clock: ManualClock }> {
  const clock = new ManualClock();
  const size = { encodeServers: 30, cloudPhoneServers: 3 };
  const sim = createSimulator({ seed: 3, clock, projects: { [P1]: size, [P2]: size, [P3]: size }, ...options });
  sims.push(sim);
  return { sim, base: await sim.listen(), clock };
}
afterEach(async () => {
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});

const ids = (r: { json: { encode_servers: EncodeServer[] } }): string[] => r.json.encode_servers.map((e) => e.encode_server_id);

describe('project-scoped 401 and 403', () => {
  it.each(Object.entries(UNAUTHORIZED_ERRORS))('unauthorized/%s answers 401 with its body for one project only', async (error, body) => {
    const { sim, base } = await start({ faults: [{ kind: 'unauthorized', projectId: P2, error }] });
    const bad = await list(base, P2);
    expect([bad.status, bad.json.error_code, bad.json.error_msg]).toEqual([401, body.code, body.msg]);
    expect(bad.json.request_id).toBe(bad.headers.get('x-request-id'));
    expect((await list(base, P1)).status).toBe(200);
    expect((await list(base, P3)).status).toBe(200);
    expect(sim.stats.accessKey(DEMO.accessKey)).toEqual({ authFailures: 1, maxConsecutiveFailures: 1, lockouts: 0, lastLockedAt: null });
  });

  it('unauthorized defaults to the signature failure; the error names are checked', async () => {
    const { base } = await start();
    expect((await admin(base, 'POST', '/_sim/faults', { kind: 'unauthorized', projectId: P1 })).status).toBe(200);
    const r = await list(base, P1);
    expect([r.status, r.json.error_code, r.json.error_msg]).toEqual([401, 'APIGW.0301', 'verify aksk signature fail']);
    const wrong = await admin(base, 'POST', '/_sim/faults', { kind: 'unauthorized', error: 'nope' });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toBe(`fault field "error" of kind unauthorized must be one of ${Object.keys(UNAUTHORIZED_ERRORS).join(', ')}`);
    expect((await admin(base, 'POST', '/_sim/faults', { kind: 'throttle', error: 'signature' })).json.error).toMatch(
      /applies only to kinds unauthorized and forbidden/,
    );
    expect(() => createSimulator({ faults: [{ kind: 'forbidden', error: 'signature' } as FaultSpec] })).toThrow(/must be one of not-authorized, no-permission/);
  });

  it.each(Object.entries(FORBIDDEN_ERRORS))('forbidden/%s answers 403 with its body for one project only', async (error, body) => {
    const { base } = await start();
    expect((await admin(base, 'POST', '/_sim/faults', { kind: 'forbidden', projectId: P3, error })).status).toBe(200);
    const r = await list(base, P3);
    expect([r.status, r.json.error_code, r.json.error_msg]).toEqual([403, body.code, body.msg]);
    expect((await list(base, P1)).status).toBe(200);
  });

  it('skip and count pick one request of a project: the 3rd listing request of P1 only', async () => {
    const { base } = await start({ faults: [{ kind: 'unauthorized', projectId: P1, skip: 2, count: 1 }] });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await list(base, P1, `offset=${i}`)).status);
    expect(statuses).toEqual([200, 200, 401, 200, 200]);
  });
});

describe('the lockout as the gateway counts it', () => {
  it('an authenticated answer (200, 400, 403, 404) resets the run; 429 and 5xx do not', async () => {
    const { sim, base, clock } = await start({ faults: [{ kind: 'unauthorized', projectId: P1, error: 'token-must-be-updated' }] });
    const fourFailures = async (): Promise<void> => {
      for (let i = 0; i < 4; i++) expect((await list(base, P1)).status).toBe(401);
    };
    await fourFailures();
    expect((await list(base, P2)).status).toBe(200);
    await fourFailures();
    expect((await list(base, P2, 'limit=0')).status).toBe(400);
    await fourFailures();
    sim.faults.add({ kind: 'forbidden', projectId: P3, count: 1 });
    expect((await list(base, P3)).status).toBe(403);
    await fourFailures();
    sim.faults.add({ kind: 'throttle', projectId: P3, count: 1 });
    expect((await list(base, P3)).status).toBe(429);
    sim.faults.add({ kind: 'error-503', projectId: P3, count: 1 });
    expect((await list(base, P3)).status).toBe(503);
    expect(sim.stats.accessKey(DEMO.accessKey).lockouts).toBe(0);
    expect(sim.lockedUntil(DEMO.accessKey)).toBeUndefined();
    // The 429 and the 503 did not reset the run of four: the fifth failure locks the key.
    expect((await list(base, P1)).status).toBe(401);
    expect(sim.lockedUntil(DEMO.accessKey)).toBe(clock.now() + 5 * 60_000);
    const stats = sim.stats.toJSON();
    expect(stats.accessKeys[DEMO.accessKey]).toEqual({ authFailures: 17, maxConsecutiveFailures: 5, lockouts: 1, lastLockedAt: clock.now() });
    expect(stats.lockouts).toBe(1);

    // Locked: even a healthy project is refused, and the refusal is logged as such.
    const refused = await list(base, P2);
    expect([refused.status, refused.json.error_msg]).toEqual([401, 'AK access failed to reach the limit,forbidden']);
    expect(sim.stats.authFailureEvents().at(-1)).toEqual({ at: clock.now(), accessKey: DEMO.accessKey, projectId: P2, whileLocked: true });
    expect(sim.stats.authFailureEvents().filter((e) => !e.whileLocked).map((e) => e.projectId)).toEqual(Array(17).fill(P1));
    clock.advance(5 * 60_000);
    expect((await list(base, P2)).status).toBe(200);
  });

  it('a healthy key with one failing project never trips the lockout while the others succeed in between', async () => {
    const { sim, base } = await start({ faults: [{ kind: 'unauthorized', projectId: P2 }] });
    for (let poll = 0; poll < 20; poll++) {
      for (const p of [P1, P2, P3]) await list(base, p);
    }
    expect(sim.stats.accessKey(DEMO.accessKey)).toEqual({ authFailures: 20, maxConsecutiveFailures: 1, lockouts: 0, lastLockedAt: null });
    expect((await admin(base, 'GET', '/_sim/stats')).json.accessKeys).toEqual({ [DEMO.accessKey]: sim.stats.accessKey(DEMO.accessKey) });
  });

  it('a wrong SK counts per AK; another AK is untouched', async () => {
    const { sim, base } = await start({ credentials: { [DEMO.accessKey]: DEMO.secretKey, OTHERAK: 'other' } });
    for (let i = 0; i < 3; i++) await list(base, P1, '', { credentials: { ...DEMO, secretKey: 'wrong' } });
    expect((await list(base, P1, '', { credentials: { accessKey: 'OTHERAK', secretKey: 'other' } })).status).toBe(200);
    expect(sim.stats.accessKey(DEMO.accessKey).maxConsecutiveFailures).toBe(3);
    expect(sim.stats.accessKey('OTHERAK')).toEqual({ authFailures: 0, maxConsecutiveFailures: 0, lockouts: 0, lastLockedAt: null });
  });
});

describe('slow 401', () => {
  it('answers 401 only after delayMs, and counts the failure when it answers', async () => {
    const { sim, base, clock } = await start({ faults: [{ kind: 'unauthorized', projectId: P1, delayMs: 13_000 }] });
    const slow = list(base, P1);
    await until(() => clock.pending === 1);
    clock.advance(12_999);
    expect(clock.pending).toBe(1);
    expect(sim.stats.authFailures).toBe(0);
    expect(sim.stats.inFlight).toBe(1);
    // Other projects are answered meanwhile.
    expect((await list(base, P2)).status).toBe(200);
    clock.advance(1);
    expect((await slow).status).toBe(401);
    expect(sim.stats.authFailures).toBe(1);
  });
});

describe('fleet changes between pages', () => {
  it('deletes servers before the current offset after page K is served: offset paging then skips live servers', async () => {
    const { sim, base } = await start();
    const before = sim.fleet(P1).items.map((e) => e.encode_server_id);
    await admin(base, 'POST', '/_sim/faults', { kind: 'fleet-change', projectId: P1, offset: 0, remove: 3, at: 0, count: 1 });
    const page0 = await list(base, P1, 'offset=0&limit=10');
    expect(ids(page0)).toEqual(before.slice(0, 10)); // answered before the change
    expect(sim.fleet(P1).size).toBe(27);
    const page1 = await list(base, P1, 'offset=10&limit=10');
    expect(ids(page1)).toEqual(before.slice(13, 23)); // 10..12 moved to offsets 7..9: a naive listing misses them
    expect(sim.stats.faultsInjectedOf('fleet-change')).toBe(1);
  });

  it('inserts servers: the next page repeats records', async () => {
    const { sim, base } = await start({ faults: [{ kind: 'fleet-change', projectId: P1, skip: 1, count: 1, insert: 2, at: 5 }] });
    const before = sim.fleet(P1).items.map((e) => e.encode_server_id);
    expect(ids(await list(base, P1, 'offset=0&limit=10'))).toEqual(before.slice(0, 10));
    expect(ids(await list(base, P1, 'offset=10&limit=10'))).toEqual(before.slice(10, 20));
    expect(sim.fleet(P1).size).toBe(32);
    expect(ids(await list(base, P1, 'offset=20&limit=10'))).toEqual(before.slice(18, 28));
    // Other projects are untouched.
    expect(sim.fleet(P2).size).toBe(30);
  });

  it('removes and inserts at once, and never past the end', async () => {
    const { sim, base } = await start();
    sim.faults.set({ kind: 'fleet-change', projectId: P1, remove: 2, insert: 1, at: 1000, count: 1 });
    const before = sim.fleet(P1).items.map((e) => e.encode_server_id);
    await list(base, P1, 'limit=5');
    const after = sim.fleet(P1).items.map((e) => e.encode_server_id);
    expect(after.slice(0, 30)).toEqual(before);
    expect(after).toHaveLength(31);
  });
});
