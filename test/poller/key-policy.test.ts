import { describe, expect, it } from 'vitest';
import type { AttemptAnswer } from '../../src/cph/client.js';
import { isKeyRejection } from '../../src/cph/errors.js';
import type { Credentials } from '../../src/cph/types.js';
import { KeyHeldError, KeyPolicy, PROBE_PRIORITY } from '../../src/poller/key-policy.js';

/*
 * The per-key policy on its own, with a fake clock: who may send, when, and what an answer does to
 * the key. The exporter-level tests (test/resilience/) show the same against the simulator.
 */

const KEY: Credentials = { accessKey: 'AK', secretKey: 'SK' };
const BACKOFF = 60_000;
const OK: AttemptAnswer = { status: 200 };
const SIGNATURE: AttemptAnswer = { status: 401, apiErrorCode: 'APIGW.0301', apiErrorMessage: 'verify aksk signature fail' };
const TOKEN_OTHER_REGION: AttemptAnswer = { status: 401, apiErrorCode: 'APIG.0307', apiErrorMessage: 'The token must be updated.' };

function setup() {
  const clock = { ms: 1_000_000 };
  const policy = new KeyPolicy('', BACKOFF, () => clock.ms);
  policy.beginPoll(KEY);
  /** Starts an attempt; `sent` says once it was let through, `answer` ends it. */
  const attempt = (priority: number = PROBE_PRIORITY.other) => {
    const state = { sent: false, refused: undefined as unknown, answer: (_a: AttemptAnswer | undefined) => {} };
    const entered = policy.gateFor(priority).enter();
    entered.then(
      (answer) => {
        state.sent = true;
        state.answer = answer;
      },
      (err: unknown) => {
        state.refused = err;
      },
    );
    return state;
  };
  return { clock, policy, attempt };
}

/** Lets the policy's dispatch (setImmediate) and the promise callbacks run. */
const settle = () => new Promise((r) => setImmediate(() => setImmediate(r)));

