/**
 * Real-stack end-to-end test: the CPH simulator (in process), the exporter (a child process, as operators run it),
 * Prometheus (scraping it every second, loading the repo's rules) and Alertmanager (routing to a webhook served
 * here), all on 127.0.0.1 with free ports and temporary directories.
 *
 * The rules are the repo's own file with every `for:` shortened to 3s at test time, so the expressions under test
 * are exactly the ones that ship. Skipped with a message when the Debian `prometheus` and
 * `prometheus-alertmanager` binaries are missing, except under CI, where that is a failure.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { panelQueries, variableQueries } from '../../grafana/dashboard.js';
import { createSimulator, type Simulator } from '../../src/simulator/server.js';
import type { EncodeServer } from '../../src/cph/types.js';
import { alertRules, findExecutable, loadRuleGroups, repoRoot, rulesFile } from '../prometheus/promql.js';
import {
  alertmanagerConfig,
  alertmanagerService,
  elapsedLog,
  freePort,
  PrometheusApi,
  prometheusService,
  type PromResult,
  Service,
  waitUntil,
  Webhook,
} from '../helpers/real-stack.js';

const PROMETHEUS = findExecutable('prometheus', ['/usr/bin']);
const ALERTMANAGER = findExecutable('prometheus-alertmanager', ['/usr/bin']) ?? findExecutable('alertmanager');
const missing = [
  ...(PROMETHEUS === undefined ? ['prometheus'] : []),
  ...(ALERTMANAGER === undefined ? ['prometheus-alertmanager'] : []),
];
const inCi = Boolean(process.env.CI);
const missingMessage =
  `${missing.join(' and ')} not found on PATH or in /usr/bin: install them with ` +
  '`apt-get install -y --no-install-recommends prometheus prometheus-alertmanager` to run the real-stack test';
if (missing.length > 0 && !inCi) console.warn(`SKIPPED test/e2e/stack.test.ts: ${missingMessage}`);

const AK = 'E2EAK0123456789ABCDE';
const SK = 'E2ESK0123456789abcdefghijklmnopqrstuvwxy';
const P1 = { projectId: 'e2e00000000000000000000000000001', region: 'cn-north-4', encodeServers: 24, cloudPhoneServers: 4 };
const P2 = { projectId: 'e2e00000000000000000000000000002', region: 'ap-southeast-1', encodeServers: 12, cloudPhoneServers: 3 };
const PROJECTS = [P1, P2];
const TSX_CLI = path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs');

// ---- small helpers (test/helpers/real-stack.ts) ------------------------------------------------------------------

const log = elapsedLog('e2e');
const prometheus = new PrometheusApi(() => promUrl);
const promApi = (pathAndQuery: string): Promise<unknown> => prometheus.get(pathAndQuery);
const query = (expr: string): Promise<PromResult[]> => prometheus.query(expr);
const queryRange = (expr: string, seconds: number, step = 2): Promise<PromResult[]> => prometheus.queryRange(expr, seconds, step);
const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> =>
  waitUntil(what, probe, timeoutMs, diagnostics);

// ---- the stack -----------------------------------------------------------------------------------------------------

let workDir = '';
let sim: Simulator | undefined;
let webhook: Webhook | undefined;
const services: Service[] = [];
let promUrl = '';
let exporterUrl = '';

async function diagnostics(): Promise<string> {
  const parts: string[] = [await prometheus.alertsSummary()];
  parts.push(`webhook: ${JSON.stringify(webhook?.alerts.map((a) => ({ status: a.status, ...a.labels })) ?? [])}`);
  for (const s of services) parts.push(s.tail());
  return parts.join('\n');
}

/**
 * The repo's rules with every `for:` (and `keep_firing_for:`) shortened to 3s; expressions, labels and annotations
 * untouched. 3s rather than 1s so that one slow scrape on a busy CI machine (up == 0 for one second) cannot fire an alert.
 */
