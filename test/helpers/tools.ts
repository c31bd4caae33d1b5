import { existsSync } from 'node:fs';
import type { TestContext } from 'vitest';

/**
 * Path of an external binary the tests use (promtool, prometheus, alertmanager), or undefined.
 * Where it is missing the test is skipped with a message, except in CI (`CI` set), where
 * `.ci/run` installs it and a missing binary is a failure.
 */
export function requireBinary(ctx: TestContext, name: string, candidates: string[]): string | undefined {
  const found = candidates.find((p) => existsSync(p));
  if (found) return found;
  if (process.env['CI']) throw new Error(`${name} is required in CI but was not found at ${candidates.join(' or ')}`);
  ctx.skip(`${name} not installed (apt-get install prometheus); skipped outside CI`);
  return undefined;
}

export function promtool(ctx: TestContext): string | undefined {
  return requireBinary(ctx, 'promtool', ['/usr/bin/promtool', '/usr/local/bin/promtool']);
}
