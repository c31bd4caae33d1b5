import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CphApiError } from '../../src/cph/errors.js';
import type { CloudPhone } from '../../src/cph/types.js';
import { validateListCloudPhoneServersResponse, validateListCloudPhonesResponse } from '../../src/cph/validate.js';
import { PHONE_SERVER_STATUS_LABELS, PHONE_STATUS_LABELS } from '../../src/metrics/enums.js';
import { PhoneSeriesBuilder, PhoneServerSeriesBuilder } from '../../src/metrics/estate.js';
import { familyChunks } from '../../src/metrics/resources.js';
import { samplesOf, sumOf } from '../helpers/exposition.js';
import { promtool } from '../helpers/tools.js';
import { assertValidExposition, decodeUtf8, promtoolCheck } from '../helpers/validity.js';

const TARGET = { projectId: '0123456789abcdef0123456789abcdef', region: 'cn-north-4' };

const render = (series: Parameters<typeof familyChunks>[0], families: Parameters<typeof familyChunks>[1]): string =>
  decodeUtf8(Buffer.concat(familyChunks(series, families)));

describe('status tables', () => {
  // The tables, written out again here so that a slip in enums.ts cannot pass unseen.
  it('phone servers: NOTES.md §2a Server.status', () => {
    expect(PHONE_SERVER_STATUS_LABELS).toEqual({
      0: 'creating', 1: 'creating', 3: 'creating', 4: 'creating', 2: 'abnormal', 5: 'running', 8: 'frozen',
      10: 'shutdown', 11: 'shutting_down', 12: 'shutdown_failed', 13: 'starting',
    });
  });
  it('phones: NOTES.md §2b Phone.status, negative codes included', () => {
    expect(PHONE_STATUS_LABELS).toEqual({
      0: 'creating', 1: 'creating', 2: 'running', 3: 'resetting', 4: 'restarting', 6: 'frozen', 7: 'shutting_down', 8: 'shutdown',
      [-5]: 'reset_failed', [-6]: 'restart_failed', [-7]: 'abnormal', [-8]: 'creation_failed', [-9]: 'shutdown_failed',
    });
  });
});

describe('validation of the counted list APIs', () => {
  it('reads the documented example of ListCloudPhones', () => {
    const page = validateListCloudPhonesResponse({
      request_id: 'r',
      count: 1,
      phones: [{ phone_name: 'mobile-0001', server_id: 's1', phone_id: 'p1', status: 2, type: 0, vnc_enable: 'true', traffic_type: 'direct', volume_mode: 0 }],
    });
    expect(page).toEqual({
      request_id: 'r',
      count: 1,
      items: [{ phone_id: 'p1', phone_name: 'mobile-0001', server_id: 's1', status: 2, phone_model_name: '', image_version: '', vnc_enable: 'true', traffic_type: 'direct' }],
    });
  });

  it('reads a phone server and ignores the fields the exporter does not use', () => {
    const page = validateListCloudPhoneServersResponse({
      count: 1,
      servers: [{ server_id: 's1', server_name: 'n', status: 5, network_version: 'v1', addresses: [{ public_ip: '1.2.3.4' }], metadata: { charging_mode: 1 } }],
    });
    expect(page.items[0]).toEqual({ server_id: 's1', server_name: 'n', status: 5, server_model_name: '', phone_model_name: '', availability_zone: '', network_version: 'v1' });
  });

  it.each([
    ['no count', { phones: [] }, 'count: missing'],
    ['negative count', { count: -1, phones: [] }, 'count: expected a non-negative integer'],
    ['count as a string', { count: '3', phones: [] }, 'count: expected a non-negative integer, got string'],
    ['no list', { count: 0 }, 'phones: missing'],
    ['a phone without id', { count: 1, phones: [{ server_id: 's', status: 2 }] }, 'phones[0].phone_id'],
    ['a status that is not an integer', { count: 1, phones: [{ phone_id: 'p', server_id: 's', status: 2.5 }] }, 'phones[0].status'],
  ])('%s is a bad response naming the field', (_name, body, message) => {
    const err = (() => {
      try {
        validateListCloudPhonesResponse(body, 'req-1');
      } catch (e) {
        return e as CphApiError;
      }
      throw new Error('accepted');
    })();
    expect(err).toBeInstanceOf(CphApiError);
    expect(err.code).toBe('CPH_BAD_RESPONSE');
    expect(err.message).toContain(message);
    expect(err.requestId).toBe('req-1');
  });
});

describe('conversion of phone servers', () => {
  it('one series per server with its status, and the raw code in the info series', () => {
    const series = new PhoneServerSeriesBuilder(TARGET)
      .add([
        { server_id: 'a', server_name: 'x"y', status: 5, server_model_name: 'm', phone_model_name: 'pm', availability_zone: 'az1', network_version: 'v2' },
        { server_id: 'b', server_name: '', status: 99, server_model_name: '', phone_model_name: '', availability_zone: '', network_version: '' },
      ])
      .finish();
    const text = render([series], ['phoneServers', 'phoneServerInfo']);
    assertValidExposition(text);
    expect(samplesOf(text, 'cph_phone_servers').map((s) => [s.labels['server_id'], s.labels['status'], s.value])).toEqual([
      ['a', 'running', 1],
      ['b', 'unknown', 1],
    ]);
    expect(samplesOf(text, 'cph_phone_server_info').map((s) => [s.labels['server_name'], s.labels['status_code']])).toEqual([
      ['x"y', '5'],
      ['', '99'],
    ]);
  });
});