function fastRules(): string {
  const groups = loadRuleGroups(rulesFile);
  for (const rule of groups.flatMap((g) => g.rules)) {
    if (rule.for !== undefined) rule.for = '3s';
    if (rule.keep_firing_for !== undefined) rule.keep_firing_for = '3s';
  }
  return YAML.stringify({ groups });
}

/** An estate without failing phones, with every cloud-phone server running (the simulator's join has no orphans here). */
function cleanEstate(simulator: Simulator, projectId: string): void {
  const estate = simulator.estate(projectId);
  for (const server of estate.phoneServers) {
    estate.setPhoneServerStatus(server.server_id, 5);
    estate.setPhonesOfServer(server.server_id, 2);
  }
}

/** A fleet without abnormal, restarting, creating or unknown encode servers and without public ADB/VNC ports. */
function cleanFleet(simulator: Simulator, projectId: string): void {
  const fleet = simulator.fleet(projectId);
  for (const rec of [...fleet.items]) {
    if (rec.status !== 1) fleet.setStatus(rec.encode_server_id, 1);
    for (const portType of ['adb', 'vnc']) {
      if (rec.access_infos.some((p) => p.type === portType)) fleet.setPublicIp(rec.encode_server_id, portType, null);
    }
  }
}

function hasPort(rec: EncodeServer, portType: string): boolean {
  return rec.access_infos.some((p) => p.type === portType);
}

