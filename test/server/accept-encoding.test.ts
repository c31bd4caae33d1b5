import { describe, expect, it } from 'vitest';
import { acceptsGzip } from '../../src/server/app.js';

/* Accept-Encoding as RFC 9110 §12.5.3 defines it: only q=0 refuses a coding. */
describe('Accept-Encoding: gzip', () => {
  it.each<[string | undefined, boolean]>([
    [undefined, false],
    ['', false],
    ['gzip', true],
    ['GZip', true],
    ['x-gzip', true],
    ['gzip;q=0.5', true],
    ['gzip; q=0.001', true],
    ['gzip;Q=0.5', true],
    ['gzip;q=1', true],
    ['gzip;q=1.000', true],
    ['deflate, gzip;q=0.1', true],
    ['gzip;q=0', false],
    ['gzip;q=0.0', false],
    ['gzip;q=0.000', false],
    ['gzip ; q = 0', false],
    ['identity', false],
    ['br, deflate', false],
    ['*', true],
    ['*;q=0.2', true],
    ['*;q=0', false],
    ['*, gzip;q=0', false],
    ['gzip;q=0, *', false],
    ['gzipx, notgzip', false],
    ['gzip;q=2', false],
    ['gzip;q=0.5000', false],
    ['gzip;q=abc, *;q=0.3', true],
  ])('%j accepts gzip: %s', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });
});
