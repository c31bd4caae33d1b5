import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/main.js';
import type { Simulator } from '../../src/simulator/server.js';
import { samplesOf } from '../helpers/exposition.js';
import { DEMO_CREDENTIALS, startSimulator, tempFile } from '../helpers/harness.js';

/*
 * Live reload through the real CLI entry point: POST /-/reload (with --web.enable-lifecycle) re-reads
 * the file. Adding a target, removing one, changing the schedule, then writing a broken file: each
 * step is seen on /metrics, which a scraper reads all along without one failed scrape, from the one
 * process that never restarts.
 */

const A = 'a1000000000000000000000000000001';
const B = 'a1000000000000000000000000000002';
const C = 'a1000000000000000000000000000003';
const ENV = { HUAWEICLOUD_SDK_AK: DEMO_CREDENTIALS.accessKey, HUAWEICLOUD_SDK_SK: DEMO_CREDENTIALS.secretKey };
const quiet = { stdout: () => undefined, stderr: () => undefined };

let sim: Simulator | undefined;
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  await sim?.close();
  stop = undefined;
  sim = undefined;
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function configText(url: string, projects: string[], schedule: string): string {
  return [
    'targets:',
    ...projects.map((p) => `  - {project_id: "${p}", region: cn-north-4, endpoint: "${url}"}`),
    'poll:',
    `  schedule: "${schedule}"`,
    '  timeout: 800ms',
    'api:',
    '  request_timeout: 300ms',
    '',
  ].join('\n');
}

const ups = (text: string): Record<string, number> => Object.fromEntries(samplesOf(text, 'cph_up').map((s) => [s.labels['project_id'] as string, s.value]));
const gauge = (text: string, name: string): number | undefined => samplesOf(text, name)[0]?.value;

