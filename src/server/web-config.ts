import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SecureContextOptions, SecureVersion } from 'node:tls';
import YAML from 'yaml';
import { z } from 'zod';
import { describeIssues, expecting } from '../config/issues.js';

/**
 * `--web.config.file` in the Prometheus exporter-toolkit format, the one node_exporter uses
 * (https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md).
 * The subset implemented here is validated strictly: a toolkit key we do not implement is an
 * error rather than silently ignored, since ignoring a security setting is worse than refusing it.
 */
const CLIENT_AUTH_TYPES = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'] as const;
const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;

const FILE_PATH = expecting('a file path');
export const WebConfigSchema = z.strictObject({
  tls_server_config: z
    .strictObject({
      cert_file: z.string(FILE_PATH).min(1, FILE_PATH),
      key_file: z.string(FILE_PATH).min(1, FILE_PATH),
      client_auth_type: z.enum(CLIENT_AUTH_TYPES).default('NoClientCert'),
      client_ca_file: z.string(FILE_PATH).min(1, FILE_PATH).optional(),
      min_version: z.enum(Object.keys(TLS_VERSIONS) as [keyof typeof TLS_VERSIONS]).default('TLS12'),
      max_version: z.enum(Object.keys(TLS_VERSIONS) as [keyof typeof TLS_VERSIONS]).optional(),
    })
    .optional(),
  http_server_config: z
    .strictObject({
      headers: z.record(z.string(), z.string(expecting('a string', { secret: true }))).optional(),
    })
    .optional(),
  // Never echo a value here: a plain password written by mistake must not reach the log.
  basic_auth_users: z
    .record(z.string(), z.string(expecting('a bcrypt hash', { secret: true })).regex(/^\$2[aby]?\$\d{2}\$[./A-Za-z0-9]{53}$/, 'must be a bcrypt hash'))
    .optional(),
});

export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

export interface WebConfig {
  tls?: SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean; minVersion: SecureVersion; maxVersion?: SecureVersion };
  clientAuthType?: ClientAuthType;
  headers?: Record<string, string>;
  basicAuthUsers?: Record<string, string>;
}

/** Every problem of a web config file, one line each: `<file>: <key>: <problem>`, like the configuration's. */
export class WebConfigError extends Error {
  override readonly name = 'WebConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

/** Reads and validates the web config file, loading the certificate files it names. */
export function loadWebConfig(path: string): WebConfig {
  let raw: unknown;
  try {
    raw = YAML.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Never include file contents: the file holds password hashes.
    throw new WebConfigError([`--web.config.file: cannot read ${path}${code ? ` (${code})` : ': not valid YAML'}`]);
  }
  // reportInput: messages say what the file has where a wrong type is, instead of zod's "received undefined".
  const parsed = WebConfigSchema.safeParse(raw ?? {}, { reportInput: true });
  if (!parsed.success) {
    throw new WebConfigError(describeIssues(parsed.error.issues, 'unknown or unsupported key').map((line) => `${path}: ${line}`));
  }
  const c = parsed.data;
  const out: WebConfig = {};
  if (c.tls_server_config) {
    const t = c.tls_server_config;
    const needsCa = t.client_auth_type === 'VerifyClientCertIfGiven' || t.client_auth_type === 'RequireAndVerifyClientCert';
    if (needsCa && !t.client_ca_file) {
      throw new WebConfigError([`${path}: tls_server_config.client_ca_file: required with client_auth_type ${t.client_auth_type}`]);
    }
    const read = (key: string, file: string): Buffer => {
      try {
        return readFileSync(file);
      } catch (err) {
        throw new WebConfigError([`${path}: tls_server_config.${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
      }
    };
    const cert = read('cert_file', t.cert_file);
    const key = read('key_file', t.key_file);
    const ca = t.client_ca_file ? read('client_ca_file', t.client_ca_file) : undefined;
    // Found here, --check-config reports them and the exporter does not fail later when it starts listening.
    const invalid = (field: string, what: string, err?: unknown): WebConfigError =>
      new WebConfigError([`${path}: tls_server_config.${field}: ${what}${err ? ` (${(err as { code?: string }).code ?? (err as Error).message})` : ''}`]);
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(cert);
    } catch (err) {
      throw invalid('cert_file', `${t.cert_file} is not a PEM certificate`, err);
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(key);
    } catch (err) {
      throw invalid('key_file', `${t.key_file} is not an unencrypted PEM private key`, err);
    }
    if (!certificate.checkPrivateKey(privateKey)) throw invalid('key_file', `${t.key_file} is not the key of cert_file ${t.cert_file}`);
    if (ca) {
      try {
        new X509Certificate(ca);
      } catch (err) {
        throw invalid('client_ca_file', `${t.client_ca_file} is not a PEM certificate`, err);
      }
    }
    out.tls = {
      cert,
      key,
      ...(ca ? { ca } : {}),
      requestCert: t.client_auth_type !== 'NoClientCert',
      // Node can only require-and-verify; "require any" and "verify if given" are checked per request.
      rejectUnauthorized: t.client_auth_type === 'RequireAndVerifyClientCert',
      minVersion: TLS_VERSIONS[t.min_version],
      ...(t.max_version ? { maxVersion: TLS_VERSIONS[t.max_version] } : {}),
    };
    out.clientAuthType = t.client_auth_type;
  }
  if (c.http_server_config?.headers) out.headers = c.http_server_config.headers;
  if (c.basic_auth_users) out.basicAuthUsers = c.basic_auth_users;
  return out;
}
