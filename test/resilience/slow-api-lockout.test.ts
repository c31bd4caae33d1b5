import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Credentials } from '../../src/cph/types.js';
import { FakeClock, startClockedExporter } from '../helpers/clocked-exporter.js';
import { samplesOf } from '../helpers/exposition.js';
import { DEMO_CREDENTIALS, perTestRig, scrape, startSimulator } from '../helpers/harness.js';

/*
 * A wrong SK on every target, and an API that takes 4 s, or 13 s (inside the default 15 s request
 * timeout), to answer. The old auth gate handed the probe on after 3 s without an answer, so a slow
 * API got 2 failed authentications per poll at 4 s and 5 (a locked key) in the first poll at 13 s.
 * The per-key policy waits for the probe's answer however long it takes.
 *
 * No test waits 13 s: setTimeout is faked for the simulator's latency and for the exporter's own
 * timers (request timeout, poll deadline) alike, and advanced in steps while real sockets carry the
 * requests; the exporter's wall clock (back-off windows) is a FakeClock. The simulator's lockout
 * models the gateway's counter: 5 consecutive failures lock the AK, a success resets it.
 */

const TARGETS = Array.from({ length: 3 }, (_, i) => `d00000000000000000000000000000${String(i + 1).padStart(2, '0')}`);
const WRONG: Credentials = { ...DEMO_CREDENTIALS, secretKey: 'WRONG-SECRET-KEY-0000000000000000000000' };
const WINDOW_MS = 5 * 60_000; // the default poll.auth_failure_backoff
const realSetTimeout = globalThis.setTimeout;
const realPause = (ms: number): Promise<void> => new Promise((r) => realSetTimeout(r, ms));

afterEach(() => {
  vi.useRealTimers(); // before the rig stops the exporter and the simulator
});
const rig = perTestRig();

/** Advances the faked timers in 250 ms steps, letting real I/O happen between them, until `p` settles. */
async function drive<T>(p: Promise<T>, maxFakeMs = 120_000): Promise<T> {
  let settled = false;
  void p.finally(() => {
    settled = true;
  });
  for (let t = 0; !settled && t < maxFakeMs; t += 250) {
    await vi.advanceTimersByTimeAsync(250);
    await realPause(1);
  }
  if (!settled) throw new Error(`not settled after ${maxFakeMs} ms of fake time`);
  return p;
}

describe.each([4_000, 13_000])('a wrong key on every target, API latency %i ms', (latencyMs) => {
  it('at most one failed authentication per back-off window in total, one request in flight, and no lockout', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const sim = (rig.sim = await startSimulator({
      seed: 12,
      projects: Object.fromEntries(TARGETS.map((p) => [p, { encodeServers: 40, cloudPhoneServers: 4 }])),
      latencyMs,
      lockout: { maxFailures: 5, durationMs: 5 * 60_000 },
    }));
    const clock = new FakeClock();
    // Default api (15 s request timeout, 3 retries) and back-off; several pages per target and a wide window.
    const running = (rig.exporter = await startClockedExporter(sim, {
      targets: TARGETS.map((projectId) => ({ projectId })),
      raw: { poll: { page_size: 10, concurrency: 8 } },
      credentials: { get: () => WRONG },
      clock,
      awaitFirstPoll: false,
    }));
    await drive(running.firstPoll);

    const perWindow: number[] = [];
    const maxInFlight: number[] = [];
    // Three windows (5, 10, 20 minutes: each block in a row doubles), a poll every minute.
    for (let w = 0; w < 3; w++) {
      const windowMs = WINDOW_MS * 2 ** w;
      for (let t = 0; t < windowMs; t += 60_000) {
        if (!(w === 0 && t === 0)) await drive(running.poll());
        expect(sim.lockedUntil(DEMO_CREDENTIALS.accessKey)).toBeUndefined();
        clock.advance(60_000);
      }
      perWindow.push(sim.stats.authFailuresFor(DEMO_CREDENTIALS.accessKey));
      maxInFlight.push(sim.stats.maxInFlight);
      sim.resetStats();
    }
    expect(perWindow).toEqual([1, 1, 1]);
    expect(maxInFlight).toEqual([1, 1, 1]);
    expect(sim.lockedUntil(DEMO_CREDENTIALS.accessKey)).toBeUndefined();

    const text = await scrape(running.url);
    for (const s of samplesOf(text, 'cph_up')) expect(s.value).toBe(0);
    for (const s of samplesOf(text, 'cph_poll_error')) expect(s.labels['reason']).toBe('auth');
    console.info(`wrong key, latency ${latencyMs} ms: failed authentications per back-off window ${JSON.stringify(perWindow)}, max in flight ${JSON.stringify(maxInFlight)}`);
  });
});
