import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { wallClockAsserts } from '../helpers/wall-clock.js';

/*
 * No test compares a measured wall-clock time with a constant: CI machines are shared and slow, so
 * such a test fails sooner or later for no fault of the code. Use a fake clock (ManualClock,
 * vi.useFakeTimers) or wait for an event (a log line, a counter, a request seen by the simulator);
 * performance is shown by `npm run bench`. This test reads every test file and finds
 *   - an expect() whose subject reads the clock itself (performance.now(), Date.now(), process.hrtime), and
 *   - an expect() on a variable computed from such a reading (`const seconds = (performance.now() - t0) / 1000`),
 * when the matcher compares it with a bound (toBeLessThan, toBeGreaterThan, ..., toBeCloseTo).
 * Reading the clock for a log line or for a give-up deadline of a wait loop is fine.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const SELF = path.relative(ROOT, import.meta.filename);

/**
 * Known offenders being replaced by the helper who owns the file, each with who and why. The test
 * fails when an entry no longer offends, so that the list only ever shrinks.
 */
const PENDING: Record<string, string> = {};

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return testFiles(full);
    return /\.ts$/.test(name) ? [path.relative(ROOT, full)] : [];
  });
}

describe('no test compares a measured wall-clock time with a constant', () => {
  const files = testFiles(path.join(ROOT, 'test')).filter((f) => f !== SELF);

  it('finds the test files', () => {
    expect(files.length).toBeGreaterThan(30);
  });

  it('recognises the shapes it forbids, and lets deadlines and fake clocks be', () => {
    const bad = [
      'const t0 = performance.now();',
      'await work();',
      'const waited = (performance.now() - t0) / 1000;', // any name: what counts is where the value comes from
      'expect(waited).toBeLessThan(5);',
      'expect(Date.now() - started).toBeGreaterThanOrEqual(950);',
      'const ms = waited * 1000;',
      "expect(ms, 'slow').toBeLessThanOrEqual(200);",
      'expect(5).toBeGreaterThan(waited);', // the same comparison written the other way round
    ].join('\n');
    expect(wallClockAsserts('x.ts', bad).map((l) => l.split(':')[1])).toEqual(['4', '5', '7', '8']);
    const fine = [
      'const deadline = Date.now() + 10_000;',
      'while (Date.now() < deadline) await tick();',
      "console.log(`took ${((performance.now() - t0) / 1000).toFixed(1)} s`);",
      'expect(requests).toBeLessThanOrEqual(10);',
      'vi.useFakeTimers(); const t = Date.now(); vi.advanceTimersByTime(5); const gap = Date.now() - t;',
      'expect(gap).toBe(5);',
    ].join('\n');
    expect(wallClockAsserts('y.ts', fine)).toEqual([]);
  });

  it.each(files)('%s', (file) => {
    const found = wallClockAsserts(file, readFileSync(path.join(ROOT, file), 'utf8'));
    if (PENDING[file] !== undefined) {
      expect(found.length, `${file} no longer compares wall-clock times: remove it from PENDING`).toBeGreaterThan(0);
      return;
    }
    expect(found, 'use a fake clock or wait for an event instead').toEqual([]);
  });
});
