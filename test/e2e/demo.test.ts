import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { EncodeServer } from '../../src/cph/types.js';
import { parseExposition, samplesOf, sumOf } from '../helpers/exposition.js';
import { promtool } from '../helpers/tools.js';
import { promtoolCheck } from '../helpers/validity.js';

/*
 * `npm run demo` as a user runs it (the same command line, as a child process): once ready it
 * serves every metric family, its counts agree with the simulator's fleet (read from the
 * simulator's admin API, not from the exporter's code), the live scrape (process metrics included)
 * passes `promtool check metrics`, the Prometheus command it prints scrapes the port it really uses,
 * the fault command it prints takes one project down and leaves the other up, and Ctrl-C stops it cleanly.
 *
 * No wall-clock budget: how long tsx takes to start depends on the machine. The test waits for
 * events (the banner on stdout, then /readyz answering 200 after the first poll of every target);
 * the test timeout below only bounds a demo that never gets there.
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
  'cph_phone_servers',
  'cph_phone_server_info',
  'cph_phones',
  'cph_resource_up',
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

  it('serves every metric family once ready, agreeing with the simulator; passes promtool; prints a working Prometheus command; stops on SIGINT', async (ctx) => {
    const port = await freePort();
    child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'src/demo/main.ts', `--web.listen-address=127.0.0.1:${port}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    const banner = new Promise<void>((resolve, reject) => {
      child?.stdout?.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('then open ')) resolve();
      });
      void exited.then((code) => reject(new Error(`demo exited with ${code} before it was ready\n${stdout}\n${stderr}`)));
    });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await banner;
    // The exporter listens before the banner; /readyz turns 200 when every target has had its first poll.
    while ((await fetch(`http://127.0.0.1:${port}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 100));

    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    parseExposition(text);
    for (const f of FAMILIES) expect(samplesOf(text, f).length, `${f}\n${stderr}`).toBeGreaterThan(0);
    const tool = promtool(ctx);
    if (tool) promtoolCheck(tool, text);

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
      // The demo shows the whole estate: phone servers and phones beside the encode servers.
      const estate = (await (await fetch(`${simUrl}/_sim/estate/${projectId}`)).json()) as { phone_servers: unknown[]; phones: unknown[] };
      expect(sumOf(samplesOf(text, 'cph_phone_servers'), { project_id: projectId })).toBe(estate.phone_servers.length);
      expect(sumOf(samplesOf(text, 'cph_phones'), { project_id: projectId })).toBe(estate.phones.length);
    }
    for (const s of samplesOf(text, 'cph_up')) expect(s.value).toBe(1);
    expect(stdout).toContain(`http://127.0.0.1:${port}/metrics`);

    // The printed Prometheus command, as a user would copy it: its config scrapes this port and loads the rules.
    const command = /^ {2}(prometheus --config\.file=(\S+) .*)$/m.exec(stdout);
    expect(command, stdout).not.toBeNull();
    const prometheusConfig = YAML.parse(readFileSync(command![2]!, 'utf8')) as {
      scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>;
      rule_files: string[];
    };
    expect(prometheusConfig.scrape_configs[0]?.static_configs[0]?.targets).toEqual([`127.0.0.1:${port}`]);
    expect(prometheusConfig.rule_files.some((f) => f.endsWith('prometheus/cph-exporter.rules.yml'))).toBe(true);
    if (tool) {
      const checked = spawnSync(tool, ['check', 'config', command![2]!], { encoding: 'utf8' });
      expect(checked.status, `${checked.stdout}${checked.stderr}`).toBe(0);
    }

    // The printed fault command, as a user would copy it: at the next poll (10 s schedule) that project is down
    // with reason auth, and the other one stays up.
    const fault = /^ {2}curl -s -X POST '(\S+\/_sim\/faults)' -d '(\{.*\})'$/m.exec(stdout);
    expect(fault, stdout).not.toBeNull();
    const spec = JSON.parse(fault![2]!) as { projectId: string };
    expect((await fetch(fault![1]!, { method: 'POST', body: fault![2]! })).status).toBe(200);
    const upOf = (t: string, projectId: string) => samplesOf(t, 'cph_up').find((s) => s.labels['project_id'] === projectId)?.value;
    let after = text;
    while (upOf(after, spec.projectId) !== 0) {
      await new Promise((r) => setTimeout(r, 200));
      after = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    }
    expect(samplesOf(after, 'cph_poll_error').find((s) => s.labels['project_id'] === spec.projectId && s.labels['reason'] === 'auth')?.value).toBe(1);
    for (const { projectId } of projects) if (projectId !== spec.projectId) expect(upOf(after, projectId)).toBe(1);

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    // Logs are JSON lines; nothing else (no stack trace, no warning) reaches stderr.
    for (const line of stderr.split('\n').filter(Boolean)) expect(() => JSON.parse(line), line).not.toThrow();
    child = undefined;
  }, 120_000);
});
