/**
 * What `npm run simulator -- --help` prints beyond the flags: the API routes, every admin route with a `curl` example
 * and the fault kinds, all generated from the route tables and the fault catalogue, so the help cannot drift.
 */
import { ADMIN_ROUTES, describeAdminRoutes } from './admin/routes.js';
import { API_ROUTES } from './api/routes.js';
import { FAULT_CATALOGUE, FORBIDDEN_ERRORS, UNAUTHORIZED_ERRORS } from './faults.js';

/** `text` folded into lines of at most `width` characters, each prefixed with `indent`. */
function wrap(text: string, indent: string, width = 118): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(indent + line);
  return lines.join('\n');
}

/** One line per API route, e.g. `GET /v1/{project_id}/cloud-phone/encode-servers (ListEncodeServers)`. */
export function apiRouteLines(): string[] {
  return API_ROUTES.map((r) => `${r.method} ${r.path} (${r.operation}${r.signed === false ? ', unsigned' : ''})`);
}

/** The admin paths, each once, for the start-up banner. */
export function adminPaths(): string[] {
  return [...new Set(ADMIN_ROUTES.map((r) => r.path))];
}

export function simulatorHelp(baseUrl: string): string {
  const faults = Object.entries(FAULT_CATALOGUE)
    .map(([kind, what]) => `  ${kind}\n${wrap(what, '      ')}`)
    .join('\n');
  return [
    'API routes (behind the gateway: rate limit, AK/SK signature, AK lockout; sign with the demo key):',
    ...apiRouteLines().map((l) => `  ${l}`),
    '',
    'Admin routes (no signature, JSON bodies; replace <...> with a value the simulator gave you):',
    describeAdminRoutes(baseUrl),
    '',
    'Fault kinds (POST /_sim/faults; scope with projectId, offset, operation; trigger with count, skip, rate; delay',
    'with delayMs; see docs/CONTRACTS.md, "Simulator"):',
    faults,
    `  "error" of unauthorized: ${Object.keys(UNAUTHORIZED_ERRORS).join(', ')}`,
    `  "error" of forbidden: ${Object.keys(FORBIDDEN_ERRORS).join(', ')}`,
  ].join('\n');
}