describe('live reload', () => {
  it('add a target, remove one, change the schedule, then a broken file: seen on /metrics, no failed scrape, no restart', async () => {
    sim = await startSimulator({ projects: Object.fromEntries([A, B, C].map((p) => [p, { encodeServers: 20, cloudPhoneServers: 2 }])) });
    const s = sim;
    const file = tempFile('config.yml', configText(s.url, [A, B], '* * * * * *'));
    const port = await freePort();
    const started = await main([`--config.file=${file}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-lifecycle', '--log.level=error'], quiet, ENV);
    if (typeof started === 'number') throw new Error(`exit ${started}`);
    stop = () => started.stop();
    const url = `http://127.0.0.1:${port}`;

    // A scraper all along: every scrape must be a 200 with a valid body.
    const failures: string[] = [];
    let scrapes = 0;
    let scraping = true;
    const scraper = (async () => {
      while (scraping) {
        try {
          const res = await fetch(`${url}/metrics`);
          const body = await res.text();
          if (res.status !== 200) failures.push(`HTTP ${res.status}`);
          else samplesOf(body, 'cph_up');
        } catch (err) {
          failures.push(String(err));
        }
        scrapes++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();
    /** Waits for an event seen on /metrics or the simulator (checked at most 200 times, 50 ms apart). */
    const until = async (what: string, ok: (text: string) => boolean): Promise<string> => {
      for (let i = 0; i < 200; i++) {
        const text = await metrics();
        if (ok(text)) return text;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`never saw: ${what}`);
    };
    const reload = async (): Promise<{ status: number; body: string }> => {
      const res = await fetch(`${url}/-/reload`, { method: 'POST' });
      return { status: res.status, body: await res.text() };
    };

    let text = await until('A and B up', (t) => ups(t)[A] === 1 && ups(t)[B] === 1);
    expect(gauge(text, 'cph_config_last_reload_successful')).toBe(1);
    const firstLoad = gauge(text, 'cph_config_last_reload_success_timestamp_seconds') as number;
    expect(firstLoad).toBeGreaterThan(0);

    // 1. Add C.
    writeFileSync(file, configText(s.url, [A, B, C], '* * * * * *'));
    expect(await reload()).toEqual({ status: 200, body: 'configuration reloaded\n' });
    text = await until('C up', (t) => ups(t)[C] === 1);
    expect(Object.keys(ups(text)).sort()).toEqual([A, B, C]);
    expect(gauge(text, 'cph_config_last_reload_successful')).toBe(1);

    // 2. Remove A: its series are gone from the very next scrape, before any poll.
    writeFileSync(file, configText(s.url, [B, C], '* * * * * *'));
    expect((await reload()).status).toBe(200);
    text = await metrics();
    expect(Object.keys(ups(text)).sort()).toEqual([B, C]);
    expect(text).not.toContain(A);

    // 3. Change the schedule: polls go on, on the new one.
    writeFileSync(file, configText(s.url, [B, C], '*/2 * * * * *'));
    expect((await reload()).status).toBe(200);
    const before = s.stats.project(B).requests;
    await until('B polled on the new schedule', () => s.stats.project(B).requests > before);
    expect(gauge(await metrics(), 'cph_config_last_reload_success_timestamp_seconds')).toBeGreaterThanOrEqual(firstLoad);

    // 4. A broken file: rejected with the start-up messages; the running configuration stays.
    writeFileSync(file, `${configText(s.url, [B, C], '*/2 * * * * *')}bogus_key: 1\n`);
    const rejected = await reload();
    expect(rejected.status).toBe(500);
    expect(rejected.body).toContain(`${file}: bogus_key: unknown key`);
    // Self metrics rendered for a scrape are reused for up to a second (src/server/app.ts): wait for the next rendering.
    text = await until('the failed reload', (t) => gauge(t, 'cph_config_last_reload_successful') === 0);
    expect(Object.keys(ups(text)).sort()).toEqual([B, C]);
    const stillPolling = s.stats.project(C).requests;
    await until('C still polled after the rejected reload', () => s.stats.project(C).requests > stillPolling);

    scraping = false;
    await scraper;
    expect(scrapes).toBeGreaterThan(10);
    expect(failures).toEqual([]);
  });

  it('without --web.enable-lifecycle, POST /-/reload is refused (403); the SIGHUP path rejects a bad file', async () => {
    sim = await startSimulator({ projects: { [A]: { encodeServers: 5, cloudPhoneServers: 1 } } });
    const file = tempFile('config.yml', configText(sim.url, [A], '0 0 * * * *'));
    const port = await freePort();
    const started = await main([`--config.file=${file}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=error'], quiet, ENV);
    if (typeof started === 'number') throw new Error(`exit ${started}`);
    stop = () => started.stop();
    expect((await fetch(`http://127.0.0.1:${port}/-/reload`, { method: 'POST' })).status).toBe(403);
    expect((await fetch(`http://127.0.0.1:${port}/-/reload`)).status).toBe(405);
    writeFileSync(file, 'targets: []\n');
    expect(await started.reload()).toMatchObject({ ok: false, error: expect.stringContaining('targets') });
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(gauge(text, 'cph_config_last_reload_successful')).toBe(0);
  });
});

describe('reload keeps the state of targets that stay', () => {
  it('a backing-off listing stays backing off (no new request), a listed target keeps its listing, a new one is polled', async () => {
    const { FakeClock } = await import('../helpers/clocked-exporter.js');
    const { startConfiguredExporter } = await import('../helpers/configured-exporter.js');
    const { parseConfig } = await import('../../src/config/load.js');
    sim = await startSimulator({ projects: Object.fromEntries([A, B, C].map((p) => [p, { encodeServers: 12, cloudPhoneServers: 2 }])) });
    const s = sim;
    s.faults.set({ kind: 'forbidden', projectId: A });
    const clock = new FakeClock();
    const raw = (projects: string[]) => ({
      targets: projects.map((p) => ({ project_id: p, region: 'cn-north-4', endpoint: s.url })),
      poll: { schedule: '0 0 * * * *', auth_failure_backoff: '10m' },
    });
    const exporter = await startConfiguredExporter(raw([A, B]), { clock });
    stop = () => exporter.stop();
    let text = await (await fetch(`${exporter.url}/metrics`)).text();
    expect(ups(text)[A]).toBe(0);
    expect(s.stats.faultsInjectedOf('forbidden')).toBe(1);
    const listedB = samplesOf(text, 'cph_encode_server_info').filter((x) => x.labels['project_id'] === B).length;
    expect(listedB).toBe(12);

    // Reload with C added and a different page size: A and B are the same targets.
    const changed = exporter.applyConfig(parseConfig({ ...raw([A, B, C]), poll: { ...raw([]).poll, page_size: 50 } }));
    expect(changed).toEqual(expect.arrayContaining(['targets', 'poll']));
    text = await (await fetch(`${exporter.url}/metrics`)).text();
    expect(samplesOf(text, 'cph_encode_server_info').filter((x) => x.labels['project_id'] === B)).toHaveLength(listedB);

    s.resetStats();
    clock.advance(60_000);
    await exporter.poll();
    text = await (await fetch(`${exporter.url}/metrics`)).text();
    // A's encode servers are still inside their 10-minute back-off from before the reload: not asked again.
    expect(s.stats.faultsInjectedOf('forbidden')).toBe(0);
    expect(ups(text)[C]).toBe(1);
    expect(ups(text)[B]).toBe(1);
    expect(ups(text)[A]).toBe(0);
  });

  it('a reload that changes poll.auth_failure_backoff keeps the key blocked and its run: no new failed authentication', async () => {
    const { FakeClock } = await import('../helpers/clocked-exporter.js');
    const { startConfiguredExporter } = await import('../helpers/configured-exporter.js');
    const { parseConfig } = await import('../../src/config/load.js');
    sim = await startSimulator({ projects: Object.fromEntries([A, B].map((p) => [p, { encodeServers: 5, cloudPhoneServers: 1 }])) });
    const s = sim;
    // A wrong key: the gateway says so, the key is blocked after one failure.
    s.faults.set({ kind: 'bad-signature', operation: '*' });
    const clock = new FakeClock();
    const raw = (backoff: string) => ({
      targets: [A, B].map((p) => ({ project_id: p, region: 'cn-north-4', endpoint: s.url })),
      poll: { schedule: '0 0 * * * *', auth_failure_backoff: backoff },
    });
    const exporter = await startConfiguredExporter(raw('5m'), { clock });
    stop = () => exporter.stop();
    expect(s.stats.authFailures).toBe(1);
    expect(exporter.applyConfig(parseConfig(raw('10m')))).toContain('poll');
    for (let i = 0; i < 3; i++) {
      clock.advance(60_000);
      await exporter.poll();
    }
    // Still inside the block that began before the reload: the gateway's run was not forgotten.
    expect(s.stats.authFailures).toBe(1);
    const text = await (await fetch(`${exporter.url}/metrics`)).text();
    expect(ups(text)).toEqual({ [A]: 0, [B]: 0 });
  });
});
