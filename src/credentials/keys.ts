/**
 * The key a target uses: the name of its account, or DEFAULT_KEY for the top-level `credentials:`
 * and HUAWEICLOUD_SDK_* environment (targets without `account`). Everything that must never be
 * shared across accounts (lockout protection, back-off, rate limit) is kept per key.
 */
export type KeyName = string;
export const DEFAULT_KEY: KeyName = '';

export function keyOf(target: { account?: string | undefined }): KeyName {
  return target.account ?? DEFAULT_KEY;
}

/** How a log line or message names a key. */
export function describeKey(key: KeyName): string {
  return key === DEFAULT_KEY ? 'the top-level credentials' : `account "${key}"`;
}
