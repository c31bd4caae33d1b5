import { afterEach, describe, expect, it } from 'vitest';
import type { CphClient } from '../../src/cph/client.js';
import { chooseProject } from '../../src/cph/iam.js';
import type { Credentials } from '../../src/cph/types.js';
import { createSimulator, type Simulator } from '../../src/simulator/server.js';
import { testClient } from '../helpers/configured-exporter.js';

/* The simulator's accounts: each with its own keys and projects, IAM's project listing, and 403 across accounts. */

const PROD: Credentials = { accessKey: 'SIMPRODAK00000000001', secretKey: 'sim-prod-sk' };
const LAB: Credentials = { accessKey: 'SIMLABAK000000000002', secretKey: 'sim-lab-sk' };
const P_CN = 'f1000000000000000000000000000001';
const P_AP = 'f1000000000000000000000000000002';
const L_CN = 'f2000000000000000000000000000001';
const L_CN_SUB = 'f2000000000000000000000000000002';
const OPEN = 'f3000000000000000000000000000001';

let sim: Simulator | undefined;
let client: CphClient | undefined;
afterEach(async () => {
  await client?.close();
  await sim?.close();
  client = undefined;
  sim = undefined;
});

async function start(): Promise<{ sim: Simulator; client: CphClient }> {
  sim = createSimulator({
    credentials: {},
    projects: { [OPEN]: { encodeServers: 3, cloudPhoneServers: 1 } },
    accounts: {
      prod: { credentials: { [PROD.accessKey]: PROD.secretKey }, projects: [{ id: P_CN, name: 'cn-north-4' }, { id: P_AP, name: 'ap-southeast-1' }] },
      // Two projects of one name: what makes discovery ambiguous.
      lab: { credentials: { [LAB.accessKey]: LAB.secretKey }, projects: [{ id: L_CN, name: 'cn-north-4' }, { id: L_CN_SUB, name: 'cn-north-4' }] },
    },
  });
  await sim.listen(0, '127.0.0.1');
  client = testClient();
  return { sim, client };
}

describe('simulator accounts', () => {
  it('IAM lists the caller account\'s projects of that name, and only those', async () => {
    const { sim, client } = await start();
    expect(await client.listProjects(sim.url, 'cn-north-4', { credentials: () => PROD })).toEqual([{ id: P_CN, name: 'cn-north-4' }]);
    expect(await client.listProjects(sim.url, 'ap-southeast-1', { credentials: () => PROD })).toEqual([{ id: P_AP, name: 'ap-southeast-1' }]);
    expect(await client.listProjects(sim.url, 'la-south-2', { credentials: () => PROD })).toEqual([]);
    expect((await client.listProjects(sim.url, 'cn-north-4', { credentials: () => LAB })).map((p) => p.id)).toEqual([L_CN, L_CN_SUB]);
  });

  it('discovery chooses the one match, and explains none and several', async () => {
    const { sim, client } = await start();
    expect(chooseProject(await client.listProjects(sim.url, 'cn-north-4', { credentials: () => PROD }), 'cn-north-4')).toEqual({ ok: true, projectId: P_CN });
    const none = chooseProject(await client.listProjects(sim.url, 'la-south-2', { credentials: () => PROD }), 'la-south-2');
    expect(none).toEqual({ ok: false, problem: expect.stringMatching(/^IAM lists no project named "la-south-2" for this key: .*set project_id$/) });
    const several = chooseProject(await client.listProjects(sim.url, 'cn-north-4', { credentials: () => LAB }), 'cn-north-4');
    expect(several).toEqual({ ok: false, problem: `IAM lists 2 projects named "cn-north-4" (${L_CN}, ${L_CN_SUB}): set project_id to the one to poll` });
  });

  it('a key of one account gets 403 CPS.0001 on another account\'s project; projects of no account are open', async () => {
    const { sim, client } = await start();
    const list = (c: Credentials, projectId: string) => client.listEncodeServers({ endpoint: sim.url, projectId }, { offset: 0, limit: 10 }, { credentials: () => c });
    await expect(list(PROD, P_CN)).resolves.toBeDefined();
    await expect(list(LAB, P_CN)).rejects.toMatchObject({ status: 403, apiErrorCode: 'CPS.0001' });
    await expect(list(LAB, OPEN)).resolves.toBeDefined();
    await expect(list(PROD, OPEN)).resolves.toBeDefined();
    // A 403 is an authenticated answer: it counts as no failed authentication.
    expect(sim.stats.authFailures).toBe(0);
  });

  it('a wrong secret key of one account counts against that key only', async () => {
    const { sim, client } = await start();
    await expect(client.listProjects(sim.url, 'cn-north-4', { credentials: () => ({ ...LAB, secretKey: 'wrong' }) })).rejects.toMatchObject({ status: 401 });
    expect(sim.stats.authFailuresFor(LAB.accessKey)).toBe(1);
    expect(sim.stats.authFailuresFor(PROD.accessKey)).toBe(0);
  });
});
