/**
 * Probing exposed ports end to end, with real binaries on 127.0.0.1: the simulator opens real TCP listeners for a
 * few access ports; the exporter (in process, behind basic auth) lists them on /sd/access-ports; Prometheus discovers
 * them with the shipped probe jobs (prometheus/cph-exporter-probes.prometheus.yml, addresses and intervals changed
 * only), blackbox_exporter probes them with the shipped prometheus/blackbox.yml, and the shipped probe rules (every
 * `for:` shortened to 2s) alert through Alertmanager to a webhook served here.
 *
 * Skipped with a message when `prometheus`, `prometheus-alertmanager` or `prometheus-blackbox-exporter` is missing,
 * except under CI, where that is a failure.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { panelQueries } from '../../grafana/dashboard.js';
import type { RunningExporter } from '../../src/exporter.js';
import type { OpenedPort } from '../../src/simulator/port-listeners.js';
import type { Simulator } from '../../src/simulator/server.js';
import { startClockedExporter } from '../helpers/clocked-exporter.js';
import { startSimulator } from '../helpers/harness.js';
import {
  alertmanagerConfig,
  alertmanagerService,
  elapsedLog,
  freePort,
  PrometheusApi,
  prometheusService,
  Service,
  waitUntil,
  Webhook,
} from '../helpers/real-stack.js';
import { findExecutable, loadRuleGroups, repoRoot } from '../prometheus/promql.js';

const PROMETHEUS = findExecutable('prometheus', ['/usr/bin']);
const ALERTMANAGER = findExecutable('prometheus-alertmanager', ['/usr/bin']) ?? findExecutable('alertmanager');
const BLACKBOX = findExecutable('prometheus-blackbox-exporter', ['/usr/bin']) ?? findExecutable('blackbox_exporter');
const missing = [
  ...(PROMETHEUS === undefined ? ['prometheus'] : []),
  ...(ALERTMANAGER === undefined ? ['prometheus-alertmanager'] : []),
  ...(BLACKBOX === undefined ? ['prometheus-blackbox-exporter'] : []),
];
const inCi = Boolean(process.env.CI);
const missingMessage = `${missing.join(', ')} not found: install with \`apt-get install -y --no-install-recommends prometheus prometheus-alertmanager prometheus-blackbox-exporter\``;
if (missing.length > 0 && !inCi) console.warn(`SKIPPED test/e2e/probes.test.ts: ${missingMessage}`);

const P1 = { projectId: 'e2ep0000000000000000000000000001', region: 'cn-north-4' };
const USER = 'prometheus';
const PASSWORD = 'probe-e2e-password';
const PORT_TYPES = ['adb', 'vnc', 'cph_app_server', 'cph_h5_server', 'port1', 'port2', 'port3', 'port4', 'custom_rtc'];

const log = elapsedLog('e2e probes');
let workDir = '';
let sim: Simulator | undefined;
let exporter: RunningExporter | undefined;
let webhook: Webhook | undefined;
const services: Service[] = [];
let promUrl = '';
const prometheus = new PrometheusApi(() => promUrl);

async function diagnostics(): Promise<string> {
  const parts = [await prometheus.alertsSummary()];
  try {
    const data = (await prometheus.get('/api/v1/targets')) as { activeTargets: { scrapeUrl: string; health: string; lastError: string }[] };
    parts.push(`targets: ${JSON.stringify(data.activeTargets.map((t) => [t.scrapeUrl, t.health, t.lastError]))}`);
  } catch (err) {
    parts.push(`targets unavailable: ${(err as Error).message}`);
  }
  parts.push(`webhook: ${JSON.stringify(webhook?.alerts.map((a) => ({ status: a.status, ...a.labels })) ?? [])}`);
  for (const s of services) parts.push(s.tail());
  return parts.join('\n');
}
const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> => waitUntil(what, probe, timeoutMs, diagnostics);

/** The shipped probe jobs, pointed at this exporter and blackbox, probing every second, with basic auth. */
function probeJobs(exporterUrl: string, blackboxAddress: string, passwordFile: string): unknown[] {
  const shipped = YAML.parse(readFileSync(path.join(repoRoot, 'prometheus/cph-exporter-probes.prometheus.yml'), 'utf8')) as {
    scrape_configs: { scrape_interval: string; scrape_timeout: string; http_sd_configs: Record<string, unknown>[]; relabel_configs: { replacement?: string; target_label?: string }[] }[];
  };
  return shipped.scrape_configs.map((job) => ({
    ...job,
    scrape_interval: '1s',
    scrape_timeout: '1s',
    http_sd_configs: job.http_sd_configs.map((sd) => ({
      ...sd,
      url: String(sd.url).replace('http://127.0.0.1:9877', exporterUrl),
      refresh_interval: '1s',
      basic_auth: { username: USER, password_file: passwordFile },
    })),
    relabel_configs: job.relabel_configs.map((r) => (r.target_label === '__address__' ? { ...r, replacement: blackboxAddress } : r)),
  }));
}

