/**
 * The container image, checked without a Docker engine: dockerfilelint, then the Dockerfile's
 * structure (what the runtime stage may contain), the build context (.dockerignore), and that the
 * code the image runs imports only production dependencies. The CI workflow builds the image and
 * checks the same things on the real file system.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCKERFILE = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  bin?: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}
interface Stage {
  image: string;
  name: string;
  instructions: Instruction[];
}

/** Dockerfile -> instructions: continuation lines joined, comment lines dropped (as BuildKit does). */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buffer = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && buffer === '')) return;
    if (buffer === '') start = i + 1;
    if (line.endsWith('\\')) {
      buffer += `${line.slice(0, -1).trim()} `;
      return;
    }
    buffer += line;
    const [keyword = '', ...rest] = buffer.split(/\s+/);
    out.push({ keyword: keyword.toUpperCase(), args: rest.join(' '), line: start });
    buffer = '';
  });
  return out;
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const [image = '', as, name] = ins.args.split(/\s+/);
      stages.push({ image, name: as?.toUpperCase() === 'AS' && name ? name : String(stages.length), instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(ins);
    }
  }
  return stages;
}

/** COPY's flags and operands: `COPY --from=build /app/dist ./dist` -> { from: 'build', sources: ['/app/dist'], dest: './dist' }. */
function parseCopy(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const operands = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { ...(from === undefined ? {} : { from }), sources: operands.slice(0, -1), dest: operands.at(-1) ?? '' };
}

const INSTRUCTIONS = parseDockerfile(DOCKERFILE);
const STAGES = stagesOf(INSTRUCTIONS);
const RUNTIME = STAGES.at(-1);
const stage = (name: string): Stage | undefined => STAGES.find((s) => s.name === name);
const runtime = (): Stage => {
  if (!RUNTIME) throw new Error('Dockerfile has no FROM');
  return RUNTIME;
};
const ofKind = (s: Stage, keyword: string): Instruction[] => s.instructions.filter((i) => i.keyword === keyword);
const execForm = (args: string): unknown => JSON.parse(args);

describe('Dockerfile', () => {
  it('is clean under dockerfilelint', () => {
    const bin = path.join(ROOT, 'node_modules', '.bin', 'dockerfilelint');
    let output = '';
    let status = 0;
    try {
      output = execFileSync(bin, ['-o', 'json', 'Dockerfile'], { cwd: ROOT, encoding: 'utf8' });
    } catch (error) {
      const e = error as { status?: number; stdout?: string };
      status = e.status ?? -1;
      output = e.stdout ?? '';
    }
    expect({ status, output: status === 0 ? '' : output }).toEqual({ status: 0, output: '' });
  });

  it('is multi-stage, every stage on the same base pinned by full version (no latest)', () => {
    expect(STAGES.map((s) => s.name)).toEqual(['build', 'prod-deps', 'runtime']);
    const images = new Set(STAGES.map((s) => s.image));
    expect(images.size).toBe(1);
    for (const image of images) {
      expect(image).toMatch(/^node:\d+\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/);
    }
  });

  it('builds with npm ci (dev dependencies included) and the package build script', () => {
    const build = stage('build');
    const runs = build ? ofKind(build, 'RUN').map((r) => r.args) : [];
    expect(runs.some((r) => /\bnpm ci\b/.test(r) && !r.includes('--omit=dev'))).toBe(true);
    expect(runs).toContain('npm run build');
    expect(PKG.scripts.build).toBe('tsc -p tsconfig.build.json');
    const tsBuild = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    // ENTRYPOINT runs dist/main.js: what tsc emits for src/main.ts with these two options.
    expect(tsBuild.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(PKG.bin?.['cph-exporter']).toBe('dist/main.js');
  });

  it('copies into the runtime stage only dist/, production node_modules and the package files', () => {
    const rt = runtime();
    expect(ofKind(rt, 'ADD')).toEqual([]);
    const copies = ofKind(rt, 'COPY').map((c) => parseCopy(c.args));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      if (copy.from === undefined) {
        // From the build context: package metadata only ("type": "module" lives in package.json).
        for (const source of copy.sources) expect(['package.json', 'package-lock.json']).toContain(source);
      } else {
        for (const source of copy.sources) expect(['/app/dist', '/app/node_modules']).toContain(source);
      }
      for (const source of copy.sources) expect(source).not.toMatch(/(^|\/)(src|test)(\/|$)|\.ts$|^\.$/);
    }
    const sources = copies.flatMap((c) => c.sources);
    expect(sources).toEqual(expect.arrayContaining(['/app/dist', '/app/node_modules', 'package.json']));
  });

  it('takes node_modules only from a stage that installs with --omit=dev', () => {
    const fromStages = ofKind(runtime(), 'COPY')
      .map((c) => parseCopy(c.args))
      .filter((c) => c.sources.includes('/app/node_modules'))
      .map((c) => c.from);
    expect(fromStages).toEqual(['prod-deps']);
    const installs = ofKind(stage('prod-deps') ?? runtime(), 'RUN').filter((r) => /\bnpm (ci|install|i)\b/.test(r.args));
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) expect(install.args).toContain('--omit=dev');
    // The runtime stage installs nothing itself.
    for (const run of ofKind(runtime(), 'RUN')) expect(run.args).not.toMatch(/\bnpm (ci|install|i)\b/);
  });

  it('runs as a numeric non-root user', () => {
    const users = ofKind(runtime(), 'USER');
    const last = users.at(-1)?.args ?? '';
    expect(last).toMatch(/^\d+(:\d+)?$/);
    expect(Number(last.split(':')[0])).toBeGreaterThan(0);
    // USER comes before ENTRYPOINT, so the process itself is non-root.
    const entry = ofKind(runtime(), 'ENTRYPOINT')[0];
    expect(users.at(-1)?.line ?? Infinity).toBeLessThan(entry?.line ?? 0);
  });

  it('exposes 9877 and starts node dist/main.js with the default config file', () => {
    expect(ofKind(runtime(), 'EXPOSE').map((e) => e.args)).toEqual(['9877']);
    expect(execForm(ofKind(runtime(), 'ENTRYPOINT')[0]?.args ?? 'null')).toEqual(['node', 'dist/main.js']);
    expect(execForm(ofKind(runtime(), 'CMD')[0]?.args ?? 'null')).toEqual(['--config.file=/etc/cph-exporter/config.yml']);
  });

  it('has a HEALTHCHECK in exec form that needs neither a shell nor curl', () => {
    const [health] = ofKind(runtime(), 'HEALTHCHECK');
    expect(health).toBeDefined();
    const cmd = /\bCMD\s+(\[.*\])$/.exec(health?.args ?? '')?.[1];
    const argv = execForm(cmd ?? 'null') as string[];
    expect(argv[0]).toBe('node');
    expect(argv.join(' ')).not.toMatch(/\b(curl|wget|sh|bash)\b/);
    expect(DOCKERFILE).toMatch(/CPH_HEALTHCHECK_URL=http:\/\/127\.0\.0\.1:9877\/healthz/);
  });

  it('carries the OCI labels', () => {
    const labels = ofKind(runtime(), 'LABEL').map((l) => l.args).join(' ');
    for (const key of ['title', 'description', 'licenses', 'version', 'revision', 'created', 'source']) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
    expect(labels).toContain('org.opencontainers.image.licenses="Apache-2.0"');
  });
});

