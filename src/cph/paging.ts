import { CphApiError, isCphApiError, notNeeded } from './errors.js';

export interface PagingOptions {
  /** Items per page (the API's `limit`). At least 2: consecutive pages overlap by one item. */
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
  /**
   * Pages the previous complete listing had. Requests stay within that many pages until the last
   * of them comes back full (the listing grew), then the horizon doubles. A stable listing then
   * costs no request beyond its end, where a plain window would send up to `window - 1` of them
   * per listing: for many small targets that would multiply the load on the API.
   */
  expectedPages?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface ListingSummary {
  /** Pages that made up the listing (the last one short or empty). */
  pages: number;
  /** Distinct items handed to the consumer. */
  items: number;
  /** Items the API returned twice within one consistent listing (beyond the deliberate overlap). */
  duplicates: number;
}

export interface Listing<T> extends Omit<ListingSummary, 'items'> {
  items: T[];
}

export type FetchPage<T> = (offset: number, limit: number, signal: AbortSignal) => Promise<T[]>;

/**
 * Lists every item of an offset/limit API that returns no total, as ListEncodeServers does:
 * the listing ends at the first page shorter than `pageSize`.
 *
 * Consecutive pages overlap by one item: page p starts at offset p × (pageSize − 1), so its first
 * item must be the last item of page p − 1. When a record before that point was created or
 * deleted between the two requests, every later record moved, and the overlap item differs (or
 * the page is empty): offset paging would otherwise return deleted records and silently skip live
 * ones. Then the listing fails with `CPH_SHIFTED`, which `listConsistently` turns into one more
 * listing. The overlap costs one item per page, about 1 % more requests at a page size of 100.
 * (Changes that cancel out exactly, one creation and one deletion before the same page boundary
 * between the two requests, leave no trace in an API without a total; nothing cheaper than a
 * second full listing could see them.)
 *
 * Rather than one round trip per page, it keeps up to `window` page requests in flight
 * ahead of the last full page, so P pages cost about ceil(P / window) round trips (one more
 * with `firstPageAlone`). Pages beyond the first short one are aborted and dropped.
 *
 * Pages are handed to `consume` as soon as they and every page before them have arrived, in
 * listing order, without the overlap item. So the caller can convert a large listing while it
 * arrives instead of holding every parsed page until the end. Any failed page fails the listing,
 * and then the caller must discard what it consumed: a partial listing must never pass for a
 * complete one. A page longer than `pageSize` fails the listing at once as a bad response.
 */
export function listPages<T>(
  fetchPage: FetchPage<T>,
  idOf: (item: T) => string,
  options: PagingOptions,
  consume: (items: T[]) => void,
): Promise<ListingSummary> {
  const { pageSize, maxPages, window } = options;
  if (!(pageSize >= 2 && maxPages >= 1 && window >= 1)) {
    return Promise.reject(new RangeError('pageSize must be >= 2, maxPages and window >= 1'));
  }
  const stride = pageSize - 1;
  return new Promise((resolve, reject) => {
    /** Pages that arrived but are not consumed yet (an earlier page is still in flight). */
    const waiting = new Map<number, T[]>();
    const seen = new Set<string>();
    const controllers = new Map<number, AbortController>();
    let next = 0;
    let consumed = 0;
    /** ID of the last item of the last consumed page: the overlap the next page must start with. */
    let overlapId: string | undefined;
    let duplicates = 0;
    let firstShort = Number.POSITIVE_INFINITY;
    /** The last page index that may be requested for now. */
    let horizon = options.expectedPages !== undefined && options.expectedPages >= 1 ? options.expectedPages - 1 : Number.POSITIVE_INFINITY;
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

    const fail = (err: unknown): void => {
      if (failure !== undefined) return;
      failure = err;
      abortAll(err);
    };

    /** Hands over every page that is next in listing order. */
    const consumeInOrder = (): void => {
      for (let items = waiting.get(consumed); items !== undefined && consumed <= firstShort; items = waiting.get(consumed)) {
        waiting.delete(consumed);
        const page = consumed++;
        let body = items;
        if (page > 0) {
          const first = items[0];
          if (first === undefined || idOf(first) !== overlapId) {
            fail(
              new CphApiError(
                'CPH_SHIFTED',
                `listing shifted between pages ${page - 1} and ${page}: records before offset ${page * stride} were created or deleted meanwhile`,
              ),
            );
            return;
          }
          body = items.slice(1);
        }
        const last = items.at(-1);
        overlapId = last === undefined ? undefined : idOf(last);
        const fresh = unseen(body, idOf, seen);
        duplicates += body.length - fresh.length;
        try {
          consume(fresh);
        } catch (err) {
          fail(err);
          return;
        }
      }
    };

    const settle = (): void => {
      if (inFlight > 0) return; // wait for every request, aborted ones too: nothing is left running
      options.signal?.removeEventListener('abort', onOuterAbort);
      if (failure !== undefined || aborted !== undefined) return reject(failure ?? aborted);
      if (firstShort === Number.POSITIVE_INFINITY) {
        return reject(
          new CphApiError('CPH_PAGE_CAP', `listing still had full pages after ${maxPages} pages of ${pageSize}; raise poll.max_pages if the fleet is that large`),
        );
      }
      resolve({ pages: firstShort + 1, items: seen.size, duplicates });
    };

    const launch = (): void => {
      const width = options.firstPageAlone && consumed === 0 ? 1 : window;
      while (failure === undefined && aborted === undefined && inFlight < width && next <= Math.min(firstShort, horizon) && next < maxPages) {
        start(next++);
      }
      settle();
    };

    const start = (page: number): void => {
      const controller = new AbortController();
      controllers.set(page, controller);
      inFlight++;
      fetchPage(page * stride, pageSize, controller.signal).then(
        (items) => {
          inFlight--;
          controllers.delete(page);
          if (failure === undefined && page <= firstShort) {
            if (items.length > pageSize) {
              // Neither a full page nor the end: the API ignored `limit`, and nothing it says about the listing can be trusted.
              fail(new CphApiError('CPH_BAD_RESPONSE', `page at offset ${page * stride} has ${items.length} items, more than the limit of ${pageSize}`));
            } else {
              if (items.length < pageSize) {
                firstShort = page;
                abortAll(notNeeded('beyond the end of the listing'), page + 1);
                for (const p of waiting.keys()) if (p > page) waiting.delete(p);
              }
              // The listing is longer than last time: look further, twice as far.
              if (items.length === pageSize && page >= horizon) horizon = 2 * page + 1;
              waiting.set(page, items);
              consumeInOrder();
            }
          }
          launch();
        },
        (err: unknown) => {
          inFlight--;
          controllers.delete(page);
          // A page beyond the end of the listing may fail or be aborted: nobody needs it.
          if (page <= firstShort) fail(err);
          launch();
        },
      );
    };

    launch();
  });
}

/**
 * Runs a listing, and once more if it shifted under it (`CPH_SHIFTED`, see `listPages`). A second
 * shift fails as `CPH_INCONSISTENT`: the caller publishes nothing new for that listing this time.
 * `attempt` must start from scratch each time (a fresh consumer): what the shifted attempt consumed
 * is a mix of before and after, and must be dropped.
 */
export async function listConsistently<R>(attempt: (n: 1 | 2) => Promise<R>, onShift?: (err: CphApiError) => void): Promise<R> {
  try {
    return await attempt(1);
  } catch (err) {
    if (!isShift(err)) throw err;
    onShift?.(err);
  }
  try {
    return await attempt(2);
  } catch (err) {
    if (!isShift(err)) throw err;
    throw new CphApiError('CPH_INCONSISTENT', `listing shifted twice in a row (${err.message}); nothing new published for it this time`, { cause: err });
  }
}

/** The items whose id is not in `seen` yet, in order, adding their ids to it: what a listing has not delivered before. */
export function unseen<T>(items: readonly T[], idOf: (item: T) => string, seen: Set<string>): T[] {
  return items.filter((item) => {
    const id = idOf(item);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function isShift(err: unknown): err is CphApiError {
  return isCphApiError(err) && err.code === 'CPH_SHIFTED';
}

/** Lists every item into one array (see `listPages`), listing again once if it shifted. */
export function listAllPages<T>(fetchPage: FetchPage<T>, idOf: (item: T) => string, options: PagingOptions): Promise<Listing<T>> {
  return listConsistently(async () => {
    const items: T[] = [];
    const summary = await listPages(fetchPage, idOf, options, (page) => {
      for (const item of page) items.push(item);
    });
    return { items, pages: summary.pages, duplicates: summary.duplicates };
  });
}
