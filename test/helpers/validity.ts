/**
 * Validity checks of a /metrics body beyond what `parseExposition` enforces: valid UTF-8, a TYPE
 * and HELP for every family, known types, HELP escapes, no reserved label names, no duplicate
 * series, and (in CI, or wherever it is installed) `promtool check metrics`.
 */
import { spawnSync } from 'node:child_process';
import { type Family, parseExposition } from './exposition.js';

const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped', 'info', 'stateset', 'gaugehistogram', 'unknown']);

/** Decodes a body as UTF-8, throwing on any invalid byte sequence (the format requires UTF-8). */
export function decodeUtf8(body: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
}

/**
 * Throws unless `text` is a complete, valid exposition in the given format. Returns its families.
 * The checks are those of the Prometheus text parser (expfmt) that `parseExposition` leaves out.
 */
export function assertValidExposition(text: string, format: 'text' | 'openmetrics' = 'text'): Map<string, Family> {
  if (format === 'openmetrics') {
    if (!text.endsWith('# EOF\n')) throw new Error('OpenMetrics exposition must end with "# EOF"');
    if (text.indexOf('# EOF') !== text.length - '# EOF\n'.length) throw new Error('"# EOF" before the end');
  } else if (/^# EOF$/m.test(text)) {
    throw new Error('"# EOF" in the text format');
  }
  for (const [i, line] of text.split('\n').entries()) {
    const help = /^# HELP \S+ (.*)$/.exec(line);
    // expfmt accepts only \\ and \n escapes in HELP.
    if (help && /\\(?![\\n])/.test(help[1] as string)) throw new Error(`line ${i + 1}: bad escape in HELP`);
    const type = /^# TYPE \S+ (.*)$/.exec(line);
    if (type && !TYPES.has(type[1] as string)) throw new Error(`line ${i + 1}: unknown type "${type[1]}"`);
  }
  const families = parseExposition(text);
  const seen = new Set<string>();
  for (const f of families.values()) {
    if (!f.type) throw new Error(`family ${f.name} has no TYPE`);
    if (!f.help) throw new Error(`family ${f.name} has no HELP`);
    for (const s of f.samples) {
      for (const name of Object.keys(s.labels)) {
        if (name.startsWith('__')) throw new Error(`${s.name}: reserved label name ${name}`);
      }
      const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
      if (seen.has(key)) throw new Error(`duplicate series ${key}`);
      seen.add(key);
    }
  }
  return families;
}

/** Runs `promtool check metrics` on a text-format exposition; throws with promtool's output if it objects. */
export function promtoolCheck(promtool: string, text: string): void {
  const result = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0 || output.trim() !== '') {
    throw new Error(`promtool check metrics failed (status ${result.status}):\n${output.slice(0, 4000)}`);
  }
}

/** Fetches /metrics, checks status, encoding and validity; returns the text and its families. */
export async function scrapeValid(
  url: string,
  init: { headers?: Record<string, string> } = {},
): Promise<{ text: string; families: Map<string, Family>; format: 'text' | 'openmetrics' }> {
  const res = await fetch(`${url}/metrics`, init);
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const text = decodeUtf8(body);
  const format = (res.headers.get('content-type') ?? '').startsWith('application/openmetrics-text') ? 'openmetrics' : 'text';
  return { text, families: assertValidExposition(text, format), format };
}
