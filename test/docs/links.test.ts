import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorsOf, withoutCode } from '../helpers/markdown.js';

/*
 * Every relative link in the README and docs/ points to a file that exists and, with a #fragment,
 * to a heading that exists there (GitHub's anchor rules). Moving a section must not break a link.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const DOCS = ['README.md', 'BENCHMARKS.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

function linksOf(markdown: string): string[] {
  return [...withoutCode(markdown).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((href) => !/^[a-z]+:/i.test(href));
}

describe('links in README.md and docs/', () => {
  it('finds the documents and their links', () => {
    expect(DOCS).toContain('docs/internals.md');
    expect(linksOf(readFileSync(path.join(ROOT, 'README.md'), 'utf8')).length).toBeGreaterThan(10);
  });

  it.each(DOCS)('%s: every relative link and anchor resolves', (doc) => {
    const text = readFileSync(path.join(ROOT, doc), 'utf8');
    const broken: string[] = [];
    for (const href of linksOf(text)) {
      const [file, fragment] = href.split('#') as [string, string | undefined];
      const target = file === '' ? path.join(ROOT, doc) : path.resolve(path.dirname(path.join(ROOT, doc)), file);
      if (!existsSync(target)) {
        broken.push(`${href}: no such file`);
        continue;
      }
      if (fragment !== undefined && statSync(target).isFile() && target.endsWith('.md') && !anchorsOf(readFileSync(target, 'utf8')).has(fragment)) {
        broken.push(`${href}: no heading with that anchor`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('derives anchors as GitHub does', () => {
    expect(anchorsOf('## Protecting /metrics: TLS and basic auth\n## From `npm run demo` to a real Prometheus\n## A\n## A')).toEqual(
      new Set(['protecting-metrics-tls-and-basic-auth', 'from-npm-run-demo-to-a-real-prometheus', 'a', 'a-1']),
    );
  });
});
