/**
 * The admin routes as `--help` shows them: every route is listed, and every example works as printed (with `<...>`
 * placeholders filled in) against a simulator serving the demo projects.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_ROUTES } from '../../src/simulator/admin/routes.js';
import { DEMO_PROJECTS } from '../../src/simulator/demo-credentials.js';
import { FAULT_KINDS } from '../../src/simulator/faults.js';
import { createSimulator, type Simulator } from '../../src/simulator/server.js';

const MAIN = fileURLToPath(new URL('../../src/simulator/main.ts', import.meta.url));
let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** The example's body with every `<name ...>` placeholder replaced by `values[name]`. */
function filled(body: unknown, values: Record<string, string>): unknown {
  return JSON.parse(
    JSON.stringify(body).replace(/<([a-z_]+)[^>"]*>/g, (_, name: string) => {
      expect(values, `placeholder ${name}`).toHaveProperty(name);
      return values[name] as string;
    }),
  ) as unknown;
}

describe('admin route examples', () => {
  it('every route has an example that names no template parameter, and it works', async () => {
    sim = createSimulator({ projects: Object.fromEntries(Object.entries(DEMO_PROJECTS).map(([p, n]) => [p, { encodeServers: n, cloudPhoneServers: 5 }])) });
    const base = await sim.listen();
    const project = Object.keys(DEMO_PROJECTS)[0] as string;
    const values = {
      encode_server_id: sim.fleet(project).items[0]?.encode_server_id as string,
      server_id: sim.estate(project).phoneServers[0]?.server_id as string,
    };
    for (const route of ADMIN_ROUTES) {
      const path = route.example?.path ?? route.path;
      expect(path, `${route.method} ${route.path}`).not.toMatch(/[{}]/);
      const body = route.example?.body;
      const res = await fetch(`${base}${path}`, {
        method: route.method,
        ...(body !== undefined ? { body: JSON.stringify(filled(body, values)), headers: { 'content-type': 'application/json' } } : {}),
      });
      expect(res.status, `${route.method} ${path}: ${await res.clone().text()}`).toBeLessThan(300);
      await res.arrayBuffer();
    }
  });
});

describe('npm run simulator -- --help', () => {
  it('lists every API route, every admin route with a curl example for the --listen address, and every fault kind', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', MAIN, '--help', '--listen=127.0.0.1:9999'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    const out = run.stdout;
    expect(out).toContain('GET /v1/{project_id}/cloud-phone/encode-servers (ListEncodeServers)');
    for (const route of ADMIN_ROUTES) {
      expect(out).toContain(`  ${route.method} ${route.path}\n      ${route.summary}\n      curl -s`);
    }
    expect(out.match(/curl -s/g)).toHaveLength(ADMIN_ROUTES.length);
    expect(out).toContain("curl -s -X POST 'http://127.0.0.1:9999/_sim/faults' -d '{");
    for (const kind of FAULT_KINDS) expect(out).toMatch(new RegExp(`^  ${kind}$`, 'm'));
  });
});
