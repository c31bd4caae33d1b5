import { describe, expect, it } from 'vitest';
import { isNotNeeded } from '../../src/cph/errors.js';
import { listPages } from '../../src/cph/paging.js';

/*
 * A first listing sends pages ahead of the last full one; those beyond the end are cancelled by
 * design. They must be cancelled with the "not needed" reason, which the client counts in
 * cph_api_requests_cancelled_total{reason="not_needed"} (test/cph/client.test.ts), never as a failure.
 */
describe('speculative pages beyond the end of a listing', () => {
  it('are cancelled with the "not needed" reason, and the listing completes', async () => {
    const items = Array.from({ length: 5 }, (_, i) => ({ id: `e${i}` }));
    const reasons = new Map<number, unknown>();
    const fetchPage = (offset: number, limit: number, signal: AbortSignal): Promise<{ id: string }[]> => {
      if (offset < items.length) return Promise.resolve(items.slice(offset, offset + limit));
      // Beyond the end: answer only when cancelled, so every such page must be cancelled for the listing to finish.
      return new Promise((_, reject) =>
        signal.addEventListener('abort', () => {
          reasons.set(offset, signal.reason);
          reject(signal.reason as Error);
        }),
      );
    };
    const consumed: string[] = [];
    const summary = await listPages(fetchPage, (e) => e.id, { pageSize: 3, maxPages: 100, window: 8, firstPageAlone: true }, (page) =>
      consumed.push(...page.map((e) => e.id)),
    );
    expect(summary.items).toBe(5);
    expect(consumed).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    expect(reasons.size).toBeGreaterThan(0);
    for (const reason of reasons.values()) expect(isNotNeeded(reason)).toBe(true);
  });
});
