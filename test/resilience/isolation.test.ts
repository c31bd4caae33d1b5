import { afterEach, describe, expect, it } from 'vitest';
import type { RunningExporter } from '../../src/exporter.js';
import type { Simulator } from '../../src/simulator/server.js';
import { samplesOf } from '../helpers/exposition.js';
import { DEMO_CREDENTIALS, scrape, startSimulator, startTestExporter } from '../helpers/harness.js';

/*
 * One target's trouble stays that target's: the auth probe that opens every poll must not make the
 * other targets wait for a hung endpoint, and many targets must not trip Node's listener warning.
 */

const A = 'f0000000000000000000000000000001';
const B = 'f0000000000000000000000000000002';

let sim: Simulator | undefined;
let exporter: RunningExporter | undefined;
afterEach(async () => {
  await exporter?.stop();
  await sim?.close();
  exporter = undefined;
  sim = undefined;
});

const upOf = (text: string, projectId: string): number | undefined => samplesOf(text, 'cph_up').find((s) => s.labels['project_id'] === projectId)?.value;

describe('target isolation', () => {
  it('a hung first target does not hold back the others (the probe is handed on)', async () => {
    sim = await startSimulator({ seed: 1, projects: { [A]: { encodeServers: 50, cloudPhoneServers: 5 }, [B]: { encodeServers: 50, cloudPhoneServers: 5 } } });
    sim.faults.set({ kind: 'hang', projectId: A });
    exporter = await startTestExporter(sim, [{ projectId: A }, { projectId: B }], {
      poll: { timeout: '4s' },
      api: { request_timeout: '1s', max_retries: 3 },
    });
    const text = await scrape(exporter.url);
    expect(upOf(text, B)).toBe(1);
    expect(upOf(text, A)).toBe(0);
    expect(samplesOf(text, 'cph_poll_error').find((s) => s.labels['project_id'] === A)?.labels['reason']).toBe('timeout');
    expect(sim.stats.project(B).requests).toBeGreaterThan(0);
  });

  it('a 401 whose body says the key is bad (signature failure) stops every other request with that key, even once verified', async () => {
    const targets = Array.from({ length: 8 }, (_, i) => `f10000000000000000000000000000${String(i).padStart(2, '0')}`);
    sim = await startSimulator({ seed: 2, projects: Object.fromEntries(targets.map((p) => [p, { encodeServers: 50, cloudPhoneServers: 2 }])) });
    exporter = await startTestExporter(sim, targets.map((projectId) => ({ projectId })), { poll: { concurrency: 1, page_size: 20 } });
    // The key goes bad in the middle of a poll: every target's first page passes, its second gets
    // 401 APIGW.0301 "verify aksk signature fail" (the key itself is bad: blocked at once, whatever
    // answered before). One request at a time makes the count exact.
    sim.faults.set({ kind: 'bad-signature', offset: 19 }); // the second page (pages of 20 overlap by one)
    sim.resetStats();
    await exporter.poll();
    expect(sim.stats.authFailuresFor(DEMO_CREDENTIALS.accessKey)).toBe(1);
    expect(sim.lockedUntil(DEMO_CREDENTIALS.accessKey)).toBeUndefined();
    const text = await scrape(exporter.url);
    for (const t of targets) expect(upOf(text, t)).toBe(0);
  });

  it('polls more than ten targets without a MaxListenersExceededWarning', async () => {
    const targets = Array.from({ length: 14 }, (_, i) => `f20000000000000000000000000000${String(i).padStart(2, '0')}`);
    sim = await startSimulator({ seed: 3, projects: Object.fromEntries(targets.map((p) => [p, { encodeServers: 15, cloudPhoneServers: 2 }])) });
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on('warning', onWarning);
    try {
      exporter = await startTestExporter(sim, targets.map((projectId) => ({ projectId })), { api: { requests_per_second: 200, burst: 200 } });
      await exporter.poll();
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
    for (const s of samplesOf(await scrape(exporter.url), 'cph_up')) expect(s.value).toBe(1);
  });

  it('a steady fleet of many small targets costs no request beyond each listing from the second poll on', async () => {
    const targets = Array.from({ length: 30 }, (_, i) => `f30000000000000000000000000000${String(i).padStart(2, '0')}`);
    sim = await startSimulator({ seed: 4, projects: Object.fromEntries(targets.map((p) => [p, { encodeServers: 150, cloudPhoneServers: 5 }])) });
    exporter = await startTestExporter(sim, targets.map((projectId) => ({ projectId })), { api: { requests_per_second: 200, burst: 1000 } });
    const first = sim.stats.totalRequests;
    // The simulator may still answer the first poll's aborted look-ahead requests: let a poll pass.
    await exporter.poll();
    sim.resetStats();
    await exporter.poll();
    // 150 servers = a full page and a short one: exactly 2 requests per target.
    expect(sim.stats.totalRequests).toBe(2 * targets.length);
    console.info(`30 targets x 150 servers: ${first} requests on the first poll, ${sim.stats.totalRequests} per poll once the listings are known`);
  });
});

describe('credentials that cannot be read', () => {
  it('fail every target with reason auth instead of skipping the poll silently', async () => {
    sim = await startSimulator({ seed: 5, projects: { [A]: { encodeServers: 10, cloudPhoneServers: 1 } } });
    let broken = false;
    exporter = await startTestExporter(sim, [{ projectId: A }], {}, {
      get: () => {
        if (broken) throw new Error('credentials.secret_key_file: cannot read the secret file /run/secrets/sk: no such file (ENOENT)');
        return DEMO_CREDENTIALS;
      },
    });
    broken = true;
    sim.resetStats();
    await exporter.poll();
    const text = await scrape(exporter.url);
    expect(upOf(text, A)).toBe(0);
    expect(samplesOf(text, 'cph_poll_error')[0]?.labels['reason']).toBe('auth');
    expect(sim.stats.totalRequests).toBe(0);
  });
});
