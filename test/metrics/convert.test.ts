import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AccessInfo, EncodeServer } from '../../src/cph/types.js';
import { validateListEncodeServersResponse } from '../../src/cph/validate.js';
import { convertTarget } from '../../src/metrics/convert.js';
import { exposureLabel, portTypeLabel, statusLabel, typeLabel } from '../../src/metrics/enums.js';
import { escapeLabelValue } from '../../src/metrics/exposition.js';
import { renderResourceFamilies } from '../../src/metrics/resources.js';
import { parseExposition, samplesOf } from '../helpers/exposition.js';

describe('label mappings', () => {
  it.each([
    [1, 'running'],
    [2, 'abnormal'],
    [3, 'restarting'],
    [0, 'creating'],
    [4, 'creating'],
    [5, 'creating'],
    [100, 'creating'],
    [1014, 'creating'],
    [7, 'unknown'],
    [-1, 'unknown'],
  ])('status %i is %s', (code, label) => expect(statusLabel(code)).toBe(label));

  it.each([
    [0, 'server'],
    [1, 'container'],
    [2, 'unknown'],
  ])('type %i is %s', (code, label) => expect(typeLabel(code)).toBe(label));

  it.each([
    ['adb', 'adb'],
    ['vnc', 'vnc'],
    ['cph_app_server', 'cph_app_server'],
    ['cph_h5_server', 'cph_h5_server'],
    ['port1', 'custom'],
    ['ADB', 'custom'],
  ])('port type %s is %s', (type, label) => expect(portTypeLabel(type)).toBe(label));

  const port = (p: Partial<AccessInfo>): AccessInfo => ({ type: 'adb', ...p });
  it.each<[string, Partial<AccessInfo>, 'public' | 'private']>([
    ['non-empty public_ip', { public_ip: '100.68.0.235', server_ip: '172.31.240.115' }, 'public'],
    ['empty public_ip, access_ip repeating the private IP (the document example)', { public_ip: '', access_ip: '172.31.240.115', server_ip: '172.31.240.115', intranet_ip: '172.31.240.115' }, 'private'],
    ['empty public_ip beats a different access_ip', { public_ip: '', access_ip: '100.68.0.235', intranet_ip: '172.31.240.115' }, 'private'],
    ['legacy record, access_ip differs from intranet_ip', { access_ip: '100.68.0.235', intranet_ip: '172.31.240.115' }, 'public'],
    ['legacy record, access_ip equals intranet_ip', { access_ip: '172.31.240.115', intranet_ip: '172.31.240.115' }, 'private'],
    ['legacy record without access_ip', { intranet_ip: '172.31.240.115' }, 'private'],
    ['no IP at all', {}, 'private'],
  ])('%s is %s', (_name, p, exposure) => expect(exposureLabel(port(p))).toBe(exposure));
});

describe('conversion', () => {
  // test/fixtures/cph/example-response.json is the API document's example made valid JSON (see ListEncodeServers.md).
  it('converts the document example (made valid JSON) as the document intends', () => {
    const body = JSON.parse(readFileSync(new URL('../fixtures/cph/example-response.json', import.meta.url), 'utf8')) as unknown;
    const servers = validateListEncodeServersResponse(body).encode_servers;
    const text = renderResourceFamilies([convertTarget({ projectId: 'p', region: 'cn-north-4' }, servers)], true);
    const families = parseExposition(text);
    expect(samplesOf(families, 'cph_encode_servers')).toEqual([
      { name: 'cph_encode_servers', labels: { project_id: 'p', region: 'cn-north-4', server_id: '26fef5ef8f484e5fbd3d3974134b8091', type: 'server', status: 'running' }, value: 1 },
    ]);
    // port1 and port4 have a public_ip; port2 and port3 have "" (their access_ip is the private IP).
    const ports = samplesOf(families, 'cph_encode_server_ports').map((s) => [s.labels['port_type'], s.labels['exposure'], s.value]);
    expect(ports).toEqual([
      ['custom', 'public', 2],
      ['custom', 'private', 2],
    ]);
    expect(samplesOf(families, 'cph_encode_server_info')[0]?.labels).toMatchObject({ encode_server_name: 'ENCODE_SERVER_2', keypair_name: 'keyPair2', status_code: '1' });
  });

  it('aggregates servers and ports per cloud-phone server', () => {
    const mk = (id: string, server: string, status: number, ports: AccessInfo[]): EncodeServer => ({
      encode_server_id: id,
      encode_server_name: id,
      encode_server_ip: '10.0.0.1',
      server_id: server,
      keypair_name: '',
      type: 1,
      status,
      access_infos: ports,
    });
    const text = renderResourceFamilies(
      [
        convertTarget({ projectId: 'p', region: 'r-x-1' }, [
          mk('a', 's1', 1, [{ type: 'adb', public_ip: '1.2.3.4' }, { type: 'vnc', public_ip: '' }]),
          mk('b', 's1', 1, [{ type: 'adb', public_ip: '1.2.3.5' }]),
          mk('c', 's2', 2, []),
        ]),
      ],
      false,
    );
    const families = parseExposition(text);
    expect(families.has('cph_encode_server_info')).toBe(false);
    expect(samplesOf(families, 'cph_encode_servers').map((s) => [s.labels['server_id'], s.labels['status'], s.value])).toEqual([
      ['s1', 'running', 2],
      ['s2', 'abnormal', 1],
    ]);
    expect(samplesOf(families, 'cph_encode_server_ports').map((s) => [s.labels['port_type'], s.labels['exposure'], s.value])).toEqual([
      ['adb', 'public', 2],
      ['vnc', 'private', 1],
    ]);
  });

  it('escapes label values so any name stays a valid exposition', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    const weird = 'quote " backslash \\ newline \n tab \t ünïcødé 🚀 \u0000';
    const text = renderResourceFamilies(
      [convertTarget({ projectId: 'p', region: 'r-x-1' }, [{ encode_server_id: 'e', encode_server_name: weird, encode_server_ip: '', server_id: 's', keypair_name: weird, type: 0, status: 1, access_infos: [] }])],
      true,
    );
    expect(samplesOf(text, 'cph_encode_server_info')[0]?.labels['encode_server_name']).toBe(weird);
  });
});