describe.skipIf(missing.length > 0 && !inCi)('real stack: simulator, exporter, Prometheus, Alertmanager', () => {
  // What the test breaks: on one cloud-phone server of P1, one encode server turns abnormal and another one's
  // ADB port gets a public IP.
  let serverId = '';
  let abnormalId = '';
  let publicAdbId = '';

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`required in CI: ${missingMessage}`);
    workDir = mkdtempSync(path.join(tmpdir(), 'cph-e2e-stack-'));

    sim = createSimulator({
      seed: 4,
      projects: Object.fromEntries(
        PROJECTS.map((p) => [p.projectId, { encodeServers: p.encodeServers, cloudPhoneServers: p.cloudPhoneServers, phones: 5 * p.cloudPhoneServers, orphans: 0 }]),
      ),
      credentials: { [AK]: SK },
    });
    for (const p of PROJECTS) {
      cleanFleet(sim, p.projectId);
      cleanEstate(sim, p.projectId);
    }
    const records = sim.fleet(P1.projectId).items;
    serverId = records[0]!.server_id;
    const onServer = records.filter((r) => r.server_id === serverId);
    publicAdbId = onServer.find((r) => hasPort(r, 'adb'))!.encode_server_id;
    abnormalId = onServer.find((r) => r.encode_server_id !== publicAdbId)!.encode_server_id;
    const simUrl = await sim.listen(0, '127.0.0.1');

    webhook = new Webhook();
    const hookPort = await webhook.listen();
    const [amPort, promPort, exporterPort] = [await freePort(), await freePort(), await freePort()];
    promUrl = `http://127.0.0.1:${promPort}`;
    exporterUrl = `http://127.0.0.1:${exporterPort}`;

    writeFileSync(
      path.join(workDir, 'exporter.yml'),
      YAML.stringify({
        targets: PROJECTS.map((p) => ({ project_id: p.projectId, region: p.region, endpoint: simUrl })),
        poll: { schedule: '*/2 * * * * *', auth_failure_backoff: '2s' },
        api: { request_timeout: '800ms' }, // a 1.6 s deadline: room for an attempt and a retry
      }),
    );
    writeFileSync(path.join(workDir, 'rules.fast.yml'), fastRules());
    writeFileSync(
      path.join(workDir, 'prometheus.yml'),
      YAML.stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        rule_files: ['rules.fast.yml'],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
        scrape_configs: [{ job_name: 'cph-exporter', static_configs: [{ targets: [`127.0.0.1:${exporterPort}`] }] }],
      }),
    );
    writeFileSync(path.join(workDir, 'alertmanager.yml'), alertmanagerConfig(hookPort));

    services.push(
      alertmanagerService(ALERTMANAGER!, workDir, amPort),
      prometheusService(PROMETHEUS!, workDir, promPort),
      new Service(
        'exporter',
        process.execPath,
        [TSX_CLI, 'src/main.ts', `--config.file=${path.join(workDir, 'exporter.yml')}`, `--web.listen-address=127.0.0.1:${exporterPort}`, '--log.level=warn'],
        { cwd: repoRoot, env: { ...process.env, HUAWEICLOUD_SDK_AK: AK, HUAWEICLOUD_SDK_SK: SK } },
      ),
    );
    await waitFor('Alertmanager ready', async () => ((await fetch(`http://127.0.0.1:${amPort}/-/ready`)).ok ? true : undefined));
    await waitFor('Prometheus ready', async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined));
    log('Prometheus and Alertmanager ready');
    await waitFor('exporter ready (every target polled once)', async () => ((await fetch(`${exporterUrl}/readyz`)).ok ? true : undefined));
    log('exporter ready');
  }, 60_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await sim?.close();
    await webhook?.close();
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
    log('stack stopped');
  }, 30_000);

  it('Prometheus scrapes the exporter and every target is up', async () => {
    await waitFor('the exporter target up in Prometheus', async () => {
      const data = (await promApi('/api/v1/targets')) as { activeTargets: { health: string; scrapeUrl: string }[] };
      return data.activeTargets.some((t) => t.scrapeUrl === `${exporterUrl}/metrics` && t.health === 'up') ? true : undefined;
    });
    const up = await waitFor('cph_up for both targets', async () => {
      const r = await query('cph_up');
      return r.length === PROJECTS.length ? r : undefined;
    });
    expect(up.map((s) => [s.metric.project_id, s.metric.region, s.value![1]]).sort()).toEqual(
      PROJECTS.map((p) => [p.projectId, p.region, '1']).sort(),
    );
    log('target up');
  }, 30_000);

  it("the series agree with the simulator's fleet", async () => {
    const expected = PROJECTS.map((p) => [p.projectId, p.region, String(sim!.fleet(p.projectId).size)]).sort();
    const counts = (r: PromResult[]): string[][] =>
      r.map((s) => [s.metric.project_id!, s.metric.region!, s.value![1]]).sort();
    expect(counts(await query('sum by (project_id, region) (cph_encode_servers)'))).toEqual(expected);
    expect(counts(await query('count by (project_id, region) (cph_encode_server_info)'))).toEqual(expected);
    const recorded = await waitFor('project_region:cph_encode_servers:sum', async () => {
      const r = await query('project_region:cph_encode_servers:sum');
      return r.length === PROJECTS.length ? r : undefined;
    });
    expect(counts(recorded)).toEqual(expected);
    expect((await query('sum by (status) (cph_encode_servers)')).map((s) => s.metric.status)).toEqual(['running']);
    expect(await query('cph_encode_server_ports{port_type=~"adb|vnc", exposure="public"}')).toEqual([]);
    // Per cloud-phone server too.
    const perServer = await query(`cph_encode_servers{project_id="${P1.projectId}", server_id="${serverId}"}`);
    const simPerServer = sim!.fleet(P1.projectId).items.filter((r) => r.server_id === serverId).length;
    expect(perServer.reduce((n, s) => n + Number(s.value![1]), 0)).toBe(simPerServer);
    // The phone servers and phones, and the join: every encode server's server_id is a running phone server.
    const estateCounts = (pick: (p: (typeof PROJECTS)[number]) => number) => PROJECTS.map((p) => [p.projectId, p.region, String(pick(p))]).sort();
    expect(counts(await query('sum by (project_id, region) (cph_phone_servers{status="running"})'))).toEqual(estateCounts((p) => sim!.estate(p.projectId).phoneServers.length));
    expect(counts(await query('sum by (project_id, region) (cph_phones{status="running"})'))).toEqual(estateCounts((p) => sim!.estate(p.projectId).phones.length));
    expect(await query('count by (project_id, region, server_id) (cph_encode_servers) unless on (project_id, region, server_id) cph_phone_servers')).toEqual([]);
    expect(counts(await query('sum by (project_id, region) (cph_resource_up)'))).toEqual(estateCounts(() => 3));
  }, 30_000);

  it('nothing fires while the fleet is healthy', async () => {
    await sleep(2000); // a few rule evaluations with the data in place
    const alerts = (await promApi('/api/v1/alerts')) as { alerts: { labels: Record<string, string>; state: string }[] };
    expect(alerts.alerts.map((a) => a.labels.alertname)).toEqual([]);
    expect(webhook!.alerts).toEqual([]);
  }, 30_000);

  it('an abnormal encode server and a public ADB port reach the webhook', async () => {
    const started = Date.now();
    sim!.fleet(P1.projectId).setStatus(abnormalId, 2);
    sim!.fleet(P1.projectId).setPublicIp(publicAdbId, 'adb', '203.0.113.77');
    // One throttled answer (retried by the exporter), so that the dashboard's throttle and retry panels have data.
    sim!.faults.set([{ kind: 'throttle-no-retry-after', count: 1 }]);

    const target = { project_id: P1.projectId, region: P1.region, server_id: serverId };
    const abnormal = await waitFor('CphEncodeServerAbnormal firing at the webhook', async () => webhook!.find('firing', 'CphEncodeServerAbnormal', target));
    expect(abnormal.labels).toEqual({ alertname: 'CphEncodeServerAbnormal', severity: 'critical', ...target });
    expect(abnormal.annotations.runbook_url).toBe('https://github.com/cph-exporter/cph-exporter/blob/main/docs/alerts.md#cphencodeserverabnormal');
    expect(abnormal.annotations.description).toContain(`1 encode server(s) on cloud-phone server ${serverId}`);

    const exposed = await waitFor('CphPublicAdbOrVncPort firing at the webhook', async () =>
      webhook!.find('firing', 'CphPublicAdbOrVncPort', { ...target, port_type: 'adb' }),
    );
    expect(exposed.labels).toEqual({ alertname: 'CphPublicAdbOrVncPort', severity: 'critical', category: 'security', port_type: 'adb', ...target });
    expect(exposed.annotations.summary).toBe(`ADB port of cloud-phone server ${serverId} is on a public IP`);
    log(`abnormal and public-ADB alerts delivered ${((Date.now() - started) / 1000).toFixed(1)} s after the change`);
  }, 30_000);

  it('phones failing on one cloud-phone server fire CphPhonesFailing at the webhook', async () => {
    const started = Date.now();
    // Three of the server's phones turn abnormal; the others keep running.
    const estate = sim!.estate(P1.projectId);
    const onServer = estate.phones.filter((p) => p.server_id === serverId);
    expect(onServer.length).toBeGreaterThan(3);
    const failed = 3;
    for (const p of onServer.slice(0, failed)) estate.setPhoneStatus(p.phone_id, -7);
    const target = { project_id: P1.projectId, region: P1.region, server_id: serverId };
    const alert = await waitFor('CphPhonesFailing firing at the webhook', async () => webhook!.find('firing', 'CphPhonesFailing', target));
    expect(alert.labels).toEqual({ alertname: 'CphPhonesFailing', severity: 'critical', ...target });
    expect(alert.annotations.description).toContain(`(abnormal: ${failed})`);
    log(`phones alert delivered ${((Date.now() - started) / 1000).toFixed(1)} s after the phones failed`);
  }, 30_000);

  it('a wrong SK fires CphAuthFailing, not CphTargetPollFailing', async () => {
    const started = Date.now();
    sim!.setCredential(AK, 'E2EWRONGSK000000000000000000000000000000');
    for (const p of PROJECTS) {
      const a = await waitFor(`CphAuthFailing firing for ${p.projectId}`, async () =>
        webhook!.find('firing', 'CphAuthFailing', { project_id: p.projectId, region: p.region }),
      );
      expect(a.labels).toMatchObject({ severity: 'critical', reason: 'auth', job: 'cph-exporter' });
    }
    log(`auth alerts delivered ${((Date.now() - started) / 1000).toFixed(1)} s after the SK changed`);
    // The resource series survive the failure (max_staleness), so the encode-server alerts keep firing meanwhile.
    expect(await query('max by (project_id, region) (cph_poll_error{reason="auth"}) == 1')).toHaveLength(PROJECTS.length);
    // Every resource of each target was refused (a wrong SK), each with its own error series.
    expect(await query('cph_poll_error{reason="auth"} == 1')).toHaveLength(3 * PROJECTS.length);
  }, 30_000);

  it('every query of every dashboard panel returns data', async () => {
    // The reachability row reads blackbox probes, which this stack does not run: test/e2e/probes.test.ts checks it.
    const queries = panelQueries().filter((q) => !/\bprobe_/.test(q.expr));
    const substitutions: Record<string, string>[] = [
      { project_id: '.*', region: '.*', server_id: '.*' },
      { project_id: P1.projectId, region: P1.region, server_id: serverId },
    ];
    const empty: string[] = [];
    for (const vars of substitutions) {
      for (const q of queries) {
        const expr = q.expr
          .replace(/\$__rate_interval/g, '1m')
          .replace(/\$\{?(\w+)\}?/g, (m, name: string) => vars[name] ?? m);
        expect(expr, `${q.panel}: unsubstituted variable`).not.toMatch(/\$/);
        const result = q.instant ? await query(expr) : await queryRange(expr, 30);
        if (result.length === 0) empty.push(`${q.panel} [${q.refId}] with ${JSON.stringify(vars)}: ${expr}`);
      }
    }
    expect(empty).toEqual([]);
    for (const [name, def] of Object.entries(variableQueries())) {
      const m = /^label_values\((.*),\s*(\w+)\s*\)$/s.exec(def);
      expect(m, `variable ${name}`).not.toBeNull();
      const selector = m![1]!.replace(/\$\{?(\w+)\}?/g, '.*');
      const values = (await promApi(`/api/v1/label/${m![2]}/values?match[]=${encodeURIComponent(selector)}`)) as string[];
      expect(values.length, `variable ${name}: ${def}`).toBeGreaterThan(0);
    }
    log(`${queries.length} panel queries x ${substitutions.length} variable sets returned data`);
  }, 30_000);

  it('healing resolves every alert at the webhook', async () => {
    const started = Date.now();
    sim!.fleet(P1.projectId).setStatus(abnormalId, 1);
    sim!.fleet(P1.projectId).setPublicIp(publicAdbId, 'adb', null);
    sim!.estate(P1.projectId).setPhonesOfServer(serverId, 2);
    sim!.setCredential(AK, SK);
    sim!.clearLockouts();

    const target = { project_id: P1.projectId, region: P1.region, server_id: serverId };
    await waitFor('CphEncodeServerAbnormal resolved', async () => webhook!.find('resolved', 'CphEncodeServerAbnormal', target));
    await waitFor('CphPublicAdbOrVncPort resolved', async () => webhook!.find('resolved', 'CphPublicAdbOrVncPort', { ...target, port_type: 'adb' }));
    await waitFor('CphPhonesFailing resolved', async () => webhook!.find('resolved', 'CphPhonesFailing', target));
    for (const p of PROJECTS) {
      await waitFor(`CphAuthFailing resolved for ${p.projectId}`, async () =>
        webhook!.find('resolved', 'CphAuthFailing', { project_id: p.projectId, region: p.region }),
      );
    }
    log(`all resolved ${((Date.now() - started) / 1000).toFixed(1)} s after healing`);

    // Generic poll failure never fired for the authentication failure (the `unless` in CphTargetPollFailing),
    // and nothing but the four broken things reached the webhook.
    const names = new Set(webhook!.alerts.map((a) => a.labels.alertname));
    expect([...names].sort()).toEqual(['CphAuthFailing', 'CphEncodeServerAbnormal', 'CphPhonesFailing', 'CphPublicAdbOrVncPort']);
    expect(alertRules().map((r) => r.alert)).toContain('CphTargetPollFailing');
  }, 40_000);
});
