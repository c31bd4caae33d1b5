import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DASHBOARD_FILE,
  buildDashboard,
  panelQueries,
  renderDashboard,
  variableQueries,
} from '../../grafana/dashboard.js';
import { contractFamilies, isKnownMetric, metricNames, recordingRuleNames, repoRoot } from '../prometheus/promql.js';

describe('grafana dashboard', () => {
  const dashboard = buildDashboard();
  const queries = panelQueries(dashboard);

  it(`${DASHBOARD_FILE} is what grafana/dashboard.ts generates`, () => {
    const committed = readFileSync(path.join(repoRoot, DASHBOARD_FILE), 'utf8');
    // Compared as text so that key order and formatting drift are caught too.
    expect(
      committed === renderDashboard(dashboard),
      `${DASHBOARD_FILE} is out of date: run \`npm run dashboards\` and commit the result`,
    ).toBe(true);
  });

  it('has the data source, project, region and cloud-phone server variables', () => {
    const names = (dashboard.templating?.list ?? []).map((v) => v.name);
    expect(names).toEqual(['datasource', 'project_id', 'region', 'server_id']);
  });

  it('has the panels issue 4 asks for', () => {
    const titles = new Set(queries.map((q) => q.panel));
    for (const title of [
      'Encode servers by status',
      'Encode servers by type',
      'Encode servers not running',
      'Exposed ports by type and exposure',
      'Public ADB/VNC ports',
      'Cloud-phone servers with public ADB/VNC ports',
      'Target up',
      'Poll duration',
      'Age of the last successful poll',
      'API requests by code',
      'API errors, throttles and retries',
      'Probed ports by type and result',
      'Public ADB/VNC ports that answer',
    ]) {
      expect(titles).toContain(title);
    }
  });

  it('has the estate panels issue 11 asks for: phones and phone servers by status, and the per-server table of the join', () => {
    const titles = new Set(queries.map((q) => q.panel));
    for (const title of ['Phones by status', 'Phone servers by status', 'Per cloud-phone server: its encode servers and its phones', 'Phones failed or abnormal']) {
      expect(titles).toContain(title);
    }
    // One row of the table joins the three families on server_id.
    const table = queries.filter((q) => q.panel === 'Per cloud-phone server: its encode servers and its phones').map((q) => q.expr);
    for (const family of ['cph_phone_servers', 'cph_encode_servers', 'cph_phones']) expect(table.some((e) => e.includes(family))).toBe(true);
    expect(table.every((e) => e.includes('by (project_id, region, server_id'))).toBe(true);
  });

  it('every panel but the rows has queries, on the dashboard data source', () => {
    for (const panel of dashboard.panels ?? []) {
      if (panel.type === 'row') continue;
      const p = panel as { title?: string; targets?: { datasource?: { uid?: string } }[] };
      expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe('${datasource}');
    }
  });

  it('panel queries have unique refIds per panel and a non-empty expression', () => {
    const seen = new Set<string>();
    for (const q of queries) {
      expect(q.expr.trim(), `${q.panel} ${q.refId}`).not.toBe('');
      const key = `${q.panel}/${q.refId}`;
      expect(seen.has(key), key).toBe(false);
      seen.add(key);
    }
  });

  it('reads only metrics from CONTRACTS.md, the recording rules, or the blackbox probes (reachability row only)', () => {
    const families = contractFamilies();
    // blackbox_exporter's, from the probe jobs of prometheus/cph-exporter-probes.prometheus.yml.
    for (const q of queries.filter((q) => /probe_/.test(q.expr))) expect(q.panel, q.expr).toMatch(/^(Probed ports|Public ADB\/VNC ports that answer)/);
    families.add('probe_success');
    const recorded = recordingRuleNames();
    const used = [
      ...queries.map((q) => ({ where: `${q.panel} ${q.refId}`, expr: q.expr })),
      ...Object.entries(variableQueries(dashboard)).map(([name, def]) => ({
        where: `variable ${name}`,
        // label_values(<selector>, <label>): only the selector names a metric.
        expr: def.replace(/^label_values\((.*),\s*\w+\s*\)$/s, '$1'),
      })),
    ];
    const unknown = used.flatMap(({ where, expr }) =>
      [...metricNames(expr)].filter((n) => !isKnownMetric(n, families, recorded)).map((n) => `${where}: ${n}`),
    );
    expect(unknown).toEqual([]);
    expect(used.length).toBeGreaterThan(10);
  });
});

describe('metricNames', () => {
  it.each([
    ['sum by (status) (project_region_status:cph_encode_servers:sum{project_id=~"$project_id"})', ['project_region_status:cph_encode_servers:sum']],
    ['time() - cph_poll_last_success_timestamp_seconds{region="a"} > 600', ['cph_poll_last_success_timestamp_seconds']],
    ['histogram_quantile(0.99, sum by (le) (rate(x_bucket[$__rate_interval])))', ['x_bucket']],
    ['a unless ignoring (reason) b{reason="auth"} == 1 and on (job) c offset 10m', ['a', 'b', 'c']],
    ['sum(x) or vector(0)', ['x']],
  ])('%s', (expr, names) => {
    expect([...metricNames(expr)].sort()).toEqual(names);
  });
});
