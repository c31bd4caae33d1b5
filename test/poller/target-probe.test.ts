import { describe, expect, it } from 'vitest';
import { CphApiError } from '../../src/cph/errors.js';
import { TargetProbe } from '../../src/poller/target-probe.js';

/** A request that answers when told to, recording how many were out at once. */
function harness() {
  const out = { now: 0, max: 0, sent: 0 };
  const pending: Array<(result: 'ok' | number) => void> = [];
  const send = () =>
    new Promise<string>((resolve, reject) => {
      out.now++;
      out.sent++;
      out.max = Math.max(out.max, out.now);
      pending.push((result) => {
        out.now--;
        if (result === 'ok') resolve('ok');
        else reject(new CphApiError(result === 401 ? 'CPH_AUTH' : 'CPH_SERVER', `HTTP ${result}`, { status: result }));
      });
    });
  const tick = () => new Promise((r) => setImmediate(r));
  return { out, pending, send, tick };
}

describe('TargetProbe', () => {
  it('one request out until an answer proves the target, then all at once', async () => {
    const probe = new TargetProbe();
    const h = harness();
    const all = Promise.all([1, 2, 3].map(() => probe.run(h.send)));
    await h.tick();
    expect(h.out.sent).toBe(1);
    h.pending.shift()?.('ok');
    await h.tick();
    await h.tick();
    expect(h.out.max).toBe(2);
    for (const answer of h.pending.splice(0)) answer('ok');
    await expect(all).resolves.toEqual(['ok', 'ok', 'ok']);
  });

  it('a 401 refuses the waiting requests without sending them: one failed authentication', async () => {
    const probe = new TargetProbe();
    const h = harness();
    const all = [1, 2, 3].map(() => probe.run(h.send).catch((e: CphApiError) => e.status));
    await h.tick();
    h.pending.shift()?.(401);
    expect(await Promise.all(all)).toEqual([401, 401, 401]);
    expect(h.out.sent).toBe(1);
  });

  it('an answer that proves nothing (5xx) hands the probe to the next request, still one at a time', async () => {
    const probe = new TargetProbe();
    const h = harness();
    const all = [1, 2, 3].map(() => probe.run(h.send).catch((e: CphApiError) => e.status));
    await h.tick();
    h.pending.shift()?.(503);
    await h.tick();
    await h.tick();
    expect(h.out.sent).toBe(2);
    expect(h.out.max).toBe(1);
    h.pending.shift()?.('ok');
    await h.tick();
    await h.tick();
    for (const answer of h.pending.splice(0)) answer('ok');
    expect(await Promise.all(all)).toEqual([503, 'ok', 'ok']);
  });

  it('a waiting request leaves when its own signal aborts', async () => {
    const probe = new TargetProbe();
    const h = harness();
    void probe.run(h.send).catch(() => undefined);
    const controller = new AbortController();
    const waiting = probe.run(h.send, controller.signal);
    controller.abort(new CphApiError('CPH_TIMEOUT', 'deadline'));
    await expect(waiting).rejects.toMatchObject({ code: 'CPH_TIMEOUT' });
    expect(h.out.sent).toBe(1);
    h.pending.shift()?.('ok');
  });
});
