import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * The dependency rule of docs/CONTRACTS.md, checked on the import statements of src/:
 * pure conversion in the middle, I/O at the edges, the simulator never in the exporter.
 */

const SRC = new URL('../src/', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Runtime imports (type-only imports vanish at compile time and couple nothing). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^import\s+(?!type\s)[^'"]*?from\s+'([^']+)'|^import\s+'([^']+)'/gm)].map((m) => (m[1] ?? m[2]) as string);
}

const all = files(SRC).map((f) => ({ file: relative(SRC, f), imports: importsOf(f) }));
const folder = (f: string): string => (f.includes('/') ? (f.split('/')[0] as string) : '.');

describe('architecture', () => {
  it('metrics/ imports no undici, express or node-cron', () => {
    for (const { file, imports } of all.filter((f) => folder(f.file) === 'metrics')) {
      expect(imports.filter((i) => ['undici', 'express', 'node-cron'].includes(i)), file).toEqual([]);
    }
  });

  it('sd/ is pure conversion: no undici, express or node-cron, nothing from cph/, poller/ or server/', () => {
    for (const { file, imports } of all.filter((f) => folder(f.file) === 'sd')) {
      expect(imports.filter((i) => ['undici', 'express', 'node-cron'].includes(i) || /^\.\.\/(cph|poller|server)\//.test(i)), file).toEqual([]);
    }
  });

  it('cph/ imports nothing from metrics/, poller/, server/ or sd/', () => {
    for (const { file, imports } of all.filter((f) => folder(f.file) === 'cph')) {
      expect(imports.filter((i) => /^\.\.\/(metrics|poller|server|sd)\//.test(i)), file).toEqual([]);
    }
  });

  it('nothing outside simulator/ and demo/ imports the simulator', () => {
    for (const { file, imports } of all.filter((f) => !['simulator', 'demo'].includes(folder(f.file)))) {
      expect(imports.filter((i) => i.includes('simulator/')), file).toEqual([]);
    }
  });

  it('config/ only validates: no network client, no credentials reading, no poller', () => {
    for (const { file, imports } of all.filter((f) => folder(f.file) === 'config')) {
      expect(imports.filter((i) => i === 'undici' || /^\.\.\/(credentials|cph|poller|server|metrics)\//.test(i)), file).toEqual([]);
    }
  });

  it('credentials/ imports nothing from metrics/, poller/ or server/ (keys are fetched, never scheduled or served there)', () => {
    for (const { file, imports } of all.filter((f) => folder(f.file) === 'credentials')) {
      expect(imports.filter((i) => /^\.\.\/(metrics|poller|server)\//.test(i)), file).toEqual([]);
    }
  });

  it('poller/ uses credentials/ only through its pure key naming, never a provider implementation', () => {
    for (const { file, imports } of all.filter((f) => folder(f.file) === 'poller')) {
      expect(imports.filter((i) => i.startsWith('../credentials/') && i !== '../credentials/keys.js'), file).toEqual([]);
    }
  });

  it('server/ sees the store and registry, not the client or the poller internals', () => {
    for (const { file, imports } of all.filter((f) => folder(f.file) === 'server')) {
      expect(imports.filter((i) => /^\.\.\/(cph|poller)\//.test(i)), file).toEqual([]);
    }
  });
});
