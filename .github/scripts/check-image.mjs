// Runs inside the built image (`docker run --entrypoint node IMAGE /check/check-image.mjs`) and
// fails when the runtime stage holds anything it should not: TypeScript sources, tests, a dev
// dependency (any package the lockfile marks dev-only), npm itself, or files the runtime user may
// write. Plain JavaScript: the image has node and nothing else to run it with.
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const APP = process.argv[2] ?? '/app';
const problems = [];

function walk(dir, visit) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, visit);
    else visit(full);
  }
}

for (const forbidden of ['src', 'test', 'tsconfig.json', 'tsconfig.build.json', 'helm', '.git']) {
  if (existsSync(path.join(APP, forbidden))) problems.push(`${forbidden} is in the image`);
}
if (!existsSync(path.join(APP, 'dist', 'main.js'))) problems.push('dist/main.js is missing');
if (existsSync(path.join(APP, 'dist'))) {
  walk(path.join(APP, 'dist'), (file) => {
    if (file.endsWith('.ts') && !file.endsWith('.d.ts')) problems.push(`TypeScript source in dist: ${file}`);
  });
}

const pkg = JSON.parse(readFileSync(path.join(APP, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(path.join(APP, 'package-lock.json'), 'utf8'));
for (const name of Object.keys(pkg.devDependencies ?? {})) {
  if (existsSync(path.join(APP, 'node_modules', name))) problems.push(`devDependency ${name} is installed`);
}
let devOnly = 0;
for (const [where, meta] of Object.entries(lock.packages ?? {})) {
  if (where === '' || meta.dev !== true) continue;
  devOnly++;
  if (existsSync(path.join(APP, where))) problems.push(`dev-only package ${where} is installed`);
}
if (devOnly === 0) problems.push('package-lock.json marks no package dev-only: cannot tell dev from production dependencies');
for (const name of Object.keys(pkg.dependencies ?? {})) {
  if (!existsSync(path.join(APP, 'node_modules', name))) problems.push(`dependency ${name} is missing`);
}

for (const tool of ['/usr/local/bin/npm', '/usr/local/bin/npx', '/usr/local/lib/node_modules/npm']) {
  if (existsSync(tool)) problems.push(`${tool} is in the image`);
}

if (typeof process.getuid === 'function' && process.getuid() === 0) problems.push('runs as root');
for (const dir of [APP, path.join(APP, 'dist'), path.join(APP, 'node_modules')]) {
  try {
    accessSync(dir, constants.W_OK);
    problems.push(`${dir} is writable by uid ${process.getuid?.()}`);
  } catch {
    // Expected: not writable.
  }
}

if (problems.length > 0) {
  console.error(`image check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`image check passed: no sources, ${devOnly} dev-only lockfile packages absent, production dependencies present, non-root, read-only app`);
