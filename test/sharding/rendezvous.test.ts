import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { selectShard, shardIndexFromHostname, shardOf, type ShardKey } from '../../src/sharding/rendezvous.js';

const REGIONS = ['cn-north-4', 'cn-east-3', 'cn-south-1', 'cn-southwest-2', 'ap-southeast-1', 'ap-southeast-3', 'la-south-2'];

/** 1,000 distinct (project_id, region) pairs, the same on every run: 32-hex project ids like real ones. */
function generateTargets(n: number): ShardKey[] {
  return Array.from({ length: n }, (_, i) => ({
    project_id: createHash('md5').update(`project-${i}`).digest('hex'),
    region: REGIONS[i % REGIONS.length] ?? 'cn-north-4',
  }));
}

const TARGETS = generateTargets(1000);
const COUNTS = [1, 2, 3, 4, 5, 6, 7, 8];

describe('rendezvous sharding over 1,000 targets', () => {
  it('generates 1,000 distinct targets', () => {
    expect(new Set(TARGETS.map((t) => `${t.project_id}/${t.region}`)).size).toBe(1000);
  });

  it.each(COUNTS)('with %i shard(s), every target is owned by exactly one shard', (count) => {
    const owners = new Map<ShardKey, number[]>();
    for (let index = 0; index < count; index++) {
      for (const target of selectShard(TARGETS, { count, index })) {
        owners.set(target, [...(owners.get(target) ?? []), index]);
      }
    }
    expect(owners.size).toBe(TARGETS.length);
    for (const target of TARGETS) {
      const shards = owners.get(target);
      expect(shards, `${target.project_id}/${target.region}`).toHaveLength(1);
      expect(shards?.[0]).toBe(shardOf(target, count));
    }
  });

  it.each(COUNTS)('with %i shard(s), each shard owns between 0.5/N and 1.5/N of the targets', (count) => {
    for (let index = 0; index < count; index++) {
      const share = selectShard(TARGETS, { count, index }).length / TARGETS.length;
      expect(share).toBeGreaterThan(0.5 / count);
      expect(share).toBeLessThan(1.5 / count);
    }
  });

  it.each(COUNTS)('growing from %i to N+1 shards moves at most 1.5/(N+1) of the targets, all to the new shard', (n) => {
    const moved = TARGETS.filter((t) => shardOf(t, n) !== shardOf(t, n + 1));
    expect(moved.length / TARGETS.length).toBeLessThanOrEqual(1.5 / (n + 1));
    // Rendezvous hashing never reshuffles between the old shards: a target moves only to the new one.
    for (const target of moved) expect(shardOf(target, n + 1)).toBe(n);
  });

  it('keeps the original order and returns a copy with one shard', () => {
    const all = selectShard(TARGETS, { count: 1, index: 0 });
    expect(all).toEqual(TARGETS);
    expect(all).not.toBe(TARGETS);
    const part = selectShard(TARGETS, { count: 4, index: 2 });
    const positions = part.map((t) => TARGETS.indexOf(t));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });
});

describe('stability', () => {
  // Pinned once, and cross-checked with an independent implementation of the documented algorithm
  // (Python hashlib: sha256("<shard>\0<project_id>\0<region>"), first 8 bytes big-endian, highest wins).
  // A change here reassigns targets on every running estate at upgrade time: that is a breaking
  // change (series move to another pod), never a refactoring.
  it.each([
    [{ project_id: '0123456789abcdef0123456789abcdef', region: 'cn-north-4' }, [0, 1, 2, 2, 2, 2, 2, 7]],
    [{ project_id: '0123456789abcdef0123456789abcdef', region: 'ap-southeast-1' }, [0, 1, 1, 1, 1, 1, 1, 1]],
    [{ project_id: 'fedcba9876543210fedcba9876543210', region: 'cn-east-3' }, [0, 1, 2, 2, 2, 2, 2, 2]],
    [{ project_id: 'a', region: 'b' }, [0, 0, 0, 0, 0, 5, 5, 7]],
  ])('assigns %o to the pinned shard for counts 1..8', (target, expected) => {
    expect(COUNTS.map((count) => shardOf(target, count))).toEqual(expected);
  });

  it('does not confuse the field boundary', () => {
    const results = COUNTS.map((c) => [shardOf({ project_id: 'ab', region: 'c' }, c), shardOf({ project_id: 'a', region: 'bc' }, c)]);
    expect(results.some(([x, y]) => x !== y)).toBe(true);
  });
});

describe('argument checks', () => {
  it.each([0, -1, 1.5, Number.NaN])('rejects shard count %s', (count) => {
    expect(() => shardOf({ project_id: 'p', region: 'r' }, count)).toThrow(/shard count must be an integer >= 1/);
    expect(() => selectShard([], { count, index: 0 })).toThrow(/shard count must be an integer >= 1/);
  });

  it.each([-1, 3, 4, 0.5])('rejects shard index %s of 3', (index) => {
    expect(() => selectShard([], { count: 3, index })).toThrow(/shard index must be an integer in \[0, 2\] for shard count 3/);
  });
});

describe('shardIndexFromHostname', () => {
  it.each([
    ['cph-exporter-0', 0],
    ['cph-exporter-3', 3],
    ['my-release-cph-exporter-12', 12],
    ['cph-exporter-3.cph-exporter-headless.monitoring.svc.cluster.local', 3],
    ['  cph-exporter-7\n', 7],
  ])('reads %j as %i', (hostname, index) => {
    expect(shardIndexFromHostname(hostname)).toBe(index);
  });

  it.each(['cph-exporter', 'cph-exporter-', 'cph-exporter-7f9c8d6b5-x2k4q', '', 'localhost', '3'])('rejects %j', (hostname) => {
    expect(() => shardIndexFromHostname(hostname)).toThrow(/expected a StatefulSet pod name ending in -<ordinal>/);
  });
});
