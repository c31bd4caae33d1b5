import { afterEach, describe, expect, it } from 'vitest';
import { iamEndpointFor } from '../../src/cph/iam.js';
import type { RunningExporter } from '../../src/exporter.js';
import { createSimulator, type Simulator } from '../../src/simulator/server.js';
import { FakeClock } from '../helpers/clocked-exporter.js';
import { startConfiguredExporter } from '../helpers/configured-exporter.js';
import { samplesOf, sumOf } from '../helpers/exposition.js';
import { scrape } from '../helpers/harness.js';

/*
 * Targets without project_id: the project of the region is found with IAM's KeystoneListProjects, with the
 * target's own key, and then polled. Zero or two matching projects are an error for that target alone.
 */

const PROD = { ak: 'DISCPRODAK0000000001', sk: 'disc-prod-sk' };
const LAB = { ak: 'DISCLABAK00000000002', sk: 'disc-lab-sk' };
const P_CN = 'd1000000000000000000000000000001';
const P_AP = 'd1000000000000000000000000000002';
const L_1 = 'd2000000000000000000000000000001';
const L_2 = 'd2000000000000000000000000000002';
const FIXED = 'd3000000000000000000000000000001';

let sim: Simulator | undefined;
let exporter: RunningExporter | undefined;
afterEach(async () => {
  await exporter?.stop();
  await sim?.close();
  exporter = undefined;
  sim = undefined;
});

const discoveryUp = (text: string, account: string, region: string): number | undefined =>
  samplesOf(text, 'cph_project_discovery_up').find((s) => s.labels['account'] === account && s.labels['region'] === region)?.value;
const upOf = (text: string, projectId: string): number | undefined => samplesOf(text, 'cph_up').find((s) => s.labels['project_id'] === projectId)?.value;
const iamCalls = (text: string): number => sumOf(samplesOf(text, 'cph_api_requests_total'), { operation: 'KeystoneListProjects' });

describe('project discovery', () => {
  it('polls discovered projects; zero or two matches fail only that target; answers are cached', async () => {
    sim = createSimulator({
      seed: 3,
      credentials: { [PROD.ak]: PROD.sk },
      projects: Object.fromEntries([P_CN, P_AP, L_1, L_2, FIXED].map((p) => [p, { encodeServers: 30, cloudPhoneServers: 3 }])),
      accounts: {
        prod: { credentials: { [PROD.ak]: PROD.sk }, projects: [{ id: P_CN, name: 'cn-north-4' }, { id: P_AP, name: 'ap-southeast-1' }, { id: FIXED, name: 'cn-east-3' }] },
        lab: { credentials: { [LAB.ak]: LAB.sk }, projects: [{ id: L_1, name: 'cn-north-4' }, { id: L_2, name: 'cn-north-4' }] },
      },
    });
    const s = sim;
    await s.listen(0, '127.0.0.1');
    const at = { endpoint: s.url, iam_endpoint: s.url };
    exporter = await startConfiguredExporter(
      {
        targets: [
          { region: 'cn-north-4', account: 'prod', ...at },
          { region: 'ap-southeast-1', account: 'prod', ...at },
          { region: 'cn-north-4', account: 'lab', ...at }, // two projects of that name
          { region: 'la-south-2', account: 'prod', ...at }, // none
          { project_id: FIXED, region: 'cn-east-3', account: 'prod', endpoint: s.url }, // configured: no IAM call
        ],
        accounts: { prod: { access_key_env: 'PROD_AK', secret_key_env: 'PROD_SK' }, lab: { access_key_env: 'LAB_AK', secret_key_env: 'LAB_SK' } },
      },
      { env: { PROD_AK: PROD.ak, PROD_SK: PROD.sk, LAB_AK: LAB.ak, LAB_SK: LAB.sk }, clock: new FakeClock() },
    );
    let text = await scrape(exporter.url);
    for (const p of [P_CN, P_AP, FIXED]) {
      expect(upOf(text, p), p).toBe(1);
      expect(samplesOf(text, 'cph_encode_server_info').filter((x) => x.labels['project_id'] === p)).toHaveLength(30);
    }
    expect(upOf(text, L_1)).toBeUndefined();
    expect(upOf(text, L_2)).toBeUndefined();
    expect(discoveryUp(text, 'prod', 'cn-north-4')).toBe(1);
    expect(discoveryUp(text, 'prod', 'ap-southeast-1')).toBe(1);
    expect(discoveryUp(text, 'lab', 'cn-north-4')).toBe(0);
    expect(discoveryUp(text, 'prod', 'la-south-2')).toBe(0);
    expect(samplesOf(text, 'cph_project_discovery_up')).toHaveLength(4);
    expect(iamCalls(text)).toBe(4);
    expect(s.stats.authFailures).toBe(0);

    // Found projects are not asked for again; the failing ones are, at each poll.
    await exporter.poll();
    text = await scrape(exporter.url);
    expect(iamCalls(text)).toBe(6);
    expect(upOf(text, P_CN)).toBe(1);
  });

  it('asks the target\'s iam_endpoint, else HUAWEICLOUD_SDK_IAM_ENDPOINT, else the region\'s IAM', () => {
    expect(iamEndpointFor({ region: 'cn-north-4' }, {})).toBe('https://iam.cn-north-4.myhuaweicloud.com');
    expect(iamEndpointFor({ region: 'cn-north-4' }, { HUAWEICLOUD_SDK_IAM_ENDPOINT: 'https://iam.example.com/' })).toBe('https://iam.example.com');
    expect(iamEndpointFor({ region: 'cn-north-4', iamEndpoint: 'https://iam.ap-southeast-1.myhuaweicloud.com' }, { HUAWEICLOUD_SDK_IAM_ENDPOINT: 'https://iam.example.com' })).toBe(
      'https://iam.ap-southeast-1.myhuaweicloud.com',
    );
  });
});

