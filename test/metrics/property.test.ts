import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CphApiError } from '../../src/cph/errors.js';
import { listAllPages } from '../../src/cph/paging.js';
import type { EncodeServer } from '../../src/cph/types.js';
import { MAX_FIELD_LENGTH, validateListEncodeServersResponse } from '../../src/cph/validate.js';
import { TargetSeriesBuilder } from '../../src/metrics/convert.js';
import { renderResourceFamilies } from '../../src/metrics/resources.js';
import { samplesOf, sumOf } from '../helpers/exposition.js';
import { promtool } from '../helpers/tools.js';
import { assertValidExposition, decodeUtf8, promtoolCheck } from '../helpers/validity.js';

/*
 * Property tests over arbitrary API items: any string (unicode, control characters, quotes,
 * backslashes, newlines, lone surrogates) in every string field, any safe integer for type and
 * status, any access_infos. Validation and conversion never throw for items of the right shape,
 * and what they render is always a valid exposition (strict parser, and promtool where installed:
 * required in CI) that says exactly what the items say.
 */

const TARGET = { projectId: '0123456789abcdef0123456789abcdef', region: 'cn-north-4' };

/** Strings a careless escaper gets wrong, mixed into arbitrary ones. */
const nasty = fc.constantFrom('"', '\\', '\n', '\r', '\t', '\0', '\\n', '\\"', '"\\', '}', '{a="b"}', ' 1', '# HELP', '\u2028', '\ufeff', '\ud800', '\udfff', '🚀', 'é');
const text = (maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    // Any UTF-16 code unit, lone surrogates included (JSON.parse produces them from "\ud800").
    fc.string({ unit: fc.nat(0xffff).map((c) => String.fromCharCode(c)), maxLength }),
    fc.array(fc.oneof(nasty, fc.string({ maxLength: 3 })), { maxLength: 8 }).map((parts) => parts.join('').slice(0, maxLength)),
  );
const field = text(40);
const integer = fc.oneof(fc.integer({ min: -5, max: 1100 }), fc.maxSafeInteger(), fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0, -0));
const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });

const accessInfo = fc.record(
  {
    type: fc.oneof(fc.constantFrom('adb', 'vnc', 'cph_app_server', 'cph_h5_server'), field),
    listen_port: optional(integer),
    access_port: optional(integer),
    public_ip: optional(field),
    server_ip: optional(field),
    access_ip: optional(field),
    intranet_ip: optional(field),
  },
  { requiredKeys: ['type'] },
);

const item = fc.record(
  {
    encode_server_id: text(40).filter((s) => s !== ''),
    server_id: field,
    type: integer,
    status: integer,
    encode_server_name: optional(text(MAX_FIELD_LENGTH)),
    encode_server_ip: optional(field),
    keypair_name: optional(field),
    access_infos: optional(fc.array(accessInfo, { maxLength: 5 })),
    // Fields the API may add later are ignored.
    encode_server_ipv6: field,
  },
  { requiredKeys: ['encode_server_id', 'server_id', 'type', 'status'] },
);

/** Ids are unique in a listing: the pager de-duplicates by id before conversion. */
const listing = fc.uniqueArray(item, { selector: (i) => i.encode_server_id, maxLength: 30 });

/** What a client sees: the body went through JSON on the wire. */
const overTheWire = (items: unknown[]): unknown => JSON.parse(JSON.stringify({ request_id: 'r', encode_servers: items }));

/** What a UTF-8 encoder (the HTTP response) makes of a string. */
const wellFormed = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

/** The exporter's path for one page: validation, the pager's de-duplication by id, conversion, rendering. */
async function render(body: unknown): Promise<{ exposition: string; servers: EncodeServer[] }> {
  const page = validateListEncodeServersResponse(body).encode_servers;
  const { items: servers } = await listAllPages(async () => page, (s) => s.encode_server_id, { pageSize: Math.max(2, page.length + 1), maxPages: 1, window: 1 });
  const series = new TargetSeriesBuilder(TARGET, true).add(servers).finish();
  // Bytes as the HTTP response carries them, decoded strictly.
  const exposition = decodeUtf8(Buffer.from(renderResourceFamilies([series], true), 'utf8'));
  return { exposition, servers };
}

describe('conversion of arbitrary API items', () => {
  it('never throws for items of the right shape, and renders a valid exposition that says what the items say', async () => {
    await fc.assert(
      fc.asyncProperty(listing, async (items) => {
        const { exposition, servers } = await render(overTheWire(items));
        assertValidExposition(exposition);
        expect(sumOf(samplesOf(exposition, 'cph_encode_servers'))).toBe(servers.length);
        expect(sumOf(samplesOf(exposition, 'cph_encode_server_ports'))).toBe(servers.reduce((a, s) => a + s.access_infos.length, 0));
        const info = samplesOf(exposition, 'cph_encode_server_info');
        expect(info).toHaveLength(servers.length);
        info.forEach((s, i) => {
          const e = servers[i] as EncodeServer;
          expect(s.labels['encode_server_id']).toBe(wellFormed(e.encode_server_id));
          expect(s.labels['encode_server_name']).toBe(wellFormed(e.encode_server_name));
          expect(s.labels['server_id']).toBe(wellFormed(e.server_id));
          expect(s.labels['keypair_name']).toBe(wellFormed(e.keypair_name));
          expect(s.labels['encode_server_ip']).toBe(wellFormed(e.encode_server_ip));
          expect(s.labels['status_code']).toBe(String(e.status));
          expect(s.value).toBe(1);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('rejects anything else with a CPH_BAD_RESPONSE error, never another exception', async () => {
    const anyItem = fc.oneof(item, fc.anything(), fc.dictionary(fc.constantFrom('encode_server_id', 'server_id', 'type', 'status', 'access_infos'), fc.jsonValue()));
    const body = fc.oneof(
      fc.anything(),
      fc.jsonValue(),
      fc.record({ encode_servers: fc.oneof(fc.jsonValue(), fc.array(anyItem, { maxLength: 5 })) }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        try {
          await render(b);
        } catch (err) {
          expect(err).toBeInstanceOf(CphApiError);
          expect((err as CphApiError).code).toBe('CPH_BAD_RESPONSE');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('ids and server ids that differ only in lone surrogates do not become duplicate series', async () => {
    const base = { type: 0, status: 1, access_infos: [{ type: 'adb', public_ip: '' }] };
    const items = [
      { ...base, encode_server_id: 'id\ud800', server_id: 'srv\ud800' },
      { ...base, encode_server_id: 'id\udbff', server_id: 'srv\udc00' },
      { ...base, encode_server_id: 'other', server_id: 'srv\udfff' },
    ];
    const { exposition } = await render(overTheWire(items));
    assertValidExposition(exposition);
  });

  it('promtool check metrics accepts a sample of generated expositions', async (ctx) => {
    const tool = promtool(ctx);
    if (!tool) return;
    const samples = fc.sample(listing.filter((l) => l.length > 0), { numRuns: 25, seed: 42 });
    for (const items of samples) promtoolCheck(tool, (await render(overTheWire(items))).exposition);
  });
});
