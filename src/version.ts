import { readFileSync } from 'node:fs';

function readPackageVersion(): string {
  // src/version.ts and dist/version.js both sit one level below the package root.
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export const VERSION = readPackageVersion();
/** Set at image build time (the Dockerfile passes the git commit); "unknown" in a work tree. */
export const REVISION = process.env['CPH_EXPORTER_REVISION'] ?? 'unknown';
