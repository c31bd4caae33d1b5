import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningExporter } from '../../src/exporter.js';
import type { Simulator } from '../../src/simulator/server.js';
import { startClockedExporter } from '../helpers/clocked-exporter.js';
import type { Family } from '../helpers/exposition.js';
import { startSimulator } from '../helpers/harness.js';
import { assertValidExposition, decodeUtf8 } from '../helpers/validity.js';

/*
 * 50 scrapers hammer /metrics (text, OpenMetrics, gzip) while the exporter polls back to back.
 * Between two polls both fleets are resized to the same new size, so a body that mixes two polls
 * shows up as two targets with different counts. A correctness check, not a timing one: every
 * scrape must succeed with a complete, valid, internally consistent exposition. The scrapers stop once
 * enough scrapes and polls were seen (events, not a time budget), so a slow machine only takes longer.
 */

const P1 = 'b1000000000000000000000000000001';
const P2 = 'b1000000000000000000000000000002';
const SCRAPERS = 50;
/** Scrapes run until this much has been seen, however fast or slow the machine is. */
const ENOUGH = { scrapes: SCRAPERS * 2, polls: 3 };
/** Only a safety net for a hung exporter; reaching it fails the counts below, it is not a time budget. */
const GIVE_UP_MS = 60_000;
const SIZES = [120, 180, 150, 210, 90];

type Mode = 'text' | 'openmetrics' | 'gzip';
const ACCEPT_OPENMETRICS = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';

function scrape(url: string, agent: http.Agent, mode: Mode): Promise<{ status: number; text: string; format: 'text' | 'openmetrics' }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (mode === 'openmetrics') headers['Accept'] = ACCEPT_OPENMETRICS;
    if (mode === 'gzip') headers['Accept-Encoding'] = 'gzip';
    const req = http.get(`${url}/metrics`, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        try {
          let body = Buffer.concat(chunks);
          if (res.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
          else if (mode === 'gzip') throw new Error('asked for gzip, got none');
          const format = (res.headers['content-type'] ?? '').startsWith('application/openmetrics-text') ? 'openmetrics' : 'text';
          resolve({ status: res.statusCode ?? 0, text: decodeUtf8(body), format });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
  });
}

function samples(families: Map<string, Family>, name: string, projectId: string) {
  const out = [];
  for (const f of families.values()) for (const s of f.samples) if (s.name === name && s.labels['project_id'] === projectId) out.push(s);
  return out;
}

/** Throws unless the body is one poll's consistent view of both targets. Returns the fleet size it shows. */
function checkConsistent(families: Map<string, Family>): number {
  const count = (p: string): number => samples(families, 'cph_encode_server_info', p).length;
  const servers = (p: string): number => samples(families, 'cph_encode_servers', p).reduce((a, s) => a + s.value, 0);
  const n1 = count(P1);
  const n2 = count(P2);
  if (n1 !== n2) throw new Error(`torn snapshot: ${n1} vs ${n2} encode servers`);
  if (servers(P1) !== n1 || servers(P2) !== n2) throw new Error('cph_encode_servers disagrees with cph_encode_server_info');
  for (const p of [P1, P2]) {
    if (samples(families, 'cph_up', p)[0]?.value !== 1) throw new Error(`cph_up of ${p} is not 1`);
  }
  const t1 = samples(families, 'cph_poll_last_success_timestamp_seconds', P1)[0]?.value;
  const t2 = samples(families, 'cph_poll_last_success_timestamp_seconds', P2)[0]?.value;
  if (t1 === undefined || t1 !== t2) throw new Error('last-success timestamps of one poll differ');
  return n1;
}

describe('50 concurrent scrapers during continuous polling', () => {
  let sim: Simulator;
  let exporter: RunningExporter;
  beforeAll(async () => {
    sim = await startSimulator({
      seed: 12,
      projects: { [P1]: { encodeServers: SIZES[0]!, cloudPhoneServers: 10 }, [P2]: { encodeServers: SIZES[0]!, cloudPhoneServers: 10 } },
      latencyMs: 2,
    });
    exporter = await startClockedExporter(sim, {
      targets: [{ projectId: P1 }, { projectId: P2, region: 'ap-southeast-1' }],
      raw: { poll: { page_size: 50, concurrency: 4 }, api: { requests_per_second: 200, burst: 200 } },
    });
  });
  afterAll(async () => {
    await exporter?.stop();
    await sim?.close();
  });

  it('every scrape succeeds with a complete, consistent exposition', { timeout: GIVE_UP_MS + 30_000 }, async () => {
    let stop = false;
    let polls = 0;
    const published = new Set<number>([SIZES[0]!]);
    const poller = (async () => {
      while (!stop) {
        const size = SIZES[(polls + 1) % SIZES.length]!;
        for (const p of [P1, P2]) {
          const fleet = sim.fleet(p);
          if (fleet.size < size) fleet.add(size - fleet.size, 0);
          else fleet.removeAt(0, fleet.size - size);
        }
        published.add(size);
        await exporter.poll();
        polls++;
      }
    })();

    const agent = new http.Agent({ keepAlive: true, maxSockets: SCRAPERS });
    const modes: Mode[] = ['text', 'openmetrics', 'gzip'];
    const stats = { scrapes: 0, failures: [] as string[], sizes: new Set<number>(), byMode: { text: 0, openmetrics: 0, gzip: 0 } };
    const giveUp = Date.now() + GIVE_UP_MS;
    const enough = (): boolean => (stats.scrapes >= ENOUGH.scrapes && polls >= ENOUGH.polls && stats.sizes.size > 1) || Date.now() > giveUp;
    await Promise.all(
      Array.from({ length: SCRAPERS }, async (_, i) => {
        const mode = modes[i % modes.length]!;
        while (!enough()) {
          try {
            const r = await scrape(exporter.url, agent, mode);
            if (r.status !== 200) throw new Error(`status ${r.status}`);
            if ((mode === 'openmetrics') !== (r.format === 'openmetrics')) throw new Error(`asked ${mode}, got ${r.format}`);
            stats.sizes.add(checkConsistent(assertValidExposition(r.text, r.format)));
            stats.byMode[mode]++;
          } catch (err) {
            stats.failures.push(`${mode}: ${(err as Error).message}`);
          }
          stats.scrapes++;
        }
      }),
    );
    stop = true;
    await poller;
    agent.destroy();

    console.info(`concurrent scrapes: ${stats.scrapes} scrapes (${JSON.stringify(stats.byMode)}) by ${SCRAPERS} scrapers during ${polls} polls; sizes seen ${[...stats.sizes].join(',')}`);
    expect(stats.failures.slice(0, 5)).toEqual([]);
    expect(stats.scrapes).toBeGreaterThanOrEqual(ENOUGH.scrapes);
    expect(polls).toBeGreaterThanOrEqual(ENOUGH.polls);
    // Scrapes saw more than one poll, and only sizes that were published.
    expect(stats.sizes.size).toBeGreaterThan(1);
    for (const n of stats.sizes) expect(published).toContain(n);
  });
});
