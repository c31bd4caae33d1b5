/** Finds tests that compare a measured wall-clock time with a bound; see test/lint/no-wall-clock-asserts.test.ts. */

const BOUND = /\.(?:not\.)?to(?:BeLessThan|BeLessThanOrEqual|BeGreaterThan|BeGreaterThanOrEqual|BeCloseTo)\(/;
const CLOCK = /performance\.now\(\)|Date\.now\(\)|process\.hrtime/;

/** `file:line: code` for every wall-clock comparison in `source`. */
export function wallClockAsserts(file: string, source: string): string[] {
  const fakeDate = /useFakeTimers\(/.test(source);
  const clock = fakeDate ? /performance\.now\(\)|process\.hrtime/ : CLOCK;
  const lines = source.split('\n');
  // Variables holding a time measured on the real clock: assigned from an expression that reads it,
  // or from another such variable (seconds = elapsed / 1000).
  const measured = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const line of lines) {
      const m = /\b(?:const|let|var)\s+(\w+)\s*=\s*(.+)$|^\s*(\w+)\s*=\s*(.+)$/.exec(line);
      const name = m?.[1] ?? m?.[3];
      const value = m?.[2] ?? m?.[4];
      if (!name || !value || measured.has(name)) continue;
      const readsClock = clock.test(value) && /-/.test(value); // a difference of two readings, not a deadline
      const fromMeasured = [...measured].some((v) => new RegExp(`\\b${v}\\b`).test(value));
      if (readsClock || fromMeasured) {
        measured.add(name);
        changed = true;
      }
    }
  }
  const found: string[] = [];
  lines.forEach((line, i) => {
    const subject = firstArgument(line);
    if (subject === undefined || !BOUND.test(line)) return;
    const isMeasured = (code: string): boolean => (clock.test(code) && code.includes('-')) || [...measured].some((v) => new RegExp(`\\b${v}\\b`).test(code));
    // Either way round: the measured value as the subject, or as the bound that a constant subject is compared with.
    const bound = matcherArgument(line);
    const constantSubject = /^\s*[\d_.]+\s*$/.test(subject);
    if (isMeasured(subject) || (constantSubject && bound !== undefined && isMeasured(bound))) found.push(`${file}:${i + 1}: ${line.trim()}`);
  });
  return found;
}

/** The first argument of the first `expect(` on the line (its message argument may mention anything). */
function firstArgument(line: string): string | undefined {
  const start = line.indexOf('expect(');
  return start < 0 ? undefined : argumentAt(line, start + 'expect('.length);
}

/** The first argument of the bound matcher on the line (toBeLessThan(...) and the like). */
function matcherArgument(line: string): string | undefined {
  const m = BOUND.exec(line);
  return m ? argumentAt(line, m.index + m[0].length) : undefined;
}

/** The text from `from` up to the first top-level `,` or the closing parenthesis. */
function argumentAt(line: string, from: number): string {
  let depth = 0;
  for (let i = from; i < line.length; i++) {
    const c = line[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) return line.slice(from, i);
      depth--;
    } else if (c === ',' && depth === 0) return line.slice(from, i);
  }
  return line.slice(from);
}
