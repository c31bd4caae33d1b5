import { describe, expect, it } from 'vitest';
import { FakeClock, startClockedExporter } from '../helpers/clocked-exporter.js';
import { samplesOf } from '../helpers/exposition.js';
import { perTestRig, startSimulator } from '../helpers/harness.js';
import { scrapeValid } from '../helpers/validity.js';

/*
 * A target held back by its key (another target's 401 said the key is bad) is not polled, and its
 * health says so from the first poll it is held: cph_up 0, its reason, its back-off. Its series
 * expire at poll.max_staleness like any failing target's, however long the key's back-off is.
 * The wall clock is fake: staleness and back-off deadlines are reached by advancing it.
 */

const A = 'a7000000000000000000000000000001';
const B = 'a7000000000000000000000000000002';
const MAX_STALENESS_MS = 30_000;

const rig = perTestRig();

describe.each(['1m', '1h'])('a target held by its key (auth_failure_backoff %s, max_staleness 30s)', (backoff) => {
  it('reports cph_up 0, reason auth and its back-off from the first held poll; its series go at max_staleness', async () => {
    const sim = (rig.sim = await startSimulator({ seed: 21, projects: { [A]: { encodeServers: 15, cloudPhoneServers: 2 }, [B]: { encodeServers: 12, cloudPhoneServers: 2 } } }));
    const clock = new FakeClock();
    const exporter = (rig.exporter = await startClockedExporter(sim, {
      // B first: its request proves the key before A's 401 blocks it, so B is up in that poll and held from the next.
      targets: [{ projectId: B }, { projectId: A }],
      raw: { poll: { schedule: '*/10 * * * * *', timeout: '4s', max_staleness: '30s', auth_failure_backoff: backoff }, api: { request_timeout: '2s' } },
      clock,
    }));
    const view = async () => (await scrapeValid(exporter.url)).text;
    const of = (text: string, name: string, projectId: string) => samplesOf(text, name).filter((s) => s.labels['project_id'] === projectId);
    const lastSuccessB = of(await view(), 'cph_poll_last_success_timestamp_seconds', B)[0]?.value as number;
    expect(of(await view(), 'cph_up', B)[0]?.value).toBe(1);

    // The gateway says A's key is bad (a 401 APIGW.0301 signature failure): the whole key is blocked.
    sim.faults.set({ kind: 'bad-signature', projectId: A });
    let firstHeld: string | undefined;
    let polledB = 0;
    let lastSeenB = clock.ms;
    for (let t = 10_000; t <= MAX_STALENESS_MS + 20_000; t += 10_000) {
      clock.advance(10_000);
      const before = sim.stats.project(B).requests;
      await exporter.poll();
      const text = await view();
      if (sim.stats.project(B).requests > before) {
        polledB++;
        lastSeenB = clock.ms;
        continue; // B answered before the block: it may still be up this poll
      }
      firstHeld ??= text;
      // Held: never up, always the reason and the time until its key may send again.
      expect(of(text, 'cph_up', B)[0]?.value).toBe(0);
      // Every resource of the target is held with it.
      expect(of(text, 'cph_poll_error', B).map((s) => `${s.labels['resource']} ${s.labels['reason']}`)).toEqual(['encode_servers auth', 'phone_servers auth', 'phones auth']);
      expect(of(text, 'cph_target_auth_backoff_seconds', B)[0]?.value).toBeGreaterThan(0);
      const infos = of(text, 'cph_encode_server_info', B).length;
      if (clock.ms - lastSeenB > MAX_STALENESS_MS) expect(infos, `at ${clock.ms - lastSeenB} ms`).toBe(0);
      else expect(infos).toBe(12);
    }
    expect(firstHeld).toBeDefined();
    expect(polledB).toBe(1); // up in the poll whose other target's 401 blocked the key, held ever since
    // Gone, however long the back-off still runs; the last success stays as it was.
    const final = await view();
    expect(of(final, 'cph_encode_server_info', B)).toHaveLength(0);
    expect(of(final, 'cph_encode_servers', B)).toHaveLength(0);
    expect(of(final, 'cph_poll_last_success_timestamp_seconds', B)[0]?.value).toBeGreaterThanOrEqual(lastSuccessB);
    expect(sim.stats.authFailures).toBe(1);
  });
});
