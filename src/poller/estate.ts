import type { Target } from '../config/load.js';
import { type ListApi, PHONE_SERVERS_API, PHONES_API } from '../cph/apis.js';
import { listCountedConsistently, listCountedPages, type ShiftedListingError } from '../cph/counted-paging.js';
import type { CountedPage, PageQuery } from '../cph/types.js';
import { PhoneSeriesBuilder, PhoneServerSeriesBuilder, type ResourceSeries } from '../metrics/estate.js';

/** How the poller lets a listing send its page requests, and what it hears back. */
export interface EstateListingContext {
  target: Target;
  /** Sends one page request (through the poll's p-limit and the key's policy), with the page's own signal. */
  send<R>(api: ListApi<R>, query: PageQuery, signal: AbortSignal): Promise<R>;
  maxPages: number;
  signal?: AbortSignal | undefined;
  /** A listing disagreed with its total (it is listed again once): count it. */
  onShift?: ((err: ShiftedListingError) => void) | undefined;
}

export interface EstateListing {
  series: ResourceSeries;
  /** Pages of the listing that was published (the last attempt). */
  pages: number;
  /** Attempts made: 2 when the first disagreed with its total. */
  attempts: number;
}

/**
 * Lists one counted resource of a target into its series: pages at the API's largest `limit`
 * (with a total, the page size only sets the number of requests), aggregated as they arrive,
 * listed again once when the listing disagreed with its total (a fresh builder each time).
 */
async function listCounted<T>(
  ctx: EstateListingContext,
  api: ListApi<CountedPage<T>>,
  idOf: (item: T) => string,
  newBuilder: () => { add(items: readonly T[]): unknown; finish(): ResourceSeries },
): Promise<EstateListing> {
  let attempts = 0;
  return listCountedConsistently(async (n) => {
    attempts = n;
    const builder = newBuilder();
    const summary = await listCountedPages<T>(
      async (offset, limit, signal) => ctx.send(api, { offset, limit }, signal),
      idOf,
      { pageSize: api.maxLimit, maxPages: ctx.maxPages, signal: ctx.signal },
      (items) => builder.add(items),
    );
    return { series: builder.finish(), pages: summary.pages, attempts };
  }, ctx.onShift);
}

/** ListCloudPhoneServers into `cph_phone_servers` and `cph_phone_server_info`. */
export function listPhoneServers(ctx: EstateListingContext): Promise<EstateListing> {
  return listCounted(ctx, PHONE_SERVERS_API, (s) => s.server_id, () => new PhoneServerSeriesBuilder(ctx.target));
}

/** ListCloudPhones into `cph_phones` (and `cph_phone_info` when `withInfo`); the phones themselves are never held. */
export function listPhones(ctx: EstateListingContext, withInfo: boolean): Promise<EstateListing> {
  return listCounted(ctx, PHONES_API, (p) => p.phone_id, () => new PhoneSeriesBuilder(ctx.target, withInfo));
}
