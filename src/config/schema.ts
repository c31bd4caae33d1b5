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

const target = z.strictObject({
  project_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "-" or "_"'),
  region: z.string().regex(REGION_PATTERN, 'must be a Huawei Cloud region such as cn-north-4'),
  endpoint: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .refine((u) => {
      // zod runs refinements after a failed check too; an unparsable URL is already reported by .url().
      if (!URL.canParse(u)) return true;
      const url = new URL(u);
      return (url.pathname === '/' || url.pathname === '') && url.search === '' && url.username === '' && url.password === '';
    }, 'must be a bare origin such as https://cph.cn-north-4.myhuaweicloud.com, without path, query or user info')
    .optional(),
});

const credentials = z.strictObject({
  access_key_file: z.string().min(1).optional(),
  secret_key_file: z.string().min(1).optional(),
  security_token_file: z.string().min(1).optional(),
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
  poll: poll.default(() => poll.parse({})),
  api: api.default(() => api.parse({})),
  metrics: metrics.default(() => metrics.parse({})),
});

export type ConfigFile = z.output<typeof ConfigFileSchema>;
