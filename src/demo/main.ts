/**
 * `npm run demo`: the built-in CPH simulator and the exporter wired to it, so that anyone can
 * see the exporter work without a cloud account. Extra arguments go to the exporter, e.g.
 * `npm run demo -- --web.listen-address=127.0.0.1:9999`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LISTEN_ADDRESS, main } from '../main.js';
import { parseListenAddress } from '../server/listen.js';
import { DEMO_ACCESS_KEY, DEMO_SECRET_KEY } from '../simulator/demo-credentials.js';
import { createSimulator } from '../simulator/server.js';
import { demoPrometheusConfig, prometheusCommand, scrapeTarget } from './prometheus.js';

const PROJECTS = {
  d0000000000000000000000000000001: { encodeServers: 300, cloudPhoneServers: 30, phones: 600, region: 'cn-north-4' },
  d0000000000000000000000000000002: { encodeServers: 200, cloudPhoneServers: 20, phones: 400, region: 'ap-southeast-1' },
};

/** The project the printed fault example refuses: the other one stays healthy, as on a real bad day. */
const FAULTY_PROJECT = 'd0000000000000000000000000000002';

async function demo(): Promise<void> {
  const sim = createSimulator({
    seed: 42,
    projects: Object.fromEntries(Object.entries(PROJECTS).map(([id, p]) => [id, { encodeServers: p.encodeServers, cloudPhoneServers: p.cloudPhoneServers, phones: p.phones }])),
    credentials: { [DEMO_ACCESS_KEY]: DEMO_SECRET_KEY },
    latencyMs: 20,
  });
  const simUrl = await sim.listen(0, '127.0.0.1');

  const dir = mkdtempSync(join(tmpdir(), 'cph-exporter-demo-'));
  const configFile = join(dir, 'config.yml');
  writeFileSync(
    configFile,
    [
      '# Written by `npm run demo`: the simulator stands in for the CPH API.',
      'targets:',
      ...Object.entries(PROJECTS).flatMap(([id, p]) => [`  - project_id: ${id}`, `    region: ${p.region}`, `    endpoint: ${simUrl}`]),
      'poll:',
      '  schedule: "*/10 * * * * *"',
      'api:',
      '  request_timeout: 4s # an 8 s poll deadline: room for an attempt and a retry',
      '',
    ].join('\n'),
  );

  const args = ['--web.listen-address=127.0.0.1:9877', ...process.argv.slice(2), `--config.file=${configFile}`];
  const io = { stdout: (t: string) => process.stdout.write(t), stderr: (t: string) => process.stderr.write(t) };
  const env = { ...process.env, HUAWEICLOUD_SDK_AK: DEMO_ACCESS_KEY, HUAWEICLOUD_SDK_SK: DEMO_SECRET_KEY };
  const cleanup = async (): Promise<void> => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  };

  const result = await main(args, io, env).catch(async (err: unknown) => {
    await cleanup();
    throw err;
  });
  if (typeof result === 'number') {
    await cleanup();
    process.exitCode = result;
    return;
  }
  // The last --web.listen-address wins, as in the exporter's own flag parsing; main() has validated it.
  const listenText = args.filter((a) => a.startsWith('--web.listen-address=')).at(-1)?.split('=')[1] ?? DEFAULT_LISTEN_ADDRESS;
  const listen = parseListenAddress(listenText) ?? { host: undefined, port: 9877 };
  const target = scrapeTarget(listen);
  const tls = args.some((a) => a.startsWith('--web.config.file'));
  const exporterUrl = `${tls ? 'https' : 'http'}://${target}`;
  const prometheusConfig = join(dir, 'prometheus.yml');
  writeFileSync(prometheusConfig, demoPrometheusConfig(target));
  const prometheus = prometheusCommand(prometheusConfig, listen.port);
  process.stdout.write(
    [
      '',
      'cph-exporter demo is running (Ctrl-C stops it):',
      `  exporter metrics   ${exporterUrl}/metrics`,
      `  exporter landing   ${exporterUrl}/`,
      `  CPH simulator      ${simUrl}  (stats: ${simUrl}/_sim/stats)`,
      `  projects           ${Object.entries(PROJECTS).map(([id, p]) => `${id} (${p.region}, ${p.encodeServers} encode servers, ${p.cloudPhoneServers} cloud-phone servers, ${p.phones} phones)`).join(', ')}`,
      '  poll schedule      every 10 seconds',
      '',
      'To scrape it with Prometheus and load the alert rules, run in a second terminal (Debian: apt-get install prometheus):',
      `  ${prometheus.command}`,
      `then open ${prometheus.url}/targets and ${prometheus.url}/alerts.`,
      '',
      `To make an alert fire: the API refuses project ${FAULTY_PROJECT} (403), CphAuthFailing fires after 2 minutes:`,
      `  curl -s -X POST '${simUrl}/_sim/faults' -d '{"kind":"forbidden","projectId":"${FAULTY_PROJECT}"}'`,
      'and to heal it (the exporter retries that project once its auth back-off, 5 minutes by default, has passed):',
      `  curl -s -X DELETE '${simUrl}/_sim/faults'`,
      `Every fault and admin route, with examples: npm run simulator -- --help`,
      ...(tls ? [`With --web.config.file, first add its scheme, tls_config and basic_auth to ${prometheusConfig} (see docs/prometheus.md).`] : []),
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void result.stop().then(cleanup);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

demo().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
