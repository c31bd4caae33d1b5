import { afterEach, describe, expect, it } from 'vitest';
import type { RunningExporter } from '../../src/exporter.js';
import type { Simulator } from '../../src/simulator/server.js';
import { FakeClock } from '../helpers/clocked-exporter.js';
import { startConfiguredExporter } from '../helpers/configured-exporter.js';
import { samplesOf } from '../helpers/exposition.js';
import { DEMO_CREDENTIALS, scrape, startSimulator } from '../helpers/harness.js';

/*
 * Accounts: named keys, each target choosing one. One account's bad key must never touch another
 * account's targets: not their health, not their listings, not their key's lockout counter.
 */

const PROD_AK = 'PRODAK00000000000001';
const PROD_SK = 'prod-secret-key-0000000000000000000001';
const LAB_AK = 'LABAK000000000000002';
const LAB_SK = 'lab-secret-key-00000000000000000000002';
const P1 = 'a0000000000000000000000000000001';
const P2 = 'a0000000000000000000000000000002';
const L1 = 'b0000000000000000000000000000001';
const D1 = 'c0000000000000000000000000000001';
const SIZE = 120;

let sim: Simulator | undefined;
let exporter: RunningExporter | undefined;
afterEach(async () => {
  await exporter?.stop();
  await sim?.close();
  exporter = undefined;
  sim = undefined;
});

const upOf = (text: string, projectId: string): number | undefined => samplesOf(text, 'cph_up').find((s) => s.labels['project_id'] === projectId)?.value;
const listed = (text: string, projectId: string): number => samplesOf(text, 'cph_encode_server_info').filter((s) => s.labels['project_id'] === projectId).length;
const reasonOf = (text: string, projectId: string): string | undefined =>
  samplesOf(text, 'cph_poll_error').find((s) => s.labels['project_id'] === projectId)?.labels['reason'];

async function start(env: NodeJS.ProcessEnv, clock: FakeClock): Promise<RunningExporter> {
  sim = await startSimulator({
    seed: 7,
    credentials: { [PROD_AK]: PROD_SK, [LAB_AK]: LAB_SK, [DEMO_CREDENTIALS.accessKey]: DEMO_CREDENTIALS.secretKey },
    projects: Object.fromEntries([P1, P2, L1, D1].map((p) => [p, { encodeServers: SIZE, cloudPhoneServers: 6 }])),
  });
  exporter = await startConfiguredExporter(
    {
      targets: [
        { project_id: P1, region: 'cn-north-4', endpoint: sim.url, account: 'prod' },
        { project_id: P2, region: 'ap-southeast-1', endpoint: sim.url, account: 'prod' },
        { project_id: L1, region: 'cn-north-4', endpoint: sim.url, account: 'lab' },
        // No account: the top-level credentials, as every config before accounts.
        { project_id: D1, region: 'cn-north-4', endpoint: sim.url },
      ],
      accounts: {
        prod: { access_key_env: 'PROD_AK', secret_key_env: 'PROD_SK' },
        lab: { access_key_env: 'LAB_AK', secret_key_env: 'LAB_SK' },
      },
      poll: { page_size: 25, auth_failure_backoff: '5m' },
      api: { connect_timeout: '2s', request_timeout: '5s' },
    },
    { env, clock },
  );
  return exporter;
}

describe('accounts', () => {
  it('two accounts, one with a wrong secret key: only its target fails; the others are complete and up, poll after poll', async () => {
    const clock = new FakeClock();
    const running = await start({ PROD_AK, PROD_SK, LAB_AK, LAB_SK: 'wrong-secret-key-000000000000000000000' }, clock);
    const s = sim as Simulator;
    for (let poll = 0; poll < 5; poll++) {
      if (poll > 0) {
        clock.advance(60_000);
        await running.poll();
      }
      const text = await scrape(running.url);
      for (const p of [P1, P2, D1]) {
        expect(upOf(text, p), `${p} poll ${poll}`).toBe(1);
        expect(listed(text, p), `${p} poll ${poll}`).toBe(SIZE);
      }
      expect(upOf(text, L1)).toBe(0);
      expect(reasonOf(text, L1)).toBe('auth');
    }
    // The lab key failed once (the first poll); the next four polls fell inside its 5-minute back-off.
    expect(s.stats.authFailuresFor(LAB_AK)).toBe(1);
    expect(s.stats.authFailuresFor(PROD_AK)).toBe(0);
    expect(s.stats.authFailuresFor(DEMO_CREDENTIALS.accessKey)).toBe(0);
    expect(s.lockedUntil(LAB_AK)).toBeUndefined();
    expect(s.stats.project(L1).requests).toBe(1);
  });

  it('a key that becomes good is used again at once, without waiting out the back-off (environment re-read each poll)', async () => {
    const clock = new FakeClock();
    const env: NodeJS.ProcessEnv = { PROD_AK, PROD_SK, LAB_AK, LAB_SK: 'wrong-secret-key-000000000000000000000' };
    const running = await start(env, clock);
    expect(upOf(await scrape(running.url), L1)).toBe(0);
    env['LAB_SK'] = LAB_SK;
    clock.advance(60_000);
    await running.poll();
    const text = await scrape(running.url);
    expect(upOf(text, L1)).toBe(1);
    expect(listed(text, L1)).toBe(SIZE);
  });

  it('an account whose keys cannot be had fails its own targets with reason auth; the others are untouched', async () => {
    const clock = new FakeClock();
    sim = await startSimulator({ seed: 8, credentials: { [PROD_AK]: PROD_SK }, projects: { [P1]: { encodeServers: SIZE, cloudPhoneServers: 6 }, [L1]: { encodeServers: SIZE, cloudPhoneServers: 6 } } });
    exporter = await startConfiguredExporter(
      {
        targets: [
          { project_id: P1, region: 'cn-north-4', endpoint: sim.url, account: 'prod' },
          { project_id: L1, region: 'cn-north-4', endpoint: sim.url, account: 'ecs' },
        ],
        accounts: {
          prod: { access_key_env: 'PROD_AK', secret_key_env: 'PROD_SK' },
          // Nothing listens on port 1: the metadata service is out of reach.
          ecs: { metadata: true, metadata_endpoint: 'http://127.0.0.1:1' },
        },
      },
      { env: { PROD_AK, PROD_SK }, clock },
    );
    const text = await scrape(exporter.url);
    expect(upOf(text, P1)).toBe(1);
    expect(listed(text, P1)).toBe(SIZE);
    expect(upOf(text, L1)).toBe(0);
    expect(reasonOf(text, L1)).toBe('auth');
    expect(sim.stats.project(L1).requests).toBe(0);
  });
});