describe('KeyPolicy', () => {
  it('sends one probe first, to a target that succeeded last time, and the rest after an authenticated answer', async () => {
    const { attempt } = setup();
    const others = [attempt(), attempt()];
    const healthy = attempt(PROBE_PRIORITY.succeededLastTime);
    await settle();
    expect(healthy.sent).toBe(true);
    expect(others.map((a) => a.sent)).toEqual([false, false]);
    healthy.answer(OK);
    await settle();
    expect(others.map((a) => a.sent)).toEqual([true, true]);
  });

  it('never hands the probe on because time passed, only after an answer that proves nothing', async () => {
    const { clock, attempt } = setup();
    const probe = attempt();
    const waiting = attempt();
    await settle();
    clock.ms += 3_600_000; // an hour without an answer
    await settle();
    expect([probe.sent, waiting.sent]).toEqual([true, false]);
    probe.answer({ status: 503 });
    await settle();
    expect(waiting.sent).toBe(true); // the next probe: still one at a time
    const third = attempt();
    await settle();
    expect(third.sent).toBe(false);
    waiting.answer(undefined); // no answer at all (network error, timeout)
    await settle();
    expect(third.sent).toBe(true);
  });

  it('a 401 for one target backs off that target only; the key is blocked at the second 401 in a row', async () => {
    const { policy, attempt } = setup();
    const a = attempt();
    await settle();
    a.answer(TOKEN_OTHER_REGION);
    expect(policy.blockedUntil()).toBe(0);
    const b = attempt();
    await settle();
    expect(b.sent).toBe(true); // the probe is handed on
    b.answer(TOKEN_OTHER_REGION);
    expect(policy.blockedUntil()).toBeGreaterThan(0);
  });

  it('any authenticated answer between two 401s resets the run, as the gateway counter does', async () => {
    for (const status of [200, 400, 403, 404]) {
      const { policy, attempt } = setup();
      const first = attempt();
      await settle();
      first.answer(TOKEN_OTHER_REGION);
      const proof = attempt();
      await settle();
      proof.answer({ status });
      const after = attempt();
      await settle();
      after.answer(TOKEN_OTHER_REGION);
      expect(policy.blockedUntil(), String(status)).toBe(0);
    }
  });

  it('a 401 whose body says the key is bad blocks the key at once; waiting requests are refused, nothing more is sent', async () => {
    const { clock, policy, attempt } = setup();
    const probe = attempt();
    const waiters = [attempt(), attempt()];
    await settle();
    probe.answer(SIGNATURE);
    await settle();
    expect(policy.blockedUntil()).toBe(clock.ms + BACKOFF);
    for (const w of waiters) {
      expect(w.sent).toBe(false);
      expect(w.refused).toBeInstanceOf(KeyHeldError);
    }
    const later = attempt();
    await settle();
    expect(later.refused).toBeInstanceOf(KeyHeldError);
  });

  it('doubles the block for each block in a row; at a run of 3 holds the key until its credentials change, however long it waits', async () => {
    const { clock, policy, attempt } = setup();
    const windows: number[] = [];
    for (let i = 0; i < 3; i++) {
      policy.beginPoll(KEY);
      const probe = attempt();
      await settle();
      probe.answer(SIGNATURE);
      windows.push((policy.blockedUntil() - clock.ms) / BACKOFF);
      if (Number.isFinite(policy.blockedUntil())) clock.ms = policy.blockedUntil();
    }
    expect(windows).toEqual([1, 2, Number.POSITIVE_INFINITY]);
    // A day later, the same credentials: still held, and nothing is sent.
    clock.ms += 24 * 3600_000;
    expect(policy.beginPoll(KEY)).toBe(false);
    expect(policy.blockedUntil()).toBe(Number.POSITIVE_INFINITY);
    await expect(policy.gateFor(PROBE_PRIORITY.other).enter()).rejects.toThrow(/until its credentials change/);
    // Other credentials lift it at once.
    expect(policy.beginPoll({ ...KEY, secretKey: 'SK2' })).toBe(true);
    expect(policy.blockedUntil()).toBe(0);
  });

  it('a rotated secret of the same AK lifts the block but keeps the run: the gateway counts failures per AK', async () => {
    const { policy, attempt } = setup();
    const first = attempt();
    await settle();
    first.answer(TOKEN_OTHER_REGION);
    const second = attempt();
    await settle();
    second.answer(TOKEN_OTHER_REGION);
    expect(policy.blockedUntil()).toBeGreaterThan(0);
    // Same AK, new SK: tried at once, but its first 401 continues the gateway's run of 2 and blocks again.
    expect(policy.beginPoll({ ...KEY, secretKey: 'SK2' })).toBe(true);
    expect(policy.blockedUntil()).toBe(0);
    const third = attempt();
    await settle();
    third.answer(TOKEN_OTHER_REGION);
    expect(policy.blockedUntil()).toBeGreaterThan(0);
    // A new AK has a run of its own.
    policy.beginPoll({ accessKey: 'AK2', secretKey: 'SK3' });
    const fourth = attempt();
    await settle();
    fourth.answer(TOKEN_OTHER_REGION);
    expect(policy.blockedUntil()).toBe(0);
  });

  it('a new poll needs a new probe: a key can be revoked between polls', async () => {
    const { policy, attempt } = setup();
    const probe = attempt();
    await settle();
    probe.answer(OK);
    const free = attempt();
    await settle();
    expect(free.sent).toBe(true);
    policy.beginPoll(KEY);
    const [p2, w2] = [attempt(), attempt()];
    await settle();
    expect([p2.sent, w2.sent]).toEqual([true, false]);
  });

  it('a waiting request whose poll is aborted leaves the queue', async () => {
    const { policy, attempt } = setup();
    const probe = attempt();
    const controller = new AbortController();
    const entered = policy.gateFor(PROBE_PRIORITY.other).enter(controller.signal);
    await settle();
    controller.abort(new Error('deadline'));
    await expect(entered).rejects.toThrow('deadline');
    probe.answer({ status: 503 }); // nobody left to hand the probe to
    const next = attempt();
    await settle();
    expect(next.sent).toBe(true);
  });
});

describe('isKeyRejection', () => {
  it.each([
    ['APIGW.0301', 'verify aksk signature fail', true],
    ['APIG.0301', 'verify aksk signature fail', true],
    ['APIGW.0301', 'Get secretKey failed, ak not exist', true],
    ['APIGW.0301', 'AK access failed to reach the limit,forbidden', true],
    ['APIGW.0301', 'token expires', false],
    ['APIG.0307', 'The token must be updated.', false],
    ['APIGW.0302', 'The IAM user is not authorized to access the API.', false],
    [undefined, undefined, false],
  ])('%s "%s" -> %s', (code, message, expected) => {
    expect(isKeyRejection(code, message)).toBe(expected);
  });
});
