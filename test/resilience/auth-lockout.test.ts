import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credentials } from '../../src/cph/types.js';
import type { RunningExporter } from '../../src/exporter.js';
import type { Simulator } from '../../src/simulator/server.js';
import { FakeClock, startClockedExporter } from '../helpers/clocked-exporter.js';
import { samplesOf } from '../helpers/exposition.js';
import { DEMO_CREDENTIALS, startSimulator } from '../helpers/harness.js';
import { scrapeValid } from '../helpers/validity.js';

/*
 * A wrong SK shared by several targets. The simulator checks every signature for real and locks
 * the AK after 5 consecutive failures, as the gateway does (NOTES.md §5); the exporter must not
 * get there. Counts are taken at the simulator. The exporter's clock is fake, so a back-off
 * window (the default 5 minutes) passes in an instant.
 */

const TARGETS = Array.from({ length: 6 }, (_, i) => `c00000000000000000000000000000${String(i + 1).padStart(2, '0')}`);
const WINDOW_MS = 5 * 60_000; // the default poll.auth_failure_backoff
const WRONG: Credentials = { ...DEMO_CREDENTIALS, secretKey: 'WRONG-SECRET-KEY-0000000000000000000000' };

describe('a wrong SK shared by several targets', () => {
  let sim: Simulator;
  let exporter: RunningExporter;
  let credentials: Credentials = WRONG;
  const clock = new FakeClock();

  beforeAll(async () => {
    sim = await startSimulator({
      seed: 4,
      projects: Object.fromEntries(TARGETS.map((p) => [p, { encodeServers: 35, cloudPhoneServers: 4 }])),
      lockout: { maxFailures: 5, durationMs: 5 * 60_000 },
    });
    exporter = await startClockedExporter(sim, {
      targets: TARGETS.map((projectId) => ({ projectId })),
      // Several pages per target and a wide window: many requests would go out at once without the gate.
      raw: { poll: { page_size: 10, concurrency: 8 } },
      credentials: { get: () => credentials },
      clock,
    });
  });
  afterAll(async () => {
    await exporter?.stop();
    await sim?.close();
  });

  it('makes at most 2 authentication attempts per target per back-off window (growing), then holds the key, and never trips the lockout', async () => {
    const perWindow: number[] = [];
    const perTargetMax: number[] = [];
    let midWindow = '';
    // The start-up poll opened the first window; poll every 20 s (fake) for 4 windows. Each further
    // consecutive failure of the same key doubles the window: 5, 10, 20 minutes; the third failure in a row holds the
    // key until its credentials change, so the fourth window (40 minutes) sends nothing at all.
    const windowMs = (k: number): number => WINDOW_MS * 2 ** k;
    for (let window = 0; window < 4; window++) {
      for (let t = 0; t < windowMs(window); t += 20_000) {
        if (!(window === 0 && t === 0)) await exporter.poll();
        expect(sim.lockedUntil(DEMO_CREDENTIALS.accessKey)).toBeUndefined();
        if (window === 3 && t === 60_000) midWindow = (await scrapeValid(exporter.url)).text;
        clock.advance(20_000);
      }
      perWindow.push(sim.stats.authFailuresFor(DEMO_CREDENTIALS.accessKey));
      perTargetMax.push(Math.max(...TARGETS.map((p) => sim.stats.project(p).requests)));
      sim.resetStats();
    }
    // 15 to 120 polls per window, 6 targets, 4 pages each: one failed authentication per window for the key, and
    // none once it is held: 3 in a row in all, far from the gateway's 5.
    expect(perWindow).toEqual([1, 1, 1, 0]);
    for (const n of perTargetMax) expect(n).toBeLessThanOrEqual(2);
    expect(sim.lockedUntil(DEMO_CREDENTIALS.accessKey)).toBeUndefined();

    const text = midWindow;
    for (const s of samplesOf(text, 'cph_up')) expect(s.value).toBe(0);
    for (const s of samplesOf(text, 'cph_poll_error')) expect(s.labels['reason']).toBe('auth');
    expect(samplesOf(text, 'cph_up')).toHaveLength(TARGETS.length);
    // Every target says why it is not polled, and for how long: until the credentials change (+Inf).
    const backoff = samplesOf(text, 'cph_target_auth_backoff_seconds');
    expect(backoff).toHaveLength(TARGETS.length);
    for (const s of backoff) expect(s.value).toBe(Number.POSITIVE_INFINITY);
  });

  it('a corrected key is used at the next poll, without waiting for the back-off to end', async () => {
    // A fresh window: one failed poll, then the key is fixed 1 s later.
    sim.clearLockouts();
    await exporter.poll();
    expect(samplesOf((await scrapeValid(exporter.url)).text, 'cph_up').every((s) => s.value === 0)).toBe(true);
    sim.resetStats();
    credentials = DEMO_CREDENTIALS;
    clock.advance(1000);
    await exporter.poll();
    const { text } = await scrapeValid(exporter.url);
    for (const s of samplesOf(text, 'cph_up')) expect(s.value, s.labels['project_id']).toBe(1);
    for (const s of samplesOf(text, 'cph_target_auth_backoff_seconds')) expect(s.value).toBe(0);
    expect(sim.stats.authFailures).toBe(0);
  });
});
