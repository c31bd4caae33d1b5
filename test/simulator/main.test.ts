import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_ACCESS_KEY, DEMO_PROJECTS, DEMO_SECRET_KEY } from '../../src/simulator/demo-credentials.js';
import { list } from './helpers.js';

const MAIN = fileURLToPath(new URL('../../src/simulator/main.ts', import.meta.url));
let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

function run(args: string[]): { proc: ChildProcess; output: () => string; url: Promise<string>; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    proc.on('exit', () => reject(new Error(`exited: ${out}`)));
  });
  url.catch(() => undefined); // a test that expects the process to fail never awaits the URL
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, output: () => out, url, exit };
}

describe('npm run simulator', () => {
  it('demo credentials are clearly fake and shaped like real ones', () => {
    expect(DEMO_ACCESS_KEY).toBe('DEMOAK0000000000CPHX');
    expect(DEMO_SECRET_KEY).toHaveLength(40);
    expect(DEMO_SECRET_KEY.startsWith('DEMO')).toBe(true);
  });

  it('starts with flags, prints URL, projects and the demo AK, and stops on SIGTERM', async () => {
    const { proc, output, url, exit } = run([
      '--listen=127.0.0.1:0',
      '--seed=3',
      '--projects=abc123:30,def456:7',
      '--latency-ms=1',
      '--rate-limit=1000:50',
      '--phones-per-server=10',
    ]);
    const base = await url;
    expect(output()).toContain('abc123 (30 encode servers, 3 cloud-phone servers, 30 phones)');
    expect(output()).toContain(DEMO_ACCESS_KEY);
    expect(output()).not.toContain(DEMO_SECRET_KEY);
    const r = await list(base, 'abc123');
    expect(r.status).toBe(200);
    expect(r.json.encode_servers).toHaveLength(30);
    expect((await list(base, 'def456')).json.encode_servers).toHaveLength(7);
    expect((await list(base, 'other')).status).toBe(403);
    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('serves the demo projects by default and stops on SIGINT', async () => {
    const { proc, url, exit } = run(['--listen=127.0.0.1:0']);
    const base = await url;
    for (const [id, n] of Object.entries(DEMO_PROJECTS)) {
      const got: unknown[] = [];
      for (let offset = 0; ; offset += 100) {
        const page = (await list(base, id, `offset=${offset}`)).json.encode_servers;
        got.push(...page);
        if (page.length < 100) break;
      }
      expect(got).toHaveLength(n);
    }
    proc.kill('SIGINT');
    expect(await exit).toBe(0);
  });

  it('rejects bad flags', async () => {
    const { exit, output } = run(['--listen=nope']);
    expect(await exit).toBe(2);
    expect(output()).toMatch(/--listen must be HOST:PORT/);
  });
});
