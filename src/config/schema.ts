import cron from 'node-cron';
import { z } from 'zod';
import { expecting } from './issues.js';
import { parseBytes, parseDuration } from './units.js';

/**
 * The configuration file's shape: keys, defaults and invariants in one place.
 * Unknown keys are errors (a typo must not silently fall back to a default).
 */

const duration = (min = 1) =>
  z.string(expecting('a duration such as 30s')).transform((text, ctx) => {
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

const bytes = z.union([z.number().int().positive(), z.string()], expecting('a size such as 8MiB or a number of bytes')).transform((v, ctx) => {
  const n = typeof v === 'number' ? v : parseBytes(v);
  if (n === undefined || n <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a size like 8MiB` });
    return z.NEVER;
  }
  return n;
});

/** A whole number in [min, max]; every type or range problem says so, with what was found. */
const int = (min: number, max: number) => {
  const what = expecting(`an integer from ${min} to ${max}`);
  return z.number(what).int(what).min(min, what).max(max, what);
};

const FILE_PATH = expecting('a file path');
const filePath = () => z.string(FILE_PATH).min(1, FILE_PATH);

/** Regions look like cn-north-4, ap-southeast-1, la-south-2 (the SDKs' region files). Any such name is accepted. */
export const REGION_PATTERN = /^[a-z]{2,}(-[a-z]+)+-\d+$/;

/** An http(s) origin without path, query or user info; zod refinements run after a failed .url() too, hence canParse. */
const origin = (example: string) =>
  z
    .url({
      protocol: /^https?$/,
      error: (issue) => (issue.code === 'invalid_type' ? expecting(`a URL such as ${example}`).error(issue) : 'must be an http:// or https:// URL'),
    })
    .refine((u) => {
      if (!URL.canParse(u)) return true;
      const url = new URL(u);
      return (url.pathname === '/' || url.pathname === '') && url.search === '' && url.username === '' && url.password === '';
    }, `must be a bare origin such as ${example}, without path, query or user info`);

/** Names of accounts, as targets refer to them; also a label-safe identifier in logs. */
export const ACCOUNT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const target = z.strictObject({
  // Optional: without it the project of the region is discovered through IAM, as the official SDKs do.
  project_id: z
    .string(expecting('a string such as 0123456789abcdef0123456789abcdef (quote an all-digit id)'))
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "-" or "_"')
    .optional(),
  region: z.string(expecting('a string such as cn-north-4')).regex(REGION_PATTERN, 'must be a Huawei Cloud region such as cn-north-4'),
  endpoint: origin('https://cph.cn-north-4.myhuaweicloud.com')
    .refine(
      (u) => !URL.canParse(u) || new URL(u).protocol === 'https:' || isLoopback(new URL(u).hostname),
      'plain http:// is allowed only for a loopback address such as http://127.0.0.1:8443 (the simulator); every request carries a signed AK and, with temporary keys, a security token that must not cross a network unencrypted: use https://',
    )
    .optional(),
  account: z.string(expecting('an account name')).min(1, expecting('an account name')).optional(),
  // Where project discovery asks (default: HUAWEICLOUD_SDK_IAM_ENDPOINT, else https://iam.{region}.myhuaweicloud.com).
  iam_endpoint: origin('https://iam.cn-north-4.myhuaweicloud.com')
    .refine(
      (u) => !URL.canParse(u) || new URL(u).protocol === 'https:' || isLoopback(new URL(u).hostname),
      'plain http:// is allowed only for a loopback address (the simulator): the request carries a signed AK; use https://',
    )
    .optional(),
});

const credentials = z.strictObject({
  access_key_file: filePath().optional(),
  secret_key_file: filePath().optional(),
  security_token_file: filePath().optional(),
});

const envName = z.string(expecting('an environment variable name such as LAB_AK')).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name such as LAB_AK');

/** Hosts the metadata service may be reached on in plain HTTP: the link-local address it lives on, and loopback (tests, a local proxy). */
export function isLinkLocalOrLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return /^169\.254\.\d{1,3}\.\d{1,3}$/.test(host) || isLoopback(host);
}

/** 127.0.0.0/8, ::1 or localhost: traffic that never leaves the machine. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1' || host === 'localhost';
}

const KEY_SOURCES = [
  ['access key', 'access_key_file', 'access_key_env'],
  ['secret key', 'secret_key_file', 'secret_key_env'],
  ['security token', 'security_token_file', 'security_token_env'],
] as const;

const account = z
  .strictObject({
    access_key_file: filePath().optional(),
    secret_key_file: filePath().optional(),
    security_token_file: filePath().optional(),
    access_key_env: envName.optional(),
    secret_key_env: envName.optional(),
    security_token_env: envName.optional(),
    metadata: z.boolean(expecting('true or false')).optional(),
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

const PAGE_SIZE = expecting('an integer from 2 to 100');
const poll = z.strictObject({
  schedule: z
    .string(expecting('a node-cron schedule such as "0 * * * * *"'))
    .refine((s) => cron.validate(s), 'is not a valid node-cron expression (6 fields with seconds, or 5 without)')
    .default('0 * * * * *'),
  concurrency: int(1, 256).default(16),
  // At least 2: consecutive pages overlap by one record to notice a listing that shifted (cph/paging.ts).
  page_size: z.number(PAGE_SIZE).int(PAGE_SIZE).min(2, 'must be 2..100 (pages overlap by one record)').max(100, PAGE_SIZE).default(100),
  max_pages: int(1, 100_000).default(1000),
  timeout: duration(100).optional(),
  max_staleness: duration(1000).optional(),
  auth_failure_backoff: duration(1000).default(300_000),
});

const RATE = expecting('a number of requests per second above 0 and at most 200');
const api = z.strictObject({
  // The gateway allows 200 calls/s per API by default (NOTES.md §5). A quarter of it, with a burst
  // of one second's worth, leaves room for the account's other callers and still lists 20,000
  // encode servers in about 4 s and 200,000 in about 40 s.
  requests_per_second: z.number(RATE).positive(RATE).max(200, RATE).default(50),
  burst: int(1, 1000).default(50),
  connect_timeout: duration(1).default(5_000),
  request_timeout: duration(1).default(15_000),
  max_retries: int(0, 10).default(3),
  max_response_bytes: bytes.default(8 * 1024 * 1024),
});

const metrics = z.strictObject({
  encode_server_info: z.boolean(expecting('true or false')).default(true),
  // One series per cloud phone: off by default, an estate has hundreds of thousands of phones.
  phone_info: z.boolean(expecting('true or false')).default(false),
});

/** What the exporter can list for each target; the names are the `resource` label of `cph_resource_up`. */
export const RESOURCE_NAMES = ['encode_servers', 'phone_servers', 'phones'] as const;
export type ResourceName = (typeof RESOURCE_NAMES)[number];

const resources = z
  .array(z.enum(RESOURCE_NAMES))
  .min(1, 'list at least one resource')
  .refine((list) => new Set(list).size === list.length, 'lists a resource twice')
  .default([...RESOURCE_NAMES]);

export const ConfigFileSchema = z.strictObject({
  targets: z.array(target).min(1, 'at least one target is required'),
  resources,
  credentials: credentials.default({}),
  accounts: z
    .record(z.string().regex(ACCOUNT_NAME_PATTERN, 'account names are 1-64 letters, digits, "_", "." or "-", starting with a letter or digit'), account)
    .default({}),
  poll: poll.default(() => poll.parse({})),
  api: api.default(() => api.parse({})),
  metrics: metrics.default(() => metrics.parse({})),
});

export type ConfigFile = z.output<typeof ConfigFileSchema>;
