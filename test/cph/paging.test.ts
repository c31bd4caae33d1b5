import { describe, expect, it } from 'vitest';
import { CphApiError } from '../../src/cph/errors.js';
import { type FetchPage, listAllPages, listPages } from '../../src/cph/paging.js';

interface Item {
  id: string;
}

/** A fake listing of `total` items that records page requests and concurrency, answering in macrotasks. */
function fakeListing(total: number, options: { failOffset?: number; shiftAfterFirstPage?: number } = {}) {
  let items: Item[] = Array.from({ length: total }, (_, i) => ({ id: `id-${i}` }));
  const stats = { requests: [] as number[], inFlight: 0, maxInFlight: 0 };
  const fetchPage: FetchPage<Item> = async (offset, limit, signal) => {
    stats.requests.push(offset);
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    try {
      await new Promise((r) => setTimeout(r, 1));
      signal.throwIfAborted();
      if (offset === options.failOffset) throw new CphApiError('CPH_SERVER', 'boom', { status: 500 });
      const page = items.slice(offset, offset + limit);
      if (offset === 0 && options.shiftAfterFirstPage) {
        // New items appear at the front: everything shifts right, so the next page repeats items.
        const fresh = Array.from({ length: options.shiftAfterFirstPage }, (_, i) => ({ id: `new-${i}` }));
        items = [...fresh, ...items];
      }
      return page;
    } finally {
      stats.inFlight--;
    }
  };
  return { fetchPage, stats };
}

const ids = (items: Item[]): string[] => items.map((i) => i.id);

