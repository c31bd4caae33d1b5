/**
 * The Prometheus side of `npm run demo`: prometheus/demo-prometheus.yml with the scrape target set to the
 * address the demo's exporter really listens on, and the command that runs Prometheus with it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const PROMETHEUS_DIR = fileURLToPath(new URL('../../prometheus/', import.meta.url));
export const DEMO_PROMETHEUS_TEMPLATE = `${PROMETHEUS_DIR}demo-prometheus.yml`;
/** The exporter address the template is written for: the demo's default --web.listen-address. */
const TEMPLATE_TARGET = '127.0.0.1:9877';

/** The host:port Prometheus scrapes for a `--web.listen-address` (all interfaces: the loopback address). */
export function scrapeTarget(listen: { host: string | undefined; port: number }): string {
  const host = listen.host === undefined || listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return host.includes(':') ? `[${host}]:${listen.port}` : `${host}:${listen.port}`;
}

/** The demo's Prometheus configuration: the repository's template, scraping `target`, loading the repository's rule files. */
export function demoPrometheusConfig(target: string, template = readFileSync(DEMO_PROMETHEUS_TEMPLATE, 'utf8')): string {
  // The template's header and rule_files comments describe running it from the repository; these describe this copy.
  // Every mention of the template's exporter address (a static target, a service discovery URL) becomes this one.
  const doc = YAML.parseDocument(template.replace(/^(?:#.*\n|\s*\n)*/, '').replaceAll(TEMPLATE_TARGET, target));
  // Relative to the template, as Prometheus resolves them; absolute in the copy, which lives elsewhere.
  const ruleFiles = (doc.get('rule_files') as YAML.YAMLSeq<YAML.Scalar<string>> | undefined)?.items.map((f) => path.resolve(PROMETHEUS_DIR, f.value)) ?? [];
  doc.set('rule_files', ruleFiles);
  const map = doc.contents as YAML.YAMLMap<YAML.Scalar, unknown>;
  const rules = map.items.find((pair) => pair.key.value === 'rule_files');
  if (rules) rules.key.commentBefore = ' The repository\'s own rules, unchanged.';
  doc.commentBefore = ` Written by \`npm run demo\` from ${DEMO_PROMETHEUS_TEMPLATE},\n for the exporter on ${target}. It is deleted when the demo stops.`;
  return doc.toString();
}

/** The command line that runs Prometheus with `configFile`, on a port that is not the exporter's. */
export function prometheusCommand(configFile: string, exporterPort: number): { command: string; url: string } {
  const port = exporterPort === 9090 ? 9091 : 9090;
  return {
    command: `prometheus --config.file=${configFile} --storage.tsdb.path="$(mktemp -d)" --web.listen-address=127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
  };
}
