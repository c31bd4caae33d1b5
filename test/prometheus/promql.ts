/**
 * Helpers shared by the rules, dashboard and end-to-end tests: where the repo's rules file is, which metric
 * names the contract promises, and which metric names a PromQL expression reads.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const rulesFile = path.join(repoRoot, 'prometheus/cph-exporter.rules.yml');
export const rulesTestFile = path.join(repoRoot, 'prometheus/cph-exporter.rules.test.yml');

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  keep_firing_for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}

export function loadRuleGroups(file = rulesFile): RuleGroup[] {
  const doc = YAML.parse(readFileSync(file, 'utf8')) as { groups: RuleGroup[] };
  return doc.groups;
}

export function alertRules(groups = loadRuleGroups()): Rule[] {
  return groups.flatMap((g) => g.rules.filter((r) => r.alert !== undefined));
}

export function recordingRuleNames(groups = loadRuleGroups()): Set<string> {
  return new Set(groups.flatMap((g) => g.rules.flatMap((r) => (r.record === undefined ? [] : [r.record]))));
}

/** The `cph_*` families listed under "Metric families" in docs/CONTRACTS.md. */
export function contractFamilies(): Set<string> {
  const text = readFileSync(path.join(repoRoot, 'docs/CONTRACTS.md'), 'utf8');
  const start = text.indexOf('## Metric families');
  if (start < 0) throw new Error('docs/CONTRACTS.md has no "## Metric families" section');
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  return new Set([...section.matchAll(/`(cph_[a-z0-9_]+)/g)].map((m) => m[1]!));
}

const SAMPLE_SUFFIXES = ['_bucket', '_sum', '_count'];
/** Prefixes of families CONTRACTS lists by wildcard (prom-client's default process metrics) and Prometheus's own. */
const WILDCARD_PREFIXES = ['process_', 'nodejs_'];
const PROMETHEUS_SERIES = new Set(['up']);

/** Whether `name` is a series the exporter (per CONTRACTS), Prometheus, or one of the repo's recording rules produces. */
export function isKnownMetric(name: string, families: Set<string>, recorded: Set<string>): boolean {
  if (families.has(name) || recorded.has(name) || PROMETHEUS_SERIES.has(name)) return true;
  if (WILDCARD_PREFIXES.some((p) => name.startsWith(p))) return true;
  return SAMPLE_SUFFIXES.some((s) => name.endsWith(s) && families.has(name.slice(0, -s.length)));
}

const KEYWORDS = new Set([
  'and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset',
  'atan2', 'inf', 'nan', 'Inf', 'NaN',
]);

/**
 * Metric names an expression selects. A small lexer, not a parser: it drops strings, label matchers, ranges and
 * grouping clauses, then keeps identifiers that are not function calls or keywords.
 */
export function metricNames(expr: string): Set<string> {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*(?![\w:]|\s*\()/g)) {
    if (!KEYWORDS.has(m[0])) names.add(m[0]);
  }
  return names;
}

/** The absolute path of an executable, looked up on PATH, or undefined. */
export function findExecutable(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...extraDirs].filter((d) => d !== '');
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
