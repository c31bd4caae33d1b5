import { afterEach, describe, expect, it } from 'vitest';
import type { CphClient } from '../../src/cph/client.js';
import { MetadataCredentials } from '../../src/credentials/metadata.js';
import type { RunningExporter } from '../../src/exporter.js';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server.js';
import { FakeClock } from '../helpers/clocked-exporter.js';
import { startConfiguredExporter, testClient } from '../helpers/configured-exporter.js';
import { samplesOf } from '../helpers/exposition.js';
import { scrape } from '../helpers/harness.js';

/*
 * Temporary keys from the ECS metadata service (simulated: it hands out keys of the account "ecs"
 * that the simulator's gateway refuses once they expire, on a fake clock). The exporter signs with
 * them and their security token, and fetches new ones before they expire, so no poll ever fails.
 */

const PROJECT = 'e1000000000000000000000000000001';
const HOUR = 60 * 60 * 1000;
const SIZE = 40;

let sim: Simulator | undefined;
let exporter: RunningExporter | undefined;
let client: CphClient | undefined;
afterEach(async () => {
  await exporter?.stop();
  await client?.close();
  await sim?.close();
  exporter = undefined;
  client = undefined;
  sim = undefined;
});

async function startSim(clock: FakeClock, metadata: Partial<NonNullable<SimulatorOptions['metadata']>> = {}): Promise<Simulator> {
  sim = createSimulator({
    credentials: {},
    projects: { [PROJECT]: { encodeServers: SIZE, cloudPhoneServers: 4 } },
    accounts: { ecs: { projects: [{ id: PROJECT, name: 'cn-north-4' }] } },
    metadata: { account: 'ecs', lifetimeMs: HOUR, requireToken: true, clock, ...metadata },
  });
  await sim.listen(0, '127.0.0.1');
  return sim;
}

function newClient(): CphClient {
  client = testClient();
  return client;
}

describe('metadata credentials (simulator)', () => {
  it('are signed with their security token, and the simulator refuses them once expired (what the refresh must prevent)', async () => {
    const clock = new FakeClock();
    const s = await startSim(clock);
    const provider = new MetadataCredentials({ account: 'ecs', endpoint: s.url, now: clock.now });
    const credentials = await provider.get();
    expect(credentials.securityToken).toBeTruthy();
    const list = (c = credentials) => newClient().listEncodeServers({ endpoint: s.url, projectId: PROJECT }, { offset: 0, limit: 10 }, { credentials: () => c });
    await expect(list()).resolves.toMatchObject({ response: { encode_servers: expect.any(Array) } });
    // Without the token the temporary key is refused.
    await expect(list({ accessKey: credentials.accessKey, secretKey: credentials.secretKey })).rejects.toMatchObject({ status: 401 });
    clock.advance(HOUR);
    await expect(list()).rejects.toMatchObject({ status: 401, apiErrorMessage: 'token expires' });
  });

  it('the exporter polls with them for hours of fake time, refreshing before expiry: no failed poll, no failed authentication', async () => {
    const clock = new FakeClock();
    const s = await startSim(clock);
    exporter = await startConfiguredExporter(
      {
        targets: [{ project_id: PROJECT, region: 'cn-north-4', endpoint: s.url, account: 'ecs' }],
        accounts: { ecs: { metadata: true, metadata_endpoint: s.url } },
      },
      { clock },
    );
    // Keys live an hour; a poll every 10 minutes for 4 hours.
    for (let poll = 0; poll < 24; poll++) {
      if (poll > 0) {
        clock.advance(10 * 60 * 1000);
        await exporter.poll();
      }
      const text = await scrape(exporter.url);
      expect(samplesOf(text, 'cph_up')[0]?.value, `poll ${poll}`).toBe(1);
      expect(samplesOf(text, 'cph_encode_server_info')).toHaveLength(SIZE);
    }
    expect(s.stats.authFailures).toBe(0);
    expect(samplesOf(await scrape(exporter.url), 'cph_poll_failures_total').every((f) => f.value === 0)).toBe(true);
    // Refreshed half-way through each one-hour lifetime (40 minutes before expiry for long-lived keys): 4 h / 30 min,
    // and only then: the service is not asked on every poll.
    expect(s.accounts.issued).toBeGreaterThanOrEqual(8);
    expect(s.accounts.issued).toBeLessThanOrEqual(9);
  });

  it('a session token that lapsed is replaced once (401, new token, success), as the SDKs do', async () => {
    const clock = new FakeClock();
    const s = await startSim(clock);
    const provider = new MetadataCredentials({ account: 'ecs', endpoint: s.url, now: clock.now });
    await provider.get();
    expect(s.metadata?.calls).toEqual({ token: 1, securityKey: 1, refused: 0 });
    s.metadata?.expireSessionTokens();
    clock.advance(HOUR / 2);
    await provider.get();
    expect(s.metadata?.calls).toEqual({ token: 2, securityKey: 3, refused: 1 });
  });

  it('works with a service that needs no session token (the token call answers 404), asking again only a day later', async () => {
    const clock = new FakeClock();
    const s = await startSim(clock, { requireToken: false });
    const provider = new MetadataCredentials({ account: 'ecs', endpoint: s.url, now: clock.now });
    await provider.get();
    clock.advance(HOUR / 2);
    await provider.get();
    expect(s.metadata?.calls).toEqual({ token: 1, securityKey: 2, refused: 0 });
  });

  it('a failed refresh keeps the keys in hand while they are valid, and fails once they expired, naming the account, never a key', async () => {
    const clock = new FakeClock();
    const s = await startSim(clock);
    const events: string[] = [];
    const provider = new MetadataCredentials({ account: 'ecs', endpoint: s.url, now: clock.now, onEvent: (e) => events.push(e.kind) });
    const first = await provider.get();
    await s.close();
    clock.advance(HOUR / 2);
    await expect(provider.get()).resolves.toEqual(first);
    clock.advance(HOUR / 2);
    const err = await provider.get().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^accounts\.ecs\.metadata: http:\/\/127\.0\.0\.1:\d+\/openstack\/latest\/securitykey: ECONNREFUSED$/);
    for (const secret of [first.accessKey, first.secretKey, first.securityToken as string]) expect(err?.message).not.toContain(secret);
    expect(events).toEqual(['fetched', 'refresh_failed']);
  });

  it('a server without an agency is told so', async () => {
    const clock = new FakeClock();
    const s = await startSim(clock, { account: undefined, requireToken: false });
    const provider = new MetadataCredentials({ account: 'ecs', endpoint: s.url, now: clock.now });
    await expect(provider.get()).rejects.toThrow(/HTTP 401 \(the server has no agency: attach one with CPH read permission\)$/);
  });
});
