import { CphApiError } from './errors.js';
import { unseen } from './paging.js';
import type { CountedPage } from './types.js';

export interface CountedPagingOptions {
  /** Items per page: the API's `limit`, within the API's own range (`ListApi.maxLimit`). */
  pageSize: number;
  /** A total that needs more pages than this fails the listing (`CPH_PAGE_CAP`) before they are sent. */
  maxPages: number;
  signal?: AbortSignal | undefined;
}

/** One page: the API's total (`count`) as of this page's answer, and its items. */
export type FetchCountedPage<T> = (offset: number, limit: number, signal: AbortSignal) => Promise<Pick<CountedPage<T>, 'count' | 'items'>>;

export interface CountedListingSummary {
  /** Pages requested, the first included. */
  pages: number;
  /** Distinct items handed to the consumer; equals `total`. */
  items: number;
  total: number;
}

/** What the total and the delivered items disagreed on in a listing that cannot be trusted. */
export interface Disagreement {
  /** The total of the first page. */
  total: number;
  /** Totals other pages reported, when they differed from the first. */
  laterTotals: number[];
  /** Distinct items delivered. */
  delivered: number;
  /** Items delivered twice (the listing moved between two page requests). */
  duplicates: number;
}

/** A listing whose pages disagree with its total: listed again once, then `CPH_INCONSISTENT`. */
export class ShiftedListingError extends CphApiError {
  constructor(readonly disagreement: Disagreement) {
    const d = disagreement;
    super(
      'CPH_SHIFTED',
      `listing disagrees with its total: ${d.total} announced${d.laterTotals.length > 0 ? ` (later ${[...new Set(d.laterTotals)].join(', ')})` : ''}, ` +
        `${d.delivered} distinct delivered, ${d.duplicates} duplicates`,
    );
  }
}

/**
 * Lists every item of an offset/limit API that reports its total (`count`), as ListCloudPhoneServers
 * and ListCloudPhones do. The first page comes alone: it proves the credentials (one failed
 * authentication with a bad key, not one per page) and gives the total. Then every remaining page
 * is requested at once, so a listing costs 2 round trips whatever its size when the caller's
 * concurrency allows; `fetchPage` is where the caller's p-limit and token bucket bound them.
 *
 * Pages are handed to `consume` as they arrive, in any order, without items already delivered
 * (de-duplicated by ID), so a large listing is aggregated while it arrives and never held.
 * The listing resolves only when it is known complete: every page reported the first page's total
 * and exactly that many distinct items came. Records are created and deleted all the time, and
 * offset paging then skips or repeats records at page boundaries; a listing whose pages disagree
 * with the total fails with `ShiftedListingError` (`CPH_SHIFTED`, see `listCountedConsistently`).
 * A page longer than `limit` fails at once as a bad response. The number of requests is fixed by
 * the first page's total, so it never loops. On failure the caller must discard what it consumed.
 */
export async function listCountedPages<T>(
  fetchPage: FetchCountedPage<T>,
  idOf: (item: T) => string,
  options: CountedPagingOptions,
  consume: (items: T[]) => void,
): Promise<CountedListingSummary> {
  const { pageSize, maxPages, signal } = options;
  if (!(pageSize >= 1 && maxPages >= 1)) throw new RangeError('pageSize and maxPages must be >= 1');
  const seen = new Set<string>();
  let duplicates = 0;
  const laterTotals: number[] = [];

  const accept = (page: number, result: Pick<CountedPage<T>, 'count' | 'items'>): void => {
    if (result.items.length > pageSize) {
      throw new CphApiError('CPH_BAD_RESPONSE', `page at offset ${page * pageSize} has ${result.items.length} items, more than the limit of ${pageSize}`);
    }
    const fresh = unseen(result.items, idOf, seen);
    duplicates += result.items.length - fresh.length;
    consume(fresh);
  };

  const controllers: AbortController[] = [];
  const abortAll = (reason: unknown): void => {
    for (const c of controllers) c.abort(reason);
  };
  const onOuterAbort = (): void => abortAll(signal?.reason ?? new CphApiError('CPH_ABORTED', 'listing aborted'));
  signal?.addEventListener('abort', onOuterAbort, { once: true });
  const pageSignal = (): AbortSignal => {
    const controller = new AbortController();
    controllers.push(controller);
    if (signal?.aborted) controller.abort(signal.reason);
    return controller.signal;
  };

  try {
    const first = await fetchPage(0, pageSize, pageSignal());
    accept(0, first);
    const total = first.count;
    const pages = Math.max(1, Math.ceil(total / pageSize));
    if (pages > maxPages) {
      throw new CphApiError('CPH_PAGE_CAP', `the listing has ${total} items, more than ${maxPages} pages of ${pageSize}; raise poll.max_pages if the estate is that large`);
    }
    let failure: { err: unknown } | undefined;
    const rest: Promise<void>[] = [];
    for (let page = 1; page < pages; page++) {
      rest.push(
        fetchPage(page * pageSize, pageSize, pageSignal()).then(
          (result) => {
            if (failure) return;
            if (result.count !== total) laterTotals.push(result.count);
            try {
              accept(page, result);
            } catch (err) {
              failure = { err };
              abortAll(err);
            }
          },
          (err: unknown) => {
            // The first failure says why; the pages it aborted fail with its reason.
            if (failure) return;
            failure = { err };
            abortAll(err);
          },
        ),
      );
    }
    // Every request settles before the listing does: nothing is left running.
    await Promise.all(rest);
    if (failure) throw failure.err;
    if (laterTotals.length > 0 || seen.size !== total || duplicates > 0) {
      throw new ShiftedListingError({ total, laterTotals, delivered: seen.size, duplicates });
    }
    return { pages, items: seen.size, total };
  } finally {
    signal?.removeEventListener('abort', onOuterAbort);
  }
}

/**
 * Runs a listing, and once more when it disagreed with its total (`CPH_SHIFTED`). A second
 * disagreement fails as `CPH_INCONSISTENT`: nothing new is published for the listing this time.
 * `attempt` must start from scratch (a fresh consumer): what the first attempt consumed is a mix
 * of before and after and must be dropped. `onShift` hears of every disagreement, to count it.
 */
export async function listCountedConsistently<R>(attempt: (n: 1 | 2) => Promise<R>, onShift?: (err: ShiftedListingError) => void): Promise<R> {
  try {
    return await attempt(1);
  } catch (err) {
    if (!(err instanceof ShiftedListingError)) throw err;
    onShift?.(err);
  }
  try {
    return await attempt(2);
  } catch (err) {
    if (!(err instanceof ShiftedListingError)) throw err;
    onShift?.(err);
    throw new CphApiError('CPH_INCONSISTENT', `${err.message}, twice in a row; nothing new published for it this time`, { cause: err });
  }
}