describe('listAllPages', () => {
  it.each([
    ['no items', 0, 1],
    ['fewer than a page', 7, 1],
    ['exactly one full page', 10, 2],
    ['one full page plus one', 11, 2],
    ['many pages', 95, 10],
    ['many full pages', 100, 11],
  ])('%s (%i items) lists every item once, in order', async (_name, total, pages) => {
    const { fetchPage, stats } = fakeListing(total);
    const listing = await listAllPages(fetchPage, (i) => i.id, { pageSize: 10, maxPages: 50, window: 4 });
    expect(ids(listing.items)).toEqual(Array.from({ length: total }, (_, i) => `id-${i}`));
    expect(listing.pages).toBe(pages);
    expect(listing.duplicates).toBe(0);
    expect(stats.maxInFlight).toBeLessThanOrEqual(4);
  });

  it('keeps up to `window` requests in flight and never more', async () => {
    const { fetchPage, stats } = fakeListing(1000);
    await listAllPages(fetchPage, (i) => i.id, { pageSize: 10, maxPages: 500, window: 8 });
    expect(stats.maxInFlight).toBe(8);
    // 100 full pages + the empty 101st; at most window-1 wasted requests beyond it.
    expect(stats.requests.length).toBeGreaterThanOrEqual(101);
    expect(stats.requests.length).toBeLessThanOrEqual(101 + 7);
  });

  it('sends the first page alone when asked to', async () => {
    const { fetchPage, stats } = fakeListing(1000);
    let inFlightAtSecond = -1;
    const wrapped: FetchPage<Item> = (offset, limit, signal) => {
      if (stats.requests.length === 1) inFlightAtSecond = stats.inFlight;
      return fetchPage(offset, limit, signal);
    };
    await listAllPages(wrapped, (i) => i.id, { pageSize: 10, maxPages: 500, window: 8, firstPageAlone: true });
    expect(stats.requests[0]).toBe(0);
    expect(inFlightAtSecond).toBe(0); // the second request went out only after the first had returned
    expect(stats.maxInFlight).toBe(8);
  });

  it('de-duplicates items that a shifting listing returns twice', async () => {
    const { fetchPage } = fakeListing(25, { shiftAfterFirstPage: 3 });
    const listing = await listAllPages(fetchPage, (i) => i.id, { pageSize: 10, maxPages: 50, window: 1 });
    expect(listing.duplicates).toBe(3);
    expect(new Set(ids(listing.items)).size).toBe(listing.items.length);
    expect(ids(listing.items).slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `id-${i}`));
  });

  it('fails the whole listing when any page fails: no partial listing', async () => {
    const { fetchPage } = fakeListing(95, { failOffset: 40 });
    await expect(listAllPages(fetchPage, (i) => i.id, { pageSize: 10, maxPages: 50, window: 4 })).rejects.toMatchObject({ code: 'CPH_SERVER' });
  });

  it('ignores a failure of a page beyond the end of the listing', async () => {
    const { fetchPage } = fakeListing(25, { failOffset: 40 });
    const listing = await listAllPages(fetchPage, (i) => i.id, { pageSize: 10, maxPages: 50, window: 8 });
    expect(listing.items).toHaveLength(25);
  });

  it('refuses a runaway listing at the page cap', async () => {
    const { fetchPage } = fakeListing(1000);
    await expect(listAllPages(fetchPage, (i) => i.id, { pageSize: 10, maxPages: 5, window: 2 })).rejects.toMatchObject({ code: 'CPH_PAGE_CAP' });
  });

  it('stops and rejects when the caller aborts, leaving nothing in flight', async () => {
    const { fetchPage, stats } = fakeListing(100_000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new CphApiError('CPH_TIMEOUT', 'deadline')), 20);
    await expect(
      listAllPages(fetchPage, (i) => i.id, { pageSize: 10, maxPages: 100_000, window: 4, signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'CPH_TIMEOUT' });
    expect(stats.inFlight).toBe(0);
  });

  it('hands pages to the consumer in listing order as they arrive, whatever order they arrive in', async () => {
    const total = 95;
    const all = Array.from({ length: total }, (_, i) => ({ id: `id-${i}` }));
    // Later pages answer sooner: page p takes (10 - p) ms.
    const fetchPage: FetchPage<Item> = async (offset, limit) => {
      await new Promise((r) => setTimeout(r, Math.max(0, 10 - offset / limit)));
      return all.slice(offset, offset + limit);
    };
    const order: string[] = [];
    const summary = await listPages(fetchPage, (i) => i.id, { pageSize: 10, maxPages: 50, window: 8 }, (items) => {
      order.push(...items.map((i) => i.id));
    });
    expect(order).toEqual(all.map((i) => i.id));
    expect(summary).toEqual({ pages: 10, items: total, duplicates: 0 });
  });

  it('fails the listing when the consumer throws', async () => {
    const { fetchPage } = fakeListing(95);
    await expect(
      listPages(fetchPage, (i) => i.id, { pageSize: 10, maxPages: 50, window: 4 }, () => {
        throw new Error('conversion failed');
      }),
    ).rejects.toThrow('conversion failed');
  });

  it('stays within the previous listing\'s pages while the listing has not grown', async () => {
    // 95 items = 10 pages of 10, the last one short: with 10 expected pages, not one request beyond.
    const { fetchPage, stats } = fakeListing(95);
    const listing = await listAllPages(fetchPage, (i) => i.id, { pageSize: 10, maxPages: 50, window: 8, expectedPages: 10 });
    expect(listing.items).toHaveLength(95);
    expect(stats.requests).toHaveLength(10);
    expect(stats.maxInFlight).toBe(8);
  });

  it('looks further when the listing grew past the expected pages', async () => {
    const { fetchPage, stats } = fakeListing(405);
    const listing = await listAllPages(fetchPage, (i) => i.id, { pageSize: 10, maxPages: 100, window: 8, expectedPages: 10 });
    expect(listing.items).toHaveLength(405);
    expect(listing.pages).toBe(41);
    expect(stats.requests.length).toBeLessThanOrEqual(41 + 7);
  });

  it('rejects nonsensical options', async () => {
    const { fetchPage } = fakeListing(1);
    await expect(listAllPages(fetchPage, (i) => i.id, { pageSize: 0, maxPages: 1, window: 1 })).rejects.toThrow(RangeError);
  });
});