describe('--check-config with targets left to discovery', () => {
  it('shows the discovered project ids, and exits 1 naming the target whose discovery fails', async () => {
    const { main } = await import('../../src/main.js');
    const { tempFile } = await import('../helpers/harness.js');
    sim = createSimulator({
      credentials: {},
      accounts: {
        prod: { credentials: { [PROD.ak]: PROD.sk }, projects: [{ id: P_CN, name: 'cn-north-4' }] },
        lab: { credentials: { [LAB.ak]: LAB.sk }, projects: [{ id: L_1, name: 'cn-north-4' }, { id: L_2, name: 'cn-north-4' }] },
      },
    });
    const s = sim;
    await s.listen(0, '127.0.0.1');
    const env = { PROD_AK: PROD.ak, PROD_SK: PROD.sk, LAB_AK: LAB.ak, LAB_SK: LAB.sk, HUAWEICLOUD_SDK_IAM_ENDPOINT: s.url };
    const accounts = 'accounts:\n  prod: {access_key_env: PROD_AK, secret_key_env: PROD_SK}\n  lab: {access_key_env: LAB_AK, secret_key_env: LAB_SK}\n';
    const run = async (targets: string): Promise<{ code: unknown; out: string; err: string }> => {
      let out = '';
      let err = '';
      const file = tempFile('config.yml', `targets:\n${targets}${accounts}`);
      const code = await main(['--check-config', `--config.file=${file}`], { stdout: (t) => void (out += t), stderr: (t) => void (err += t) }, env);
      return { code, out, err };
    };
    const good = await run(`  - {region: cn-north-4, account: prod, endpoint: "${s.url}"}\n`);
    expect(good).toMatchObject({ code: 0, err: '' });
    expect(good.out).toContain(`targets[0] (account prod, cn-north-4): project ${P_CN} (discovered)\n`);
    const bad = await run(`  - {region: cn-north-4, account: prod, endpoint: "${s.url}"}\n  - {region: cn-north-4, account: lab, endpoint: "${s.url}"}\n`);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`targets[1] (account lab, cn-north-4).project_id: not set, and discovery failed: ${s.url}: IAM lists 2 projects named "cn-north-4" (${L_1}, ${L_2})`);
  });

});

describe('project discovery and the key policy', () => {
  it('a wrong key costs one failed authentication per back-off window in all, discovery (IAM) included, and is never locked', async () => {
    sim = createSimulator({
      seed: 4,
      credentials: { [PROD.ak]: PROD.sk },
      projects: Object.fromEntries([P_CN, FIXED].map((p) => [p, { encodeServers: 30, cloudPhoneServers: 3 }])),
      accounts: { prod: { credentials: { [PROD.ak]: PROD.sk }, projects: [{ id: P_CN, name: 'cn-north-4' }, { id: FIXED, name: 'cn-east-3' }] } },
      lockout: { maxFailures: 5, durationMs: 5 * 60_000 },
    });
    const s = sim;
    await s.listen(0, '127.0.0.1');
    const clock = new FakeClock();
    exporter = await startConfiguredExporter(
      {
        targets: [
          { region: 'cn-north-4', account: 'prod', endpoint: s.url, iam_endpoint: s.url }, // discovered
          { project_id: FIXED, region: 'cn-east-3', account: 'prod', endpoint: s.url },
        ],
        accounts: { prod: { access_key_env: 'PROD_AK', secret_key_env: 'PROD_SK' } },
      },
      { env: { PROD_AK: PROD.ak, PROD_SK: 'a-wrong-secret-key' }, clock },
    );
    // An hour of polls, one a minute. With the default 5 m back-off doubling per block (5, 10, 20 m), the key may
    // fail at 0, 5, 15 and 35 minutes at most: IAM's 401s and CPH's count toward the same gateway run.
    for (let minute = 1; minute <= 60; minute++) {
      clock.advance(60_000);
      await exporter.poll();
    }
    const ak = s.stats.accessKey(PROD.ak);
    expect(ak.authFailures).toBeGreaterThan(0);
    expect(ak.authFailures).toBeLessThanOrEqual(4);
    expect(ak.lockouts).toBe(0);
    const text = await scrape(exporter.url);
    expect(upOf(text, FIXED)).toBe(0);
    expect(discoveryUp(text, 'prod', 'cn-north-4')).toBe(0);
  });
});
