import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/*
 * The simulator's tests read no wall clock: time-dependent behaviour (latency, lockout windows, rate-limit refill,
 * round trips) runs on a ManualClock (test/helpers/manual-clock.ts) or waits for an event, never for a duration
 * compared with a constant. Shared CI machines are slow at random.
 */
const DIR = new URL('./', import.meta.url).pathname;

describe('simulator tests', () => {
  it('never read the wall clock', () => {
    for (const name of readdirSync(DIR).filter((n) => n.endsWith('.test.ts') && n !== 'no-wall-clock.test.ts')) {
      const text = readFileSync(`${DIR}${name}`, 'utf8');
      expect(text.match(/\b(Date\.now|performance\.now|process\.hrtime)\b/g), name).toBeNull();
    }
  });
});
