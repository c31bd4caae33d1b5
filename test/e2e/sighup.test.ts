import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_ACCESS_KEY, DEMO_SECRET_KEY } from '../../src/simulator/demo-credentials.js';
import type { Simulator } from '../../src/simulator/server.js';
import { samplesOf } from '../helpers/exposition.js';
import { startSimulator } from '../helpers/harness.js';

/*
 * SIGHUP to the real CLI process (`node --import tsx src/main.ts`, one process as in the image): the
 * configuration file is re-read, a removed target leaves /metrics, a broken file is refused and logged,
 * and the process (same pid, same port) keeps serving.
 */

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const P1 = 'e5000000000000000000000000000001';
const P2 = 'e5000000000000000000000000000002';

let sim: Simulator | undefined;
let child: ChildProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  child = undefined;
  sim = undefined;
  dir = undefined;
});

/** Waits for an event (checked every 50 ms, at most 300 times). */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never saw: ${what}`);
}

describe('SIGHUP', () => {
  it('re-reads the configuration file in the running process: a removed target leaves /metrics, a broken file is refused', async () => {
    sim = await startSimulator({ projects: { [P1]: { encodeServers: 10, cloudPhoneServers: 1 }, [P2]: { encodeServers: 10, cloudPhoneServers: 1 } } });
    const s = sim;
    dir = mkdtempSync(join(tmpdir(), 'cph-sighup-'));
    const file = join(dir, 'config.yml');
    const config = (projects: string[]): string => `targets:\n${projects.map((p) => `  - {project_id: "${p}", region: cn-north-4, endpoint: "${s.url}"}\n`).join('')}`;
    writeFileSync(file, config([P1, P2]));
    let stderr = '';
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', `--config.file=${file}`, '--web.listen-address=127.0.0.1:0'], {
      cwd: repoRoot,
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], HUAWEICLOUD_SDK_AK: DEMO_ACCESS_KEY, HUAWEICLOUD_SDK_SK: DEMO_SECRET_KEY },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const proc = child;
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    await until('the exporter to listen', () => /"msg":"cph-exporter listening"/.test(stderr));
    const url = (JSON.parse(stderr.split('\n').find((l) => l.includes('cph-exporter listening')) as string) as { url: string }).url;
    const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();
    const projects = (text: string): string[] => samplesOf(text, 'cph_up').map((x) => x.labels['project_id'] as string).sort();
    await until('both targets polled', async () => projects(await metrics()).length === 2);

    writeFileSync(file, config([P2]));
    proc.kill('SIGHUP');
    await until('the reload logged', () => stderr.includes('configuration reloaded'));
    expect(projects(await metrics())).toEqual([P2]);

    writeFileSync(file, `${config([P2])}bogus: 1\n`);
    proc.kill('SIGHUP');
    await until('the rejection logged', () => stderr.includes('configuration reload rejected'));
    await until('cph_config_last_reload_successful 0', async () => samplesOf(await metrics(), 'cph_config_last_reload_successful')[0]?.value === 0);
    expect(projects(await metrics())).toEqual([P2]);
    expect(stderr).toContain(`${file}: bogus: unknown key`);
    expect(proc.exitCode).toBeNull();
  });
});
