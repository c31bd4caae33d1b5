/**
 * `npm run dashboards`: writes the dashboards of grafana/dashboard.ts to grafana/dashboards/.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DASHBOARD_FILE, renderDashboard } from './dashboard.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.join(root, DASHBOARD_FILE);
writeFileSync(file, renderDashboard());
console.log(`wrote ${path.relative(process.cwd(), file)}`);
