import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';

/*
 * `helm install` must work with the chart's defaults: the release workflow publishes the image to the
 * repository's GitHub container registry on every version tag, and the chart's default image is that one,
 * at the chart's appVersion. The workflow's version check is run here as the workflow runs it.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const workflow = YAML.parse(readFileSync(path.join(ROOT, '.github/workflows/release.yml'), 'utf8')) as {
  on: { push: { tags: string[] } };
  jobs: Record<string, { permissions: Record<string, string>; steps: { name?: string; run?: string; uses?: string }[] }>;
};
const values = YAML.parse(readFileSync(path.join(ROOT, 'helm/cph-exporter/values.yaml'), 'utf8')) as { image: { repository: string; tag: string } };
const chart = YAML.parse(readFileSync(path.join(ROOT, 'helm/cph-exporter/Chart.yaml'), 'utf8')) as { appVersion: string };
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
/** The project's home, as the alerts' runbook links name it (prometheus/cph-exporter.rules.yml). */
const HOME = /https:\/\/github\.com\/([\w.-]+\/[\w.-]+)\/blob\//.exec(readFileSync(path.join(ROOT, 'prometheus/cph-exporter.rules.yml'), 'utf8'))![1]!;

describe('published image', () => {
  const job = workflow.jobs['image']!;
  const step = (name: string) => job.steps.find((s) => s.name === name);

  it('is built and pushed to ghcr.io/<owner>/<repository> when a version tag is pushed', () => {
    expect(workflow.on.push.tags).toEqual(['v*.*.*']);
    expect(job.permissions).toEqual({ contents: 'read', packages: 'write' });
    const push = step('docker push')?.run ?? '';
    expect(push).toContain('docker login ghcr.io');
    expect(push).toContain('docker push "${{ steps.version.outputs.image }}:${{ steps.version.outputs.version }}"');
    expect(step('Tag, package.json and chart agree on the version')?.run).toContain('image="ghcr.io/${GITHUB_REPOSITORY,,}"');
    // The image is checked before it is pushed, as in ci.yml.
    const names = job.steps.map((s) => s.name);
    expect(names.indexOf('Smoke test (read-only, non-root, two shards against the simulator)')).toBeLessThan(names.indexOf('docker push'));
    for (const s of job.steps.filter((s) => s.uses)) expect(s.uses, 'actions pinned by commit').toMatch(/@[0-9a-f]{40}$/);
  });

  it("is the chart's default: the project's own repository, at the chart's appVersion", () => {
    expect(values.image.repository).toBe(`ghcr.io/${HOME.toLowerCase()}`);
    expect(values.image.tag).toBe('');
    expect(chart.appVersion).toBe(pkg.version);
  });

  it.each([
    [`v${pkg.version}`, 0],
    ['v99.0.0', 1],
  ])('the version check passes tag %s with exit code %i', (tag, code) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cph-release-'));
    try {
      const output = path.join(dir, 'output');
      const run = spawnSync('bash', ['-e', '-c', step('Tag, package.json and chart agree on the version')!.run!], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: process.env['PATH'], GITHUB_REF_NAME: tag, GITHUB_REPOSITORY: HOME, GITHUB_OUTPUT: output },
      });
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(code);
      if (code === 0) {
        expect(readFileSync(output, 'utf8')).toBe(`version=${pkg.version}\nimage=ghcr.io/${HOME.toLowerCase()}\n`);
        expect(run.stdout).not.toContain('::warning::');
      } else {
        expect(run.stdout).toContain('::error::');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
