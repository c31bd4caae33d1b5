import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CredentialSource } from '../../src/credentials/static.js';
import { type ConfigError, loadConfigFile, parseConfig, scheduleIntervalMs } from '../../src/config/load.js';
import { parseBytes, parseDuration } from '../../src/config/units.js';

describe('configuration defaults and derived values', () => {
  it('fills every default from a minimal file', () => {
    const c = parseConfig({ targets: [{ project_id: 'p', region: 'cn-north-4' }] });
    expect(c.targets).toEqual([{ projectId: 'p', region: 'cn-north-4', endpoint: 'https://cph.cn-north-4.myhuaweicloud.com' }]);
    expect(c.poll).toEqual({
      schedule: '0 * * * * *',
      intervalMs: 60_000,
      concurrency: 16,
      pageSize: 100,
      maxPages: 1000,
      timeoutMs: 50_000, // the interval minus a fifth of it, at most 10 s
      maxStalenessMs: 300_000,
      authFailureBackoffMs: 300_000,
    });
    expect(c.api).toEqual({ requestsPerSecond: 50, burst: 50, connectTimeoutMs: 5000, requestTimeoutMs: 15_000, maxRetries: 3, maxResponseBytes: 8 * 1024 * 1024 });
    expect(c.metrics).toEqual({ encodeServerInfo: true, phoneInfo: false });
    expect(c.resources).toEqual(['encode_servers', 'phone_servers', 'phones']);
    expect(Object.isFrozen(c.poll)).toBe(true);
  });

  it('derives the poll deadline and staleness from a fast schedule', () => {
    const c = parseConfig({ targets: [{ project_id: 'p', region: 'cn-north-4' }], poll: { schedule: '*/10 * * * * *' }, api: { request_timeout: '4s' } });
    expect(c.poll.intervalMs).toBe(10_000);
    expect(c.poll.timeoutMs).toBe(8000);
    expect(c.poll.maxStalenessMs).toBe(300_000);
  });

  it('rejects a request timeout that leaves no room for a retry before the poll deadline, saying which keys to change', () => {
    const problems = (raw: Record<string, unknown>): string[] => {
      try {
        parseConfig({ targets: [{ project_id: 'p', region: 'cn-north-4' }], ...raw });
        return [];
      } catch (err) {
        return [...(err as ConfigError).problems];
      }
    };
    // A 10 s schedule: an 8 s deadline, and the default 15 s request timeout with 3 retries.
    expect(problems({ poll: { schedule: '*/10 * * * * *' } })).toEqual([
      "api.request_timeout: 15s is too long for poll.timeout (8s, from poll.schedule's 10s interval): the first attempt and one retry (api.max_retries) must fit before the deadline; lower api.request_timeout to at most 4s, or raise poll.timeout to at least 30s (with a longer poll.schedule interval)",
    ]);
    expect(problems({ poll: { schedule: '*/10 * * * * *' }, api: { request_timeout: '4s' } })).toEqual([]);
    // Without retries, the one attempt must fit.
    expect(problems({ poll: { timeout: '10s' }, api: { request_timeout: '12s', max_retries: 0 } })[0]).toMatch(/^api\.request_timeout: 12s is too long for poll\.timeout \(10s\): one attempt must fit/);
    expect(problems({ poll: { timeout: '10s' }, api: { request_timeout: '10s', max_retries: 0 } })).toEqual([]);
    // The shipped defaults (1 minute schedule, 50 s deadline, 15 s request timeout) are consistent.
    expect(problems({})).toEqual([]);
  });

  it('accepts plain http:// only for a loopback endpoint, and says why', () => {
    const endpoint = (url: string): string[] => {
      try {
        parseConfig({ targets: [{ project_id: 'p', region: 'cn-north-4', endpoint: url }] });
        return [];
      } catch (err) {
        return [...(err as ConfigError).problems];
      }
    };
    for (const ok of ['http://127.0.0.1:8443', 'http://127.1.2.3', 'http://[::1]:8443', 'http://localhost:8443', 'https://cph.example.com']) expect(endpoint(ok), ok).toEqual([]);
    for (const bad of ['http://cph.cn-north-4.myhuaweicloud.com', 'http://10.0.0.5:8443', 'http://169.254.169.254']) {
      const [problem] = endpoint(bad);
      expect(problem, bad).toMatch(/^targets\[0\]\.endpoint: plain http:\/\/ is allowed only for a loopback address/);
      expect(problem).toContain('must not cross a network unencrypted');
    }
  });

  it('measures the shortest gap of irregular schedules', () => {
    expect(scheduleIntervalMs('0,10 * * * * *')).toBe(10_000);
    expect(scheduleIntervalMs('*/5 * * * *')).toBe(300_000);
  });

  it('keeps an endpoint override as a bare origin', () => {
    const c = parseConfig({ targets: [{ project_id: 'p', region: 'cn-north-4', endpoint: 'http://127.0.0.1:8443/' }] });
    expect(c.targets[0]?.endpoint).toBe('http://127.0.0.1:8443');
  });

  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['1d', 86_400_000],
    ['1.5s', undefined],
    ['30', undefined],
    ['', undefined],
  ])('parseDuration(%s)', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each([
    ['8MiB', 8 * 1024 * 1024],
    ['512KiB', 512 * 1024],
    ['1kB', 1000],
    ['1048576', 1_048_576],
    ['8 MB', undefined],
  ])('parseBytes(%s)', (text, n) => expect(parseBytes(text)).toBe(n));
});

describe('credentials', () => {
  it('reads secret files relative to the configuration file, and picks up a rotated key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cph-config-'));
    mkdirSync(join(dir, 'secrets'));
    writeFileSync(join(dir, 'secrets', 'ak'), 'AK-ONE\n');
    writeFileSync(join(dir, 'secrets', 'sk'), 'SK-ONE\n');
    writeFileSync(
      join(dir, 'config.yml'),
      'targets:\n  - {project_id: p, region: cn-north-4}\ncredentials:\n  access_key_file: secrets/ak\n  secret_key_file: ./secrets/sk\n',
    );
    const config = loadConfigFile(join(dir, 'config.yml'));
    expect(config.credentials.secretKeyFile).toBe(join(dir, 'secrets', 'sk'));
    const source = new CredentialSource(config.credentials, {});
    expect(source.check()).toEqual([]);
    expect(source.get()).toEqual({ accessKey: 'AK-ONE', secretKey: 'SK-ONE' });
    writeFileSync(join(dir, 'secrets', 'sk'), 'SK-TWO-LONGER\n');
    expect(source.get().secretKey).toBe('SK-TWO-LONGER');
  });

  it('falls back to the SDK environment variables and names what is missing', () => {
    expect(new CredentialSource({}, { HUAWEICLOUD_SDK_AK: 'a', HUAWEICLOUD_SDK_SK: 'b', HUAWEICLOUD_SDK_SECURITY_TOKEN: 't' }).get()).toEqual({
      accessKey: 'a',
      secretKey: 'b',
      securityToken: 't',
    });
    expect(new CredentialSource({}, { HUAWEICLOUD_SDK_AK: 'a' }).check()).toEqual([
      'credentials.secret_key_file: not set, and the environment variable HUAWEICLOUD_SDK_SK is empty',
    ]);
  });
});
