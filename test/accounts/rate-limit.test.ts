import { afterEach, describe, expect, it } from 'vitest';
import type { CphClient } from '../../src/cph/client.js';
import { testClient } from '../helpers/configured-exporter.js';
import type { Simulator } from '../../src/simulator/server.js';
import { DEMO_CREDENTIALS, startSimulator } from '../helpers/harness.js';

/*
 * Each key has its own token bucket per endpoint: one account spending its whole burst leaves
 * another account's share untouched. Shown without timing: the buckets refill so slowly that a
 * request beyond the burst can only be waiting, and the other key's requests complete meanwhile.
 */

const PROJECT = 'd0000000000000000000000000000001';
let sim: Simulator | undefined;
let client: CphClient | undefined;
afterEach(async () => {
  await client?.close();
  await sim?.close();
  client = undefined;
  sim = undefined;
});

describe('rate limit per key', () => {
  it('a key that used up its burst does not hold back another key on the same endpoint', async () => {
    sim = await startSimulator({ projects: { [PROJECT]: { encodeServers: 5, cloudPhoneServers: 1 } } });
    // One token per 1000 s: after the burst, a request waits (far longer than this test runs).
    client = testClient({ requestsPerSecond: 0.001, burst: 2 });
    const target = { endpoint: sim.url, projectId: PROJECT };
    const list = (key: string, signal?: AbortSignal) =>
      (client as CphClient).listEncodeServers(target, { offset: 0, limit: 10 }, { credentials: () => DEMO_CREDENTIALS, key, signal });

    await list('prod');
    await list('prod');
    const waiting = new AbortController();
    let settled = false;
    const third = list('prod', waiting.signal).finally(() => {
      settled = true;
    });
    // The other key's burst is its own: both complete while prod's third request waits for a token.
    await list('lab');
    await list('lab');
    expect(settled).toBe(false);
    expect(sim.stats.totalRequests).toBe(4);
    waiting.abort();
    await expect(third).rejects.toThrow();
    expect(sim.stats.totalRequests).toBe(4);
  });
});
