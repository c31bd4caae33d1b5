import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { listCountedConsistently, listCountedPages, ShiftedListingError, type FetchCountedPage } from '../../src/cph/counted-paging.js';
import { CphApiError } from '../../src/cph/errors.js';

interface Item {
  id: string;
}

const make = (prefix: string, n: number): Item[] => Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}` }));

/**
 * A fake counted listing answering in macrotasks. `afterResponse(n, items)` may change the listing
 * after the n-th response (0-based) has been served; `overrides` bend single answers.
 */
function fakeApi(
  initial: Item[],
  options: { afterResponse?: (n: number, items: Item[]) => Item[]; count?: (actual: number) => number; failOffset?: number; extra?: number } = {},
) {
  let items = initial;
  const stats = { requests: [] as Array<{ offset: number; limit: number; inFlightAtStart: number }>, inFlight: 0, maxInFlight: 0, responses: 0, firstPageSnapshots: [] as string[][] };
  const fetchPage: FetchCountedPage<Item> = async (offset, limit, signal) => {
    stats.requests.push({ offset, limit, inFlightAtStart: stats.inFlight });
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    try {
      await new Promise((r) => setTimeout(r, 1));
      signal.throwIfAborted();
      if (offset === options.failOffset) throw new CphApiError('CPH_SERVER', 'boom', { status: 500 });
      if (offset === 0) stats.firstPageSnapshots.push(items.map((i) => i.id));
      const page = items.slice(offset, offset + limit);
      const answer = { count: options.count ? options.count(items.length) : items.length, items: offset === 0 && options.extra ? [...page, ...make('extra', options.extra)] : page };
      const n = stats.responses++;
      if (options.afterResponse) items = options.afterResponse(n, items);
      return answer;
    } finally {
      stats.inFlight--;
    }
  };
  return { fetchPage, stats, current: () => items };
}

async function collect(fetchPage: FetchCountedPage<Item>, pageSize: number, maxPages = 1000) {
  const got: string[] = [];
  const summary = await listCountedPages(fetchPage, (i) => i.id, { pageSize, maxPages }, (page) => got.push(...page.map((i) => i.id)));
  return { got, summary };
}

describe('listCountedPages', () => {
  it.each([
    ['no items', 0, 1],
    ['fewer than a page', 7, 1],
    ['exactly one page', 10, 1],
    ['one page plus one', 11, 2],
    ['many pages', 95, 10],
    ['exact multiple', 100, 10],
  ])('%s (%i items): every item once, %i pages, no request past the total', async (_name, total, pages) => {
    const api = fakeApi(make('p', total));
    const { got, summary } = await collect(api.fetchPage, 10);
    expect(got.sort()).toEqual(make('p', total).map((i) => i.id).sort());
    expect(summary).toEqual({ pages, items: total, total });
    expect(api.stats.requests).toHaveLength(pages);
  });

  it('sends the first page alone, then every other page at once: 2 round trips', async () => {
    const api = fakeApi(make('p', 1000));
    await collect(api.fetchPage, 100);
    expect(api.stats.requests[0]).toMatchObject({ offset: 0, inFlightAtStart: 0 });
    expect(api.stats.requests[1]?.inFlightAtStart).toBe(0); // after the first page came back
    expect(api.stats.maxInFlight).toBe(9);
    expect(api.stats.requests.map((r) => r.offset)).toEqual(Array.from({ length: 10 }, (_, i) => i * 100));
    expect(new Set(api.stats.requests.map((r) => r.limit))).toEqual(new Set([100]));
  });

  it('fails a page longer than the limit as a bad response', async () => {
    const api = fakeApi(make('p', 30), { extra: 1 });
    await expect(collect(api.fetchPage, 10)).rejects.toMatchObject({ code: 'CPH_BAD_RESPONSE' });
  });

  it('refuses a total that needs more than maxPages before sending any more request', async () => {
    const api = fakeApi(make('p', 101));
    await expect(collect(api.fetchPage, 10, 10)).rejects.toMatchObject({ code: 'CPH_PAGE_CAP' });
    expect(api.stats.requests).toHaveLength(1);
  });

  it('a total that changes mid-listing is a disagreement, with what disagreed', async () => {
    // Three phones created at the front once the first page is out.
    const api = fakeApi(make('p', 35), { afterResponse: (n, items) => (n === 0 ? [...make('new', 3), ...items] : items) });
    const err = await collect(api.fetchPage, 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShiftedListingError);
    expect((err as ShiftedListingError).disagreement).toMatchObject({ total: 35, laterTotals: [38, 38, 38], duplicates: 3 });
  });

  it('a total that the items do not reach is a disagreement even when every page repeats it', async () => {
    const api = fakeApi(make('p', 25), { count: () => 30 });
    const err = (await collect(api.fetchPage, 10).catch((e: unknown) => e)) as ShiftedListingError;
    expect(err.disagreement).toEqual({ total: 30, laterTotals: [], delivered: 25, duplicates: 0 });
  });

  it('a failed page fails the listing, and every request has settled by then', async () => {
    const api = fakeApi(make('p', 100), { failOffset: 50 });
    await expect(collect(api.fetchPage, 10)).rejects.toMatchObject({ code: 'CPH_SERVER' });
    expect(api.stats.inFlight).toBe(0);
  });

  it('stops at once when the caller aborts', async () => {
    const api = fakeApi(make('p', 100));
    const controller = new AbortController();
    controller.abort(new CphApiError('CPH_TIMEOUT', 'deadline'));
    await expect(listCountedPages(api.fetchPage, (i) => i.id, { pageSize: 10, maxPages: 100, signal: controller.signal }, () => undefined)).rejects.toMatchObject({
      code: 'CPH_TIMEOUT',
    });
  });
});

describe('listCountedConsistently', () => {
  it('lists again once after a disagreement and returns the second, complete listing', async () => {
    const api = fakeApi(make('p', 35), { afterResponse: (n, items) => (n === 0 ? [...make('new', 3), ...items] : items) });
    const shifts: ShiftedListingError[] = [];
    const result = await listCountedConsistently(() => collect(api.fetchPage, 10), (e) => shifts.push(e));
    expect(result.got.sort()).toEqual(api.current().map((i) => i.id).sort());
    expect(shifts).toHaveLength(1);
  });

  it('a listing that never holds still fails as inconsistent after two attempts, never looping', async () => {
    const api = fakeApi(make('p', 35), { afterResponse: (_n, items) => items.slice(1) });
    const shifts: unknown[] = [];
    await expect(listCountedConsistently(() => collect(api.fetchPage, 10), (e) => shifts.push(e))).rejects.toMatchObject({ code: 'CPH_INCONSISTENT' });
    expect(shifts).toHaveLength(2);
    expect(api.stats.requests.length).toBeLessThanOrEqual(8);
  });

  it('property: a listing that resolves is the estate as of its first page; one that does not is counted', async () => {
    const event = fc.record({ after: fc.nat(12), insert: fc.boolean(), at: fc.nat(60), n: fc.integer({ min: 1, max: 4 }) });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 15 }), fc.uniqueArray(event, { selector: (e) => e.after, maxLength: 6 }), async (size, pageSize, events) => {
        let created = 0;
        const api = fakeApi(make('p', size), {
          afterResponse: (n, items) => {
            const e = events.find((ev) => ev.after === n);
            if (!e) return items;
            const at = Math.min(e.at, items.length);
            if (e.insert) return [...items.slice(0, at), ...make(`new${created++}`, e.n), ...items.slice(at)];
            return items.length === 0 ? [...items, ...make(`new${created++}`, e.n)] : [...items.slice(0, at), ...items.slice(at + e.n)];
          },
        });
        const shifts: unknown[] = [];
        try {
          const { got } = await listCountedConsistently(() => collect(api.fetchPage, pageSize), (e) => shifts.push(e));
          expect(new Set(got).size).toBe(got.length);
          expect(got.sort()).toEqual([...(api.stats.firstPageSnapshots.at(-1) ?? [])].sort());
        } catch (err) {
          expect(err).toMatchObject({ code: 'CPH_INCONSISTENT' });
          expect(shifts).toHaveLength(2);
        }
        expect(api.stats.inFlight).toBe(0);
      }),
      { numRuns: 150 },
    );
  });
});
