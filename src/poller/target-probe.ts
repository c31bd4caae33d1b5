import { CphApiError, isCphApiError } from '../cph/errors.js';

/**
 * One target's resources are listed at once, but until an answer proves the target's credentials (any authenticated
 * answer: 2xx, 400, 403, 404), only one of its requests is out. A project-scoped 401 (a token of another region, a
 * project of another account) then costs one failed authentication per poll, not one per resource: the gateway
 * locks a key after 5 consecutive failures, and the key's other targets must not pay for this one. A request that
 * proves nothing (429, 5xx, a network error, a timeout) hands the probe to the next waiting request.
 */
export class TargetProbe {
  private proven = false;
  private refused: CphApiError | undefined;
  /** Settles when the request in flight as the probe has its answer; undefined when none is. */
  private probe: Promise<void> | undefined;

  async run<T>(send: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (;;) {
      if (this.proven) return send();
      if (this.refused) throw new CphApiError('CPH_AUTH', `not sent: ${this.refused.message}`, { status: 401 });
      if (this.probe === undefined) return this.asProbe(send);
      await this.waitFor(this.probe, signal);
    }
  }

  private async asProbe<T>(send: () => Promise<T>): Promise<T> {
    let settle!: () => void;
    this.probe = new Promise<void>((resolve) => {
      settle = resolve;
    });
    try {
      const result = await send();
      this.proven = true;
      return result;
    } catch (err) {
      const status = isCphApiError(err) ? err.status : undefined;
      if (status === 401) this.refused = err as CphApiError;
      else if (status !== undefined && status >= 400 && status < 500 && status !== 429) this.proven = true;
      throw err;
    } finally {
      this.probe = undefined;
      settle();
    }
  }

  private waitFor(probe: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
    if (!signal) return probe;
    signal.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      void probe.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}