/** Every port of every encode server private: only the listeners this test opens are public. */
function privatizeFleet(simulator: Simulator): void {
  const fleet = simulator.fleet(P1.projectId);
  for (const rec of [...fleet.items]) {
    for (const t of new Set(rec.access_infos.map((p) => p.type))) fleet.setPublicIp(rec.encode_server_id, t, null);
    if (rec.status !== 1) fleet.setStatus(rec.encode_server_id, 1);
  }
}

const addr = (p: OpenedPort): string => `${p.host}:${p.port}`;

describe.skipIf(missing.length > 0 && !inCi)('real probes: simulator listeners, exporter /sd/access-ports, Prometheus, blackbox_exporter, Alertmanager', () => {
  // A: ADB and VNC answer (security alerts). B: H5 answers over HTTP. C: ADB listed public but closed.
  let adbOpen: OpenedPort;
  let vncOpen: OpenedPort;
  let h5Open: OpenedPort;
  let adbClosed: OpenedPort;

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`required in CI: ${missingMessage}`);
    workDir = mkdtempSync(path.join(tmpdir(), 'cph-e2e-probes-'));
    sim = await startSimulator({ seed: 5, projects: { [P1.projectId]: { encodeServers: 24, cloudPhoneServers: 4 } } });
    privatizeFleet(sim);
    const items = sim.fleet(P1.projectId).items;
    const withTypes = (...types: string[]): string[] =>
      items.filter((r) => types.every((t) => r.access_infos.some((p) => p.type === t))).map((r) => r.encode_server_id);
    const [a, c] = withTypes('adb', 'vnc');
    const [b] = withTypes('cph_h5_server').filter((id) => id !== a && id !== c);
    [adbOpen, vncOpen] = await sim.listeners.open({ projectId: P1.projectId, encodeServerId: a!, portTypes: ['adb', 'vnc'] }) as [OpenedPort, OpenedPort];
    [h5Open] = (await sim.listeners.open({ projectId: P1.projectId, encodeServerId: b!, portTypes: ['cph_h5_server'] })) as [OpenedPort];
    [adbClosed] = (await sim.listeners.open({ projectId: P1.projectId, encodeServerId: c!, portTypes: ['adb'] })) as [OpenedPort];
    await sim.listeners.close({ encodeServerId: c! });

    exporter = await startClockedExporter(sim, { targets: [P1], web: { basicAuthUsers: { [USER]: bcrypt.hashSync(PASSWORD, 4) } } });
    const passwordFile = path.join(workDir, 'exporter.password');
    writeFileSync(passwordFile, PASSWORD);

    webhook = new Webhook();
    const hookPort = await webhook.listen();
    const [amPort, promPort, bbPort] = [await freePort(), await freePort(), await freePort()];
    promUrl = `http://127.0.0.1:${promPort}`;

    const groups = loadRuleGroups(path.join(repoRoot, 'prometheus/cph-exporter-probes.rules.yml'));
    for (const rule of groups.flatMap((g) => g.rules)) if (rule.for !== undefined) rule.for = '2s';
    writeFileSync(path.join(workDir, 'probes.fast.yml'), YAML.stringify({ groups }));
    writeFileSync(
      path.join(workDir, 'prometheus.yml'),
      YAML.stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        rule_files: ['probes.fast.yml'],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
        scrape_configs: probeJobs(exporter.url, `127.0.0.1:${bbPort}`, passwordFile),
      }),
    );
    writeFileSync(path.join(workDir, 'alertmanager.yml'), alertmanagerConfig(hookPort));
    services.push(
      new Service('blackbox_exporter', BLACKBOX!, [`--config.file=${path.join(repoRoot, 'prometheus/blackbox.yml')}`, `--web.listen-address=127.0.0.1:${bbPort}`, '--log.level=warn']),
      alertmanagerService(ALERTMANAGER!, workDir, amPort),
      prometheusService(PROMETHEUS!, workDir, promPort),
    );
    await waitFor('blackbox_exporter ready', async () => ((await fetch(`http://127.0.0.1:${bbPort}/-/healthy`)).ok ? true : undefined));
    await waitFor('Alertmanager ready', async () => ((await fetch(`http://127.0.0.1:${amPort}/-/ready`)).ok ? true : undefined));
    await waitFor('Prometheus ready', async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined));
    log('blackbox_exporter, Alertmanager and Prometheus ready');
  }, 60_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await exporter?.stop();
    await sim?.close();
    await webhook?.close();
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
    log('stopped');
  }, 30_000);

  it('the exporter refuses discovery without credentials; Prometheus, with them, discovers exactly the public ports', async () => {
    expect((await fetch(`${exporter!.url}/sd/access-ports`)).status).toBe(401);
    interface Target {
      labels: Record<string, string>;
      discoveredLabels: Record<string, string>;
      scrapePool: string;
    }
    const expected = {
      'cph-access-ports-tcp': [addr(adbOpen), addr(vncOpen), addr(adbClosed)].sort(),
      'cph-access-ports-h5': [addr(h5Open)],
    };
    const targets = await waitFor('both probe jobs discovered their targets', async () => {
      const data = (await prometheus.get('/api/v1/targets')) as { activeTargets: Target[] };
      const byJob = (job: string): string[] => data.activeTargets.filter((t) => t.scrapePool === job).map((t) => t.labels.instance!).sort();
      const found = { 'cph-access-ports-tcp': byJob('cph-access-ports-tcp'), 'cph-access-ports-h5': byJob('cph-access-ports-h5') };
      return JSON.stringify(found) === JSON.stringify(expected) ? data.activeTargets : undefined;
    });
    const adb = targets.find((t) => t.labels.instance === addr(adbOpen))!;
    expect(adb.labels).toMatchObject({ project_id: P1.projectId, region: P1.region, encode_server_id: adbOpen.encodeServerId, port_type: 'adb', exposure: 'public', status: 'running' });
    expect(adb.discoveredLabels.__meta_cph_listen_port).toBe('5555');
    log(`discovered ${targets.length} probe targets`);
  }, 40_000);

  it('blackbox probes them: probe_success 1 for the opened listeners, 0 for the closed one', async () => {
    const success = await waitFor('probe_success for all four ports', async () => {
      const r = await prometheus.query('probe_success');
      return r.length === 4 ? new Map(r.map((s) => [s.metric.instance!, s.value![1]])) : undefined;
    });
    expect(Object.fromEntries(success)).toEqual({ [addr(adbOpen)]: '1', [addr(vncOpen)]: '1', [addr(h5Open)]: '1', [addr(adbClosed)]: '0' });
    // The H5 port was probed over HTTP (the listener answered a GET), the others by TCP connect.
    expect((await prometheus.query(`probe_http_status_code{instance="${addr(h5Open)}"}`))[0]?.value?.[1]).toBe('200');
  }, 40_000);

  it('the public-ADB and public-VNC alerts reach the Alertmanager webhook, for the answering ports only', async () => {
    const labels = { project_id: P1.projectId, region: P1.region, encode_server_id: adbOpen.encodeServerId };
    const adb = await waitFor('CphPublicAdbPortReachable firing at the webhook', async () =>
      webhook!.find('firing', 'CphPublicAdbPortReachable', { ...labels, instance: addr(adbOpen) }),
    );
    expect(adb.labels).toMatchObject({ severity: 'critical', category: 'security', port_type: 'adb' });
    expect(adb.annotations.summary).toBe(`Public ADB port ${addr(adbOpen)} answers (encode server ${adbOpen.encodeServerId})`);
    await waitFor('CphPublicVncPortReachable firing at the webhook', async () =>
      webhook!.find('firing', 'CphPublicVncPortReachable', { ...labels, instance: addr(vncOpen) }),
    );
    expect(webhook!.alerts.filter((a) => a.labels.instance === addr(adbClosed))).toEqual([]);
    expect(webhook!.alerts.filter((a) => a.labels.alertname === 'CphCustomerPortDown')).toEqual([]);
    log('public ADB and VNC alerts delivered');
  }, 40_000);

  it("every query of the dashboard's reachability row returns data", async () => {
    const queries = panelQueries().filter((q) => /\bprobe_/.test(q.expr));
    expect(queries.length).toBeGreaterThanOrEqual(3);
    for (const q of queries) {
      const expr = q.expr.replace(/\$__rate_interval/g, '1m').replace(/\$\{?(\w+)\}?/g, '.*');
      const result = q.instant ? await prometheus.query(expr) : await prometheus.queryRange(expr, 30);
      expect(result.length, `${q.panel} [${q.refId}]: ${expr}`).toBeGreaterThan(0);
    }
  }, 30_000);

  it('closing the ADB port resolves its alert (the probe fails), the VNC one keeps firing', async () => {
    await sim!.listeners.close({ encodeServerId: adbOpen.encodeServerId, portType: 'adb' });
    await waitFor('CphPublicAdbPortReachable resolved', async () => webhook!.find('resolved', 'CphPublicAdbPortReachable', { instance: addr(adbOpen) }));
    expect(webhook!.find('resolved', 'CphPublicVncPortReachable')).toBeUndefined();
    log('ADB alert resolved after the port closed');
  }, 40_000);
});