const phone = (server_id: string, status: number, phone_id: string): CloudPhone => ({
  phone_id,
  server_id,
  status,
  phone_name: `n-${phone_id}`,
  phone_model_name: 'pm',
  image_version: 'v1',
  vnc_enable: 'true',
  traffic_type: 'direct',
});

describe('aggregation of phones', () => {
  it('counts phones per server and status, negative and unknown codes included, whatever the page order', () => {
    const pages = [
      [phone('s2', 2, 'p1'), phone('s1', -7, 'p2'), phone('s1', 2, 'p3')],
      [phone('s1', -7, 'p4'), phone('s2', 42, 'p5'), phone('s2', -9, 'p6')],
    ];
    const forward = new PhoneSeriesBuilder(TARGET, false);
    for (const p of pages) forward.add(p);
    const backward = new PhoneSeriesBuilder(TARGET, false);
    for (const p of [...pages].reverse()) backward.add(p);
    const text = render([forward.finish()], ['phones']);
    expect(render([backward.finish()], ['phones'])).toBe(text);
    assertValidExposition(text);
    expect(samplesOf(text, 'cph_phones').map((s) => [s.labels['server_id'], s.labels['status'], s.value])).toEqual([
      ['s1', 'running', 1],
      ['s1', 'abnormal', 2],
      ['s2', 'running', 1],
      ['s2', 'shutdown_failed', 1],
      ['s2', 'unknown', 1],
    ]);
  });

  it('renders cph_phone_info only when asked for', () => {
    const items = [phone('s1', -8, 'p1'), phone('s1', 2, 'p2')];
    const off = new PhoneSeriesBuilder(TARGET, false).add(items).finish();
    expect(off.families.phoneInfo).toBeUndefined();
    const on = new PhoneSeriesBuilder(TARGET, true).add(items).finish();
    const text = render([on], ['phones', 'phoneInfo']);
    expect(samplesOf(text, 'cph_phone_info').map((s) => [s.labels['phone_id'], s.labels['status'], s.labels['status_code'], s.labels['vnc_enabled']])).toEqual([
      ['p1', 'creation_failed', '-8', 'true'],
      ['p2', 'running', '2', 'true'],
    ]);
  });

  it('property: arbitrary phones render a valid exposition whose counts are the phones by server and status', async (ctx) => {
    const text = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('"', '\\', '\n', 'é', '🚀', '\ud800'));
    const anyPhone = fc.record({
      phone_id: fc.string({ minLength: 1, maxLength: 10 }),
      server_id: fc.oneof(fc.constantFrom('s1', 's2', 's3'), text),
      status: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 6, 7, 8, -5, -6, -7, -8, -9), fc.integer({ min: -20, max: 20 }), fc.maxSafeInteger()),
      phone_name: text,
      vnc_enable: fc.constantFrom('true', 'false', ''),
    });
    const tool = promtool(ctx);
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(anyPhone, { selector: (p) => p.phone_id, maxLength: 40 }), fc.boolean(), async (raw, withInfo) => {
        const { items } = validateListCloudPhonesResponse(JSON.parse(JSON.stringify({ count: raw.length, phones: raw })));
        const series = new PhoneSeriesBuilder(TARGET, withInfo).add(items).finish();
        const exposition = render([series], withInfo ? ['phones', 'phoneInfo'] : ['phones']);
        assertValidExposition(exposition);
        const samples = samplesOf(exposition, 'cph_phones');
        expect(sumOf(samples)).toBe(items.length);
        for (const p of items) {
          const label = PHONE_STATUS_LABELS[p.status] ?? 'unknown';
          const expected = items.filter((q) => q.server_id === p.server_id && (PHONE_STATUS_LABELS[q.status] ?? 'unknown') === label).length;
          const id = Buffer.from(p.server_id, 'utf8').toString('utf8');
          expect(sumOf(samples, { server_id: id, status: label })).toBe(expected);
        }
        if (withInfo) expect(samplesOf(exposition, 'cph_phone_info')).toHaveLength(items.length);
        if (tool && checked++ < 10 && items.length > 0) promtoolCheck(tool, exposition);
      }),
      { numRuns: 200 },
    );
  });
});

describe('validation never throws anything but a bad response', () => {
  it('property: any JSON body of either counted API', () => {
    const item = fc.dictionary(fc.constantFrom('phone_id', 'server_id', 'status', 'phone_name', 'server_name', 'network_version'), fc.jsonValue());
    const body = fc.oneof(fc.jsonValue(), fc.record({ count: fc.jsonValue(), phones: fc.array(item, { maxLength: 4 }), servers: fc.array(item, { maxLength: 4 }) }, { requiredKeys: [] }));
    fc.assert(
      fc.property(body, (b) => {
        for (const validate of [validateListCloudPhonesResponse, validateListCloudPhoneServersResponse]) {
          try {
            validate(b);
          } catch (err) {
            expect(err).toBeInstanceOf(CphApiError);
            expect((err as CphApiError).code).toBe('CPH_BAD_RESPONSE');
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