/** Docker's .dockerignore semantics, enough for these paths: the last matching pattern wins, `!` re-includes. */
function isIgnored(patterns: string[], file: string): boolean {
  const toRegExp = (p: string): RegExp =>
    new RegExp(
      `^${p
        .replace(/\/$/, '')
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '\u0000')
        .replace(/\*\*/g, '.*')
        .replace(/\*/g, '[^/]*')
        .replace(/\u0000/g, '(.*/)?')}(/.*)?$`,
    );
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = negate ? raw.slice(1) : raw;
    if (toRegExp(pattern).test(file)) ignored = !negate;
  }
  return ignored;
}

describe('.dockerignore', () => {
  const patterns = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('keeps every file the Dockerfile copies from the build context', () => {
    const fromContext = INSTRUCTIONS.filter((i) => i.keyword === 'COPY')
      .map((c) => parseCopy(c.args))
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources);
    expect(fromContext).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'src']));
    for (const source of fromContext) expect(isIgnored(patterns, source), source).toBe(false);
    expect(isIgnored(patterns, 'src/main.ts')).toBe(false);
  });

  it.each(['node_modules', 'dist', '.git', 'test', 'helm', 'Dockerfile', 'config.yml', 'src/simulator/server.ts', 'src/x.test.ts'])(
    'keeps %s out of the build context',
    (file) => {
      expect(isIgnored(patterns, file)).toBe(true);
    },
  );
});

describe('code in the image', () => {
  /** Non-test sources under src/ that tsconfig.build.json compiles (demo and simulator are excluded). */
  function runtimeSources(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name);
      const rel = path.relative(path.join(ROOT, 'src'), full);
      if (entry.isDirectory()) return rel === 'demo' || rel === 'simulator' ? [] : runtimeSources(full);
      return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [full] : [];
    });
  }

  /** Bare module specifiers imported at run time (type-only imports are erased by tsc). */
  function runtimeImports(source: string): string[] {
    const specs: string[] = [];
    const statement = /^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
    for (const m of source.matchAll(statement)) {
      if (m[2]) continue;
      const spec = m[3] ?? m[4] ?? m[5];
      if (spec && !spec.startsWith('.') && !spec.startsWith('node:')) specs.push(spec);
    }
    return specs;
  }

  it('imports only production dependencies and Node built-ins (the image has no dev dependency)', () => {
    const offenders: string[] = [];
    for (const file of runtimeSources(path.join(ROOT, 'src'))) {
      for (const spec of runtimeImports(readFileSync(file, 'utf8'))) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec);
        if (builtinModules.includes(name)) continue;
        if (!(name in PKG.dependencies)) offenders.push(`${path.relative(ROOT, file)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('recognises the import forms it checks', () => {
    expect(
      runtimeImports(
        [
          "import express from 'express';",
          "import type { Foo } from 'dev-only';",
          "export { x } from 'p-limit';",
          "import 'side-effect';",
          "const m = await import('dynamic');",
          "import { a } from './local.js';",
          "import fs from 'node:fs';",
          "import {\n  b,\n  c,\n} from '@scope/pkg/sub';",
        ].join('\n'),
      ),
    ).toEqual(['express', 'p-limit', 'side-effect', 'dynamic', '@scope/pkg/sub']);
  });
});
