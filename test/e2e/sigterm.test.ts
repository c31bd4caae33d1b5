import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ACCESS_KEY, DEMO_SECRET_KEY } from '../../src/simulator/demo-credentials.js';
import type { Simulator } from '../../src/simulator/server.js';
import { startSimulator } from '../helpers/harness.js';

/*
 * The real CLI as a child process, stopped by SIGTERM (and SIGINT) while a poll is in flight:
 * the simulator holds every API request for a long time, so the start-up poll is still running.
 *
 * The child is `node --import tsx src/main.ts`: one process, as in the image (`node dist/main.js`),
 * so the signal reaches the exporter itself. (`npx tsx` puts npm and a shell in between, and npm
 * does not pass SIGTERM on: it exits 143 and leaves the exporter running.)
 */

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const P1 = 'd1000000000000000000000000000001';

let sim: Simulator;
let dir: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  sim = await startSimulator({ seed: 3, projects: { [P1]: { encodeServers: 50, cloudPhoneServers: 5 } }, latencyMs: 20_000 });
  dir = mkdtempSync(join(tmpdir(), 'cph-sigterm-'));
  writeFileSync(join(dir, 'config.yml'), `targets:\n  - project_id: ${P1}\n    region: cn-north-4\n    endpoint: ${sim.url}\n`);
});
afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
});
afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function until(predicate: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(['SIGTERM', 'SIGINT'] as const)('%s during a poll', (signal) => {
  it('exits 0 at once, with nothing on stderr but structured log lines and nothing on stdout', async () => {
    sim.resetStats();
    let stdout = '';
    let stderr = '';
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', `--config.file=${join(dir, 'config.yml')}`, '--web.listen-address=127.0.0.1:0', '--log.level=debug'], {
      cwd: repoRoot,
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], HUAWEICLOUD_SDK_AK: DEMO_ACCESS_KEY, HUAWEICLOUD_SDK_SK: DEMO_SECRET_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child!.on('close', (code, sig) => resolve({ code, signal: sig })));

    await until(() => /"msg":"cph-exporter listening"/.test(stderr), 'the exporter to listen');
    await until(() => sim.stats.inFlight > 0, 'a request in flight');
    const url = (JSON.parse(stderr.split('\n').find((l) => l.includes('cph-exporter listening')) as string) as { url: string }).url;
    // While the poll runs, the exporter serves and says it is not ready yet.
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(503);

    const sent = performance.now();
    child.kill(signal);
    const { code, signal: killedBy } = await exited;
    const seconds = (performance.now() - sent) / 1000;
    console.info(`${signal}: exit code ${code} after ${seconds.toFixed(2)} s with a request in flight`);

    expect(killedBy).toBeNull();
    expect(code).toBe(0);
    // The in-flight poll was aborted, not waited for: the simulator holds every request for 20 s, and it never
    // got to send that answer before the process was gone (an event, not a time budget: CI machines are slow).
    await until(() => sim.stats.inFlight === 0, 'the simulator to see the connection closed');
    expect(sim.stats.responsesWithStatus(200)).toBe(0);
    expect(stdout).toBe('');
    const lines = stderr.split('\n').filter((l) => l !== '');
    for (const line of lines) {
      let entry: { level?: unknown; msg?: unknown };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        throw new Error(`not a structured log line on stderr: ${line}`);
      }
      expect(typeof entry.level, line).toBe('string');
      expect(typeof entry.msg, line).toBe('string');
      expect(entry.msg, line).not.toMatch(/unhandled/i);
      expect(line).not.toMatch(/\n\s+at |Error: /);
    }
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain('shutting down');
    // Nothing was logged at warn or above: a shutdown is not a failure.
    expect(lines.filter((l) => /"level":"(warn|error|fatal)"/.test(l))).toEqual([]);
    // The exporter's connection went away with it: the simulator holds nothing any more.
    await until(() => sim.stats.inFlight === 0, 'the simulator to see the request go', 3000);
  });
});
