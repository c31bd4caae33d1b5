/**
 * Sharding of targets over exporter replicas by rendezvous (highest random weight) hashing.
 *
 * Every shard scores every target with a hash of (shard index, project_id, region); the shard with
 * the highest score owns the target. Three properties follow, and the exporter relies on them:
 * - each target is owned by exactly one shard, computed independently by every replica from the
 *   same configuration, with no coordination;
 * - the assignment is stable across processes, restarts, machines and Node versions (SHA-256, not
 *   a seeded or platform-dependent hash);
 * - growing from N to N+1 shards moves only the targets the new shard wins, about 1/(N+1) of
 *   them, and no target moves between two old shards (unlike `hash % N`, which moves most).
 * See Thaler & Ravishankar, "Using name-based mappings to increase hit rates", IEEE/ACM ToN 1998.
 *
 * Pure: no I/O, no clock, no randomness.
 */
import { createHash } from 'node:crypto';

/** The part of a target that decides its shard. */
export interface ShardKey {
  project_id: string;
  region: string;
}

/** Which shard this process is, out of how many. */
export interface ShardSpec {
  count: number;
  index: number;
}

/** A StatefulSet pod is named `<statefulset>-<ordinal>`; a host name may carry a domain after it. */
const POD_ORDINAL = /-(\d+)$/;

/**
 * The weight of `target` on shard `shard`: the first 64 bits of SHA-256 over the shard index and
 * the two key fields, separated by NUL so that ("ab", "c") and ("a", "bc") differ.
 */
function weight(shard: number, target: ShardKey): bigint {
  const digest = createHash('sha256')
    .update(`${shard}\u0000${target.project_id}\u0000${target.region}`)
    .digest();
  return digest.readBigUInt64BE(0);
}

function assertShardCount(shardCount: number): void {
  if (!Number.isSafeInteger(shardCount) || shardCount < 1) {
    throw new RangeError(`shard count must be an integer >= 1, got ${String(shardCount)}`);
  }
}

/** The index (0-based) of the shard that owns `target` when there are `shardCount` shards. */
export function shardOf(target: ShardKey, shardCount: number): number {
  assertShardCount(shardCount);
  let best = 0;
  let bestWeight = -1n;
  for (let shard = 0; shard < shardCount; shard++) {
    const w = weight(shard, target);
    // Strictly greater: on a (2^-64) tie the lower index wins, the same on every replica.
    if (w > bestWeight) {
      best = shard;
      bestWeight = w;
    }
  }
  return best;
}

/** The targets that shard `shard.index` of `shard.count` owns, in their original order. */
export function selectShard<T extends ShardKey>(targets: readonly T[], shard: ShardSpec): T[] {
  assertShardCount(shard.count);
  if (!Number.isSafeInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    throw new RangeError(
      `shard index must be an integer in [0, ${shard.count - 1}] for shard count ${shard.count}, got ${String(shard.index)}`,
    );
  }
  if (shard.count === 1) return [...targets];
  return targets.filter((target) => shardOf(target, shard.count) === shard.index);
}

/**
 * The shard index encoded in a StatefulSet pod's name: `cph-exporter-3` -> 3. A fully qualified
 * host name (`cph-exporter-3.cph-exporter-headless.monitoring.svc`) is accepted; only its first
 * label is read. Throws when the name carries no ordinal, so that a misconfigured pod fails at
 * start-up instead of silently polling the wrong share.
 */
export function shardIndexFromHostname(hostname: string): number {
  const firstLabel = hostname.trim().split('.')[0] ?? '';
  const match = POD_ORDINAL.exec(firstLabel);
  const digits = match?.[1];
  if (digits === undefined) {
    throw new Error(
      `cannot derive a shard index from host name "${hostname}": expected a StatefulSet pod name ending in -<ordinal>, e.g. cph-exporter-3`,
    );
  }
  const index = Number(digits);
  if (!Number.isSafeInteger(index)) {
    throw new Error(`shard index in host name "${hostname}" is out of range`);
  }
  return index;
}
