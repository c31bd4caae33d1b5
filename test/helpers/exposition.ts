/**
 * A strict parser of the Prometheus text exposition format 0.0.4 (and the OpenMetrics subset
 * the exporter emits), for tests. It throws on anything malformed, so a test that parses an
 * exposition also proves it is valid.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help?: string;
  type?: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(text: string, line: number): number {
  // Prometheus parses values with Go's strconv.ParseFloat, which takes NaN and Inf in any case;
  // prom-client writes "Nan" (e.g. nodejs_eventloop_lag_mean_seconds before the first sample).
  if (/^\+?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`line ${line}: bad value "${text}"`);
  return Number(text);
}

function parseLabels(text: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // after '{'
  for (;;) {
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`line ${line}: bad label set`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`line ${line}: bad label name "${name}"`);
    if (Object.hasOwn(labels, name)) throw new Error(`line ${line}: duplicate label "${name}"`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value must be quoted`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const ch = text[j];
      if (ch === undefined) throw new Error(`line ${line}: unterminated label value`);
      if (ch === '"') break;
      if (ch === '\\') {
        const next = text[j + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else throw new Error(`line ${line}: bad escape \\${next}`);
        j += 2;
        continue;
      }
      value += ch;
      j++;
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`line ${line}: expected , or } after label ${name}`);
  }
}

/** Parses a whole exposition into families, in order. Throws on malformed input. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const finished = new Set<string>();
  let current: Family | undefined;
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('exposition must end with a newline');
  lines.pop();
  const familyOf = (sampleName: string): string => {
    if (current?.name === sampleName || families.has(sampleName)) return sampleName;
    for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created', '_info']) {
      if (sampleName.endsWith(suffix)) {
        const base = sampleName.slice(0, -suffix.length);
        if (families.has(base) || current?.name === base) return base;
      }
    }
    return sampleName;
  };
  lines.forEach((raw, index) => {
    const n = index + 1;
    if (raw === '# EOF') return;
    if (raw.startsWith('# HELP ') || raw.startsWith('# TYPE ') || raw.startsWith('# UNIT ')) {
      const [, kind, name, ...rest] = raw.split(' ');
      if (!name || !NAME.test(name)) throw new Error(`line ${n}: bad metric name in ${kind}`);
      if (current?.name !== name) {
        if (current) finished.add(current.name);
        if (finished.has(name)) throw new Error(`line ${n}: family ${name} is split`);
        current = families.get(name) ?? { name, samples: [] };
        families.set(name, current);
      }
      if (kind === 'HELP') current.help = rest.join(' ');
      if (kind === 'TYPE') current.type = rest.join(' ');
      return;
    }
    if (raw.startsWith('#') || raw.trim() === '') return;
    const brace = raw.indexOf('{');
    const space = raw.indexOf(' ');
    const nameEnd = brace >= 0 && brace < space ? brace : space;
    const name = raw.slice(0, nameEnd);
    if (!NAME.test(name)) throw new Error(`line ${n}: bad sample name "${name}"`);
    let labels: Record<string, string> = {};
    let rest = raw.slice(nameEnd);
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, n));
    const parts = rest.trim().split(' ');
    if (parts.length < 1 || parts.length > 2) throw new Error(`line ${n}: expected value [timestamp]`);
    const value = parseValue(parts[0] as string, n);
    const familyName = familyOf(name);
    if (current?.name !== familyName) {
      if (current) finished.add(current.name);
      if (finished.has(familyName)) throw new Error(`line ${n}: family ${familyName} is split`);
      current = families.get(familyName) ?? { name: familyName, samples: [] };
      families.set(familyName, current);
    }
    current.samples.push({ name, labels, value });
  });
  return families;
}

/** Samples of one metric name, for quick lookups in tests. */
export function samplesOf(text: string | Map<string, Family>, name: string): Sample[] {
  const families = typeof text === 'string' ? parseExposition(text) : text;
  const out: Sample[] = [];
  for (const f of families.values()) for (const s of f.samples) if (s.name === name) out.push(s);
  return out;
}

/** Sum of the values of the samples of `name` whose labels include `match`. */
export function sumOf(samples: Sample[], match: Record<string, string> = {}): number {
  return samples.filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}
