/**
 * Turns the Prometheus text format 0.0.4 into OpenMetrics 1.0 text.
 *
 * The two differ, for what this exporter serves, only in how a counter family is named (OpenMetrics
 * names the family without `_total`; the samples keep it) and in the closing `# EOF`. We convert
 * the text rather than use prom-client's OpenMetrics registry because that registry renames counter
 * objects in place (`metric.name = ...` in its `metrics()`), which would corrupt the text format for
 * every later scrape of the same metrics.
 */
export function toOpenMetrics(text: string): string {
  const counters = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+_total) counter$/gm)) counters.add(m[1] as string);
  const body = counters.size === 0
    ? text
    : text.replace(/^# (HELP|TYPE) (\S+_total)( |$)/gm, (line, kind: string, name: string, sep: string) =>
        counters.has(name) ? `# ${kind} ${name.slice(0, -'_total'.length)}${sep}` : line,
      );
  // OpenMetrics has no blank lines; prom-client separates families with one.
  return `${body.replace(/\n{2,}/g, '\n').replace(/\n*$/, '\n')}# EOF\n`;
}

export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
