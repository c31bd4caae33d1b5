import { CphApiError } from './errors.js';

export interface PagingOptions {
  /** Items per page (the API's `limit`, 1..100). */
  pageSize: number;
  /** A listing that still has full pages after this many is treated as runaway and fails. */
  maxPages: number;
  /** Page requests of this listing kept in flight ahead of the last full page. */
  window: number;
  /**
   * Send the first page alone before fanning out. It proves the credentials and the project
   * before `window` requests go out at once: with a bad key that is one failed authentication,
   * not `window` of them (the gateway locks an AK after 5 consecutive failures).
   */
  firstPageAlone?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

export interface Listing<T> {
  items: T[];
  /** Pages that made up the listing (the last one short or empty). */
  pages: number;
  /** Items seen twice because the listing shifted between pages. */
  duplicates: number;
}

export type FetchPage<T> = (offset: number, limit: number, signal: AbortSignal) => Promise<T[]>;

/**
 * Lists every item of an offset/limit API that returns no total, as ListEncodeServers does:
 * the listing ends at the first page shorter than `pageSize`.
 *
 * Rather than one round trip per page, it keeps up to `window` page requests in flight
 * ahead of the last full page, so P pages cost about ceil(P / window) round trips (one more
 * with `firstPageAlone`). Pages
 * beyond the first short one are aborted and dropped. Any failed page fails the listing:
 * a partial listing must never pass for a complete one. Items are de-duplicated by id,
 * keeping the first in listing order (a listing can shift between two page requests).
 */
export function listAllPages<T>(fetchPage: FetchPage<T>, idOf: (item: T) => string, options: PagingOptions): Promise<Listing<T>> {
  const { pageSize, maxPages, window } = options;
  if (!(pageSize >= 1 && maxPages >= 1 && window >= 1)) {
    return Promise.reject(new RangeError('pageSize, maxPages and window must be >= 1'));
  }
  return new Promise((resolve, reject) => {
    const pages: T[][] = [];
    const controllers = new Map<number, AbortController>();
    let next = 0;
    let firstShort = Number.POSITIVE_INFINITY;
    let inFlight = 0;
    let failure: unknown;
    /** The caller's abort reason (the poll deadline, or shutdown), once it came. */
    let aborted: unknown;

    const abortAll = (reason: unknown, from = 0): void => {
      for (const [page, controller] of controllers) if (page >= from) controller.abort(reason);
    };
    // The pages in flight then settle with their own errors, and the first one says why the listing
    // failed: a page waiting out a 429's Retry-After reports "throttled", not the deadline that cut the wait.
    const onOuterAbort = (): void => {
      aborted = options.signal?.reason ?? new CphApiError('CPH_ABORTED', 'listing aborted');
      abortAll(options.signal?.reason);
    };
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    if (options.signal?.aborted) onOuterAbort();

    const settle = (): void => {
      if (inFlight > 0) return; // wait for every request, aborted ones too: nothing is left running
      options.signal?.removeEventListener('abort', onOuterAbort);
      if (failure !== undefined || aborted !== undefined) return reject(failure ?? aborted);
      if (firstShort === Number.POSITIVE_INFINITY) {
        return reject(
          new CphApiError('CPH_PAGE_CAP', `listing still had full pages after ${maxPages} pages of ${pageSize}; raise poll.max_pages if the fleet is that large`),
        );
      }
      resolve(assemble(pages, firstShort + 1, idOf));
    };

    const launch = (): void => {
      const width = options.firstPageAlone && pages[0] === undefined ? 1 : window;
      while (failure === undefined && aborted === undefined && inFlight < width && next <= firstShort && next < maxPages) {
        start(next++);
      }
      settle();
    };

    const start = (page: number): void => {
      const controller = new AbortController();
      controllers.set(page, controller);
      inFlight++;
      fetchPage(page * pageSize, pageSize, controller.signal).then(
        (items) => {
          inFlight--;
          controllers.delete(page);
          if (failure === undefined && page <= firstShort) {
            pages[page] = items;
            if (items.length < pageSize) {
              firstShort = page;
              abortAll(new CphApiError('CPH_ABORTED', 'beyond the end of the listing'), page + 1);
            }
          }
          launch();
        },
        (err: unknown) => {
          inFlight--;
          controllers.delete(page);
          // A page beyond the end of the listing may fail or be aborted: nobody needs it.
          if (page <= firstShort && failure === undefined) {
            failure = err;
            abortAll(err);
          }
          launch();
        },
      );
    };

    launch();
  });
}

function assemble<T>(pages: T[][], count: number, idOf: (item: T) => string): Listing<T> {
  const seen = new Set<string>();
  const items: T[] = [];
  let duplicates = 0;
  for (let p = 0; p < count; p++) {
    for (const item of pages[p] ?? []) {
      const id = idOf(item);
      if (seen.has(id)) {
        duplicates++;
        continue;
      }
      seen.add(id);
      items.push(item);
    }
  }
  return { items, pages: count, duplicates };
}
