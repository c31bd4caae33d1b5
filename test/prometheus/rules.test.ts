import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  alertRules,
  contractFamilies,
  findExecutable,
  isKnownMetric,
  loadRuleGroups,
  metricNames,
  recordingRuleNames,
  repoRoot,
  rulesFile,
  rulesTestFile,
} from './promql.js';
import { anchorsOf } from '../helpers/markdown.js';

/** Where every alert's runbook lives: docs/alerts.md on the project's home (one base; the chart can replace it). */
const RUNBOOK_BASE_URL = 'https://github.com/cph-exporter/cph-exporter/blob/main/docs/alerts.md';

const promtool = findExecutable('promtool');
const inCi = Boolean(process.env.CI);
const missing =
  'promtool is not on PATH: install it with `apt-get install -y --no-install-recommends prometheus` ' +
  '(Debian) to run the rule checks';

if (promtool === undefined && !inCi) console.warn(`SKIPPED promtool checks: ${missing}`);

function run(args: string[]): string {
  try {
    return execFileSync(promtool!, args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('promtool', () => {
  it.runIf(promtool === undefined && inCi)('is installed (required in CI)', () => {
    throw new Error(missing);
  });

  it.skipIf(promtool === undefined)(`check rules ${path.relative(repoRoot, rulesFile)}`, () => {
    expect(run(['check', 'rules', rulesFile])).toMatch(/SUCCESS: \d+ rules found/);
  });

  it.skipIf(promtool === undefined)(`test rules ${path.relative(repoRoot, rulesTestFile)}`, () => {
    expect(run(['test', 'rules', rulesTestFile])).toContain('SUCCESS');
  });
});

interface AlertRuleTest {
  eval_time: string;
  alertname: string;
  exp_alerts?: unknown[];
}
interface UnitTest {
  input_series: { series: string }[];
  alert_rule_test?: AlertRuleTest[];
}

describe('rules file', () => {
  const groups = loadRuleGroups();
  const alerts = alertRules(groups);
  const unitTests = (YAML.parse(readFileSync(rulesTestFile, 'utf8')) as { tests: UnitTest[] }).tests;
  const alertsDoc = path.join(repoRoot, 'docs/alerts.md');

  it('has the alerts issue 4 asks for', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'CphTargetPollFailing', 'CphDataStale', 'CphAuthFailing', 'CphApiThrottled', 'CphEncodeServerAbnormal',
        'CphEncodeServerRestartingTooLong', 'CphEncodeServerCreatingTooLong', 'CphEncodeServerUnknownStatus',
        'CphPublicAdbOrVncPort', 'CphEncodeServersMassDisappearance',
      ]),
    );
  });

  it.each(alerts.map((a) => [a.alert!, a] as const))('%s has severity, summary, description and a runbook', (name, rule) => {
    expect(['critical', 'warning', 'info']).toContain(rule.labels?.severity);
    expect(rule.annotations?.summary).toBeTruthy();
    expect(rule.annotations?.description).toBeTruthy();
    expect(rule.annotations?.runbook_url).toBe(`${RUNBOOK_BASE_URL}#${name.toLowerCase()}`);
  });

  it('every runbook_url of every prometheus/*.rules.yml is an absolute https URL from the one base, ending in an anchor that docs/alerts.md has', () => {
    const anchors = anchorsOf(readFileSync(alertsDoc, 'utf8'));
    const files = readdirSync(path.join(repoRoot, 'prometheus')).filter((f) => f.endsWith('.rules.yml'));
    expect(files).toContain(path.basename(rulesFile));
    for (const rule of files.flatMap((f) => alertRules(loadRuleGroups(path.join(repoRoot, 'prometheus', f))))) {
      const url = new URL(rule.annotations!.runbook_url!);
      expect(url.protocol, rule.alert).toBe('https:');
      expect(`${url.origin}${url.pathname}`, rule.alert).toBe(RUNBOOK_BASE_URL);
      expect(url.pathname.endsWith('/docs/alerts.md'), rule.alert).toBe(true);
      expect(anchors, rule.alert).toContain(url.hash.slice(1));
    }
  });

  it('the base is the one the rules file header documents and the Helm chart defaults to', () => {
    expect(readFileSync(rulesFile, 'utf8')).toContain(`# ${RUNBOOK_BASE_URL}#<alert name in lower case>`);
    const values = YAML.parse(readFileSync(path.join(repoRoot, 'helm/cph-exporter/values.yaml'), 'utf8')) as {
      prometheusRule: { runbookBaseUrl: string };
    };
    expect(values.prometheusRule.runbookBaseUrl).toBe(RUNBOOK_BASE_URL);
  });

  it.each(alerts.map((a) => [a.alert!] as const))('%s has a unit test that fires and one that must not', (name) => {
    const cases = unitTests.flatMap((t) => t.alert_rule_test ?? []).filter((c) => c.alertname === name);
    expect(cases.some((c) => (c.exp_alerts ?? []).length > 0), 'a firing case').toBe(true);
    expect(cases.some((c) => (c.exp_alerts ?? []).length === 0), 'a non-firing case').toBe(true);
  });

  it('reads only metrics that CONTRACTS.md promises, or its own recording rules', () => {
    const families = contractFamilies();
    const recorded = recordingRuleNames(groups);
    const unknown = groups
      .flatMap((g) => g.rules)
      .flatMap((r) => [...metricNames(r.expr)].map((name) => ({ rule: r.alert ?? r.record, name })))
      .filter(({ name }) => !isKnownMetric(name, families, recorded));
    expect(unknown).toEqual([]);
  });

  it('unit tests feed only metrics that CONTRACTS.md promises', () => {
    const families = contractFamilies();
    const names = unitTests.flatMap((t) => t.input_series.map((s) => s.series.replace(/\{.*$/s, '').trim()));
    expect(names.filter((n) => !isKnownMetric(n, families, new Set()))).toEqual([]);
  });
});
