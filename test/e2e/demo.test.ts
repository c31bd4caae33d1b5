import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { EncodeServer } from '../../src/cph/types.js';
import { parseExposition, samplesOf, sumOf } from '../helpers/exposition.js';

/*
 * `npm run demo` as a user runs it (the same command line, as a child process): within 10 s it
 * serves every metric family, its counts agree with the simulator's fleet (read from the
 * simulator's admin API, not from the exporter's code), and Ctrl-C stops it cleanly.
 */

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const FAMILIES = [
  'cph_encode_servers',
  'cph_encode_server_ports',
  'cph_encode_server_info',
  'cph_up',
  'cph_poll_duration_seconds',
  'cph_poll_last_success_timestamp_seconds',
  'cph_poll_failures_total',
  'cph_api_requests_total',
  'cph_api_request_duration_seconds_count',
  'cph_build_info',
  'process_cpu_seconds_total',
  'nodejs_eventloop_lag_seconds',
];

describe('npm run demo', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
  });

  it('serves every metric family within 10 s, agreeing with the simulator, and stops on SIGINT', async () => {
    const port = await freePort();
    const started = performance.now();
    child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'src/demo/main.ts', `--web.listen-address=127.0.0.1:${port}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));

    let text = '';
    const deadline = started + 10_000;
    while (performance.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        text = await res.text();
        const families = parseExposition(text);
        if (FAMILIES.every((f) => samplesOf(families, f).length > 0)) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`demo served every family after ${seconds.toFixed(2)} s`);
    for (const f of FAMILIES) expect(samplesOf(text, f).length, `${f} after ${seconds.toFixed(1)} s\n${stderr}`).toBeGreaterThan(0);

    const simUrl = /CPH simulator\s+(http:\/\/\S+)/.exec(stdout)?.[1];
    expect(simUrl, stdout).toBeDefined();
    const { projects } = (await (await fetch(`${simUrl}/_sim/projects`)).json()) as { projects: Array<{ projectId: string }> };
    expect(projects).toHaveLength(2);
    for (const { projectId } of projects) {
      const fleet = (await (await fetch(`${simUrl}/_sim/fleet/${projectId}`)).json()) as { encode_servers: EncodeServer[] };
      expect(sumOf(samplesOf(text, 'cph_encode_servers'), { project_id: projectId })).toBe(fleet.encode_servers.length);
      const ports = fleet.encode_servers.reduce((n, e) => n + e.access_infos.length, 0);
      expect(sumOf(samplesOf(text, 'cph_encode_server_ports'), { project_id: projectId })).toBe(ports);
      expect(samplesOf(text, 'cph_encode_server_info').filter((s) => s.labels['project_id'] === projectId)).toHaveLength(fleet.encode_servers.length);
    }
    for (const s of samplesOf(text, 'cph_up')) expect(s.value).toBe(1);
    expect(stdout).toContain(`http://127.0.0.1:${port}/metrics`);

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    // Logs are JSON lines; nothing else (no stack trace, no warning) reaches stderr.
    for (const line of stderr.split('\n').filter(Boolean)) expect(() => JSON.parse(line), line).not.toThrow();
    child = undefined;
  });
});
