import cron from 'node-cron';
import { z } from 'zod';
import { parseBytes, parseDuration } from './units.js';

/**
 * The configuration file's shape: keys, defaults and invariants in one place.
 * Unknown keys are errors (a typo must not silently fall back to a default).
 */

const duration = (min = 1) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration like 500ms, 30s, 5m or 1h` });
      return z.NEVER;
    }
    if (ms < min) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${min} ms` });
      return z.NEVER;
    }
    return ms;
  });

const bytes = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  const n = typeof v === 'number' ? v : parseBytes(v);
  if (n === undefined || n <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a size like 8MiB` });
    return z.NEVER;
  }
  return n;
});

/** Regions look like cn-north-4, ap-southeast-1, la-south-2 (the SDKs' region files). Any such name is accepted. */
export const REGION_PATTERN = /^[a-z]{2,}(-[a-z]+)+-\d+$/;

/** An http(s) origin without path, query or user info; zod refinements run after a failed .url() too, hence canParse. */
const origin = (example: string) =>
  z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .refine((u) => {
      if (!URL.canParse(u)) return true;
      const url = new URL(u);
      return (url.pathname === '/' || url.pathname === '') && url.search === '' && url.username === '' && url.password === '';
    }, `must be a bare origin such as ${example}, without path, query or user info`);

/** Names of accounts, as targets refer to them; also a label-safe identifier in logs. */
export const ACCOUNT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const target = z.strictObject({
  project_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "-" or "_"'),
  region: z.string().regex(REGION_PATTERN, 'must be a Huawei Cloud region such as cn-north-4'),
  endpoint: origin('https://cph.cn-north-4.myhuaweicloud.com').optional(),
  account: z.string().min(1).optional(),
});

const credentials = z.strictObject({
  access_key_file: z.string().min(1).optional(),
  secret_key_file: z.string().min(1).optional(),
  security_token_file: z.string().min(1).optional(),
});

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name such as LAB_AK');

/** Hosts the metadata service may be reached on in plain HTTP: the link-local address it lives on, and loopback (tests, a local proxy). */
export function isLinkLocalOrLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return /^169\.254\.\d{1,3}\.\d{1,3}$/.test(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1' || host === 'localhost';
}

const KEY_SOURCES = [
  ['access key', 'access_key_file', 'access_key_env'],
  ['secret key', 'secret_key_file', 'secret_key_env'],
  ['security token', 'security_token_file', 'security_token_env'],
] as const;

const account = z
  .strictObject({
    access_key_file: z.string().min(1).optional(),
    secret_key_file: z.string().min(1).optional(),
    security_token_file: z.string().min(1).optional(),
    access_key_env: envName.optional(),
    secret_key_env: envName.optional(),
    security_token_env: envName.optional(),
    metadata: z.boolean().optional(),
    metadata_endpoint: origin('http://169.254.169.254')
      .refine(
        (u) => !URL.canParse(u) || new URL(u).protocol === 'https:' || isLinkLocalOrLoopback(new URL(u).hostname),
        'plain http:// is allowed only on the link-local metadata address (169.254.x.x) or loopback; the temporary keys would cross the network in clear text',
      )
      .optional(),
  })
  .superRefine((a, ctx) => {
    const given = (key: (typeof KEY_SOURCES)[number][1 | 2]): boolean => a[key] !== undefined;
    if (a.metadata === true) {
      for (const [, file, env] of KEY_SOURCES) {
        for (const key of [file, env]) {
          if (given(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'two sources for one value: metadata: true already supplies the keys; remove this key or metadata' });
        }
      }
      return;
    }
    if (a.metadata_endpoint !== undefined) ctx.addIssue({ code: 'custom', path: ['metadata_endpoint'], message: 'only with metadata: true' });
    for (const [what, file, env] of KEY_SOURCES) {
      if (given(file) && given(env)) {
        ctx.addIssue({ code: 'custom', path: [env], message: `two sources for one value: ${file} and ${env} both name the ${what}; keep one` });
      }
    }
    const hasAccessKey = given('access_key_file') || given('access_key_env');
    const hasSecretKey = given('secret_key_file') || given('secret_key_env');
    if (!hasAccessKey && !hasSecretKey) {
      ctx.addIssue({ code: 'custom', path: [], message: 'no key source: set access_key_file or access_key_env, and secret_key_file or secret_key_env (or metadata: true)' });
    } else if (!hasAccessKey) {
      ctx.addIssue({ code: 'custom', path: [], message: 'no access key source: set access_key_file or access_key_env' });
    } else if (!hasSecretKey) {
      ctx.addIssue({ code: 'custom', path: [], message: 'no secret key source: set secret_key_file or secret_key_env' });
    }
  });

const poll = z.strictObject({
  schedule: z
    .string()
    .refine((s) => cron.validate(s), 'is not a valid node-cron expression (6 fields with seconds, or 5 without)')
    .default('0 * * * * *'),
  concurrency: z.number().int().min(1).max(256).default(16),
  // At least 2: consecutive pages overlap by one record to notice a listing that shifted (cph/paging.ts).
  page_size: z.number().int().min(2, 'must be 2..100 (pages overlap by one record)').max(100).default(100),
  max_pages: z.number().int().min(1).max(100_000).default(1000),
  timeout: duration(100).optional(),
  max_staleness: duration(1000).optional(),
  auth_failure_backoff: duration(1000).default(300_000),
});

const api = z.strictObject({
  // The gateway allows 200 calls/s per API by default (NOTES.md §5). A quarter of it, with a burst
  // of one second's worth, leaves room for the account's other callers and still lists 20,000
  // encode servers in about 4 s and 200,000 in about 40 s.
  requests_per_second: z.number().positive().max(200).default(50),
  burst: z.number().int().min(1).max(1000).default(50),
  connect_timeout: duration(1).default(5_000),
  request_timeout: duration(1).default(15_000),
  max_retries: z.number().int().min(0).max(10).default(3),
  max_response_bytes: bytes.default(8 * 1024 * 1024),
});

const metrics = z.strictObject({
  encode_server_info: z.boolean().default(true),
});

export const ConfigFileSchema = z.strictObject({
  targets: z.array(target).min(1, 'at least one target is required'),
  credentials: credentials.default({}),
  accounts: z
    .record(z.string().regex(ACCOUNT_NAME_PATTERN, 'account names are 1-64 letters, digits, "_", "." or "-", starting with a letter or digit'), account)
    .default({}),
  poll: poll.default(() => poll.parse({})),
  api: api.default(() => api.parse({})),
  metrics: metrics.default(() => metrics.parse({})),
});

export type ConfigFile = z.output<typeof ConfigFileSchema>;
