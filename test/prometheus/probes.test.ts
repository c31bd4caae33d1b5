/**
 * The probe configuration under prometheus/: the scrape jobs (promtool check config), blackbox.yml (blackbox_exporter
 * --config.check), the probe alert rules and their unit tests (promtool), and that the three agree with each other
 * and with the exporter: every discovery URL is a query the endpoint accepts, and every label the rules read is one
 * the jobs' relabelling produces.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseSdQuery } from '../../src/sd/query.js';
import { anchorsOf } from '../helpers/markdown.js';
import { alertRules, findExecutable, loadRuleGroups, repoRoot } from './promql.js';

const probeRulesFile = path.join(repoRoot, 'prometheus/cph-exporter-probes.rules.yml');
const probeRulesTestFile = path.join(repoRoot, 'prometheus/cph-exporter-probes.rules.test.yml');
const probeJobsFile = path.join(repoRoot, 'prometheus/cph-exporter-probes.prometheus.yml');
const blackboxFile = path.join(repoRoot, 'prometheus/blackbox.yml');

const promtool = findExecutable('promtool', ['/usr/bin']);
const blackbox = findExecutable('prometheus-blackbox-exporter', ['/usr/bin']) ?? findExecutable('blackbox_exporter');
const inCi = Boolean(process.env.CI);

function run(binary: string, args: string[]): string {
  try {
    return execFileSync(binary, args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`${path.basename(binary)} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

interface ScrapeJob {
  job_name: string;
  metrics_path: string;
  params: { module: string[] };
  http_sd_configs: { url: string }[];
  relabel_configs: { source_labels?: string[]; target_label?: string; replacement?: string; action?: string; regex?: string }[];
}
const jobs = (YAML.parse(readFileSync(probeJobsFile, 'utf8')) as { scrape_configs: ScrapeJob[] }).scrape_configs;
const modules = (YAML.parse(readFileSync(blackboxFile, 'utf8')) as { modules: Record<string, { prober: string }> }).modules;

describe('probe configuration: real tools', () => {
  it.runIf(inCi && (promtool === undefined || blackbox === undefined))('promtool and blackbox_exporter are installed (required in CI)', () => {
    throw new Error('install prometheus and prometheus-blackbox-exporter (Debian) to run the probe configuration checks');
  });

  it.skipIf(promtool === undefined)('promtool check config: the probe jobs', () => {
    expect(run(promtool!, ['check', 'config', probeJobsFile])).toMatch(/is valid prometheus config file syntax/);
  });

  it.skipIf(promtool === undefined)('promtool check rules and test rules: the probe alerts', () => {
    expect(run(promtool!, ['check', 'rules', probeRulesFile])).toMatch(/SUCCESS: 3 rules found/);
    expect(run(promtool!, ['test', 'rules', probeRulesTestFile])).toContain('SUCCESS');
  });

  it.skipIf(blackbox === undefined)('blackbox_exporter --config.check: blackbox.yml', () => {
    const out = execFileSync(blackbox!, [`--config.file=${blackboxFile}`, '--config.check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).not.toMatch(/level=error/);
  });
});

describe('probe configuration: consistency', () => {
  it('the jobs probe through blackbox with the standard relabelling and modules blackbox.yml defines', () => {
    expect(jobs.map((j) => j.job_name)).toEqual(['cph-access-ports-tcp', 'cph-access-ports-h5']);
    for (const job of jobs) {
      expect(job.metrics_path).toBe('/probe');
      expect(Object.keys(modules)).toContain(job.params.module[0]);
      const [target, instance, address, labelmap] = job.relabel_configs;
      expect(target).toEqual({ source_labels: ['__address__'], target_label: '__param_target' });
      expect(instance).toEqual({ source_labels: ['__param_target'], target_label: 'instance' });
      expect(address?.target_label).toBe('__address__');
      expect(labelmap?.action).toBe('labelmap');
    }
    expect(modules.tcp_connect?.prober).toBe('tcp');
    expect(modules.http_h5?.prober).toBe('http');
  });

  it('every discovery URL is a query /sd/access-ports accepts; together they cover each public port type once', () => {
    const covered: string[] = [];
    for (const job of jobs) {
      const url = new URL(job.http_sd_configs[0]!.url);
      expect(url.pathname).toBe('/sd/access-ports');
      const parsed = parseSdQuery(url.searchParams);
      expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
      if (parsed.ok) {
        expect(parsed.query.exposures).toEqual(['public']);
        covered.push(...parsed.query.portTypes);
      }
    }
    expect(covered.sort()).toEqual(['adb', 'cph_app_server', 'cph_h5_server', 'custom', 'vnc']);
  });

  it('the rules read only labels the relabelling produces, and every alert has a runbook section and both test cases', () => {
    const mapped = new Set(['job', 'instance']);
    for (const job of jobs) {
      const labelmap = job.relabel_configs.find((r) => r.action === 'labelmap')!;
      const names = /^__meta_cph_\((.*)\)$/.exec(labelmap.regex!)![1]!.split('|');
      for (const n of names) mapped.add(n);
    }
    const alerts = alertRules(loadRuleGroups(probeRulesFile));
    const runbookBase = new URL(alertRules()[0]!.annotations!.runbook_url!);
    runbookBase.hash = '';
    const runbookBaseUrl = runbookBase.toString();
    expect(alerts.map((a) => a.alert)).toEqual(['CphPublicAdbPortReachable', 'CphPublicVncPortReachable', 'CphCustomerPortDown']);
    const anchors = anchorsOf(readFileSync(path.join(repoRoot, 'docs/alerts.md'), 'utf8'));
    const unitTests = (YAML.parse(readFileSync(probeRulesTestFile, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] }).tests;
    for (const rule of alerts) {
      const probeSelectors = [...rule.expr.matchAll(/probe_success\{([^}]*)\}/g)].map((m) => m[1]!);
      for (const selector of probeSelectors) {
        for (const [, label] of selector.matchAll(/(\w+)\s*=~?/g)) expect(mapped, `${rule.alert}: ${label}`).toContain(label);
      }
      for (const [, label] of rule.expr.matchAll(/by \(([^)]*)\)/g)) {
        for (const l of label!.split(',').map((s) => s.trim())) expect(mapped, `${rule.alert}: by ${l}`).toContain(l);
      }
      expect(['critical', 'warning']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary && rule.annotations.description).toBeTruthy();
      // The same absolute base as cph-exporter.rules.yml (rules.test.ts pins it there).
      const url = new URL(rule.annotations!.runbook_url!);
      expect(`${url.origin}${url.pathname}`, rule.alert).toBe(runbookBaseUrl);
      expect(anchors, rule.alert).toContain(url.hash.slice(1));
      expect(url.hash.slice(1)).toBe(rule.alert!.toLowerCase());
      const cases = unitTests.flatMap((t) => t.alert_rule_test ?? []).filter((c) => c.alertname === rule.alert);
      expect(cases.some((c) => (c.exp_alerts ?? []).length > 0), `${rule.alert}: a firing case`).toBe(true);
      expect(cases.some((c) => (c.exp_alerts ?? []).length === 0), `${rule.alert}: a non-firing case`).toBe(true);
    }
  });
});

describe('README "Probing exposed ports"', () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('## Probing exposed ports');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => YAML.parse(m[1]!) as Record<string, unknown>);

  it('shows the shipped probe job, blackbox modules and rule file, as they are', () => {
    expect(start).toBeGreaterThan(0);
    expect(blocks).toHaveLength(3);
    expect((blocks[0]!.scrape_configs as unknown[])[0]).toEqual(jobs[0]);
    expect(blocks[1]!.modules).toEqual(modules);
    expect(blocks[2]!.rule_files).toContain(path.basename(probeRulesFile));
    for (const rule of alertRules(loadRuleGroups(probeRulesFile))) expect(section).toContain(`\`${rule.alert}\``);
  });
});
