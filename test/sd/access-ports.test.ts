import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { AccessInfo, EncodeServer } from '../../src/cph/types.js';
import { AccessPortsBuilder, hostPort } from '../../src/sd/access-ports.js';
import { PreparedAccessPorts, type SdAnswer } from '../../src/sd/prepared.js';
import { DEFAULT_SD_QUERY, parseSdQuery, type SdQuery } from '../../src/sd/query.js';
import { assertValidSdAnswer, type TargetGroup } from '../helpers/http-sd.js';

const EXAMPLE = JSON.parse(readFileSync(new URL('../fixtures/cph/example-response.json', import.meta.url), 'utf8')) as {
  encode_servers: EncodeServer[];
};
const T1 = { projectId: 'p1', region: 'cn-north-4' };

function record(id: string, ports: AccessInfo[], extra: Partial<EncodeServer> = {}): EncodeServer {
  return {
    encode_server_name: `name-${id}`,
    encode_server_id: id,
    encode_server_ip: '10.0.0.9',
    server_id: 'srv-1',
    keypair_name: 'kp',
    type: 1,
    status: 1,
    access_infos: ports,
    ...extra,
  };
}

/** The JSON an answer decompresses to. */
async function plainOf(a: SdAnswer): Promise<string> {
  const gz = await a.gzip();
  const plain = gunzipSync(Buffer.concat(gz.chunks));
  expect(plain.length).toBe(gz.plainLength);
  return plain.toString('utf8');
}

async function answer(items: EncodeServer[], query: Partial<SdQuery> = {}, target = T1): Promise<TargetGroup[]> {
  const prepared = new PreparedAccessPorts([new AccessPortsBuilder(target).add(items).finish()]);
  const a = prepared.answer({ ...DEFAULT_SD_QUERY, ...query });
  const groups = assertValidSdAnswer(await plainOf(a));
  expect(groups).toHaveLength(a.groups);
  return groups;
}

const addresses = (groups: TargetGroup[]): string[] => groups.flatMap((g) => g.targets);

describe('access ports as http_sd target groups', () => {
  it("the document's example: public_ip decides, an access_ip that repeats the private IP is not public", async () => {
    const items = EXAMPLE.encode_servers;
    expect(addresses(await answer(items))).toEqual(['10.154.119.231:6902', '100.68.0.235:6901']);
    expect(addresses(await answer(items, { exposures: ['private'] }))).toEqual(['172.31.240.115:6903', '172.31.240.115:6900']);
    const all = await answer(items, { exposures: ['public', 'private'] });
    expect(all).toHaveLength(4);
    expect(all[0]).toEqual({
      targets: ['10.154.119.231:6902'],
      labels: {
        __meta_cph_project_id: 'p1',
        __meta_cph_region: 'cn-north-4',
        __meta_cph_encode_server_id: '00b00d1b35094f13b360cdfe15a9bfee',
        __meta_cph_encode_server_name: 'ENCODE_SERVER_2',
        __meta_cph_server_id: '26fef5ef8f484e5fbd3d3974134b8091',
        __meta_cph_port_type: 'custom',
        __meta_cph_exposure: 'public',
        __meta_cph_listen_port: '6902',
        __meta_cph_status: 'running',
      },
    });
  });

  it('deprecated-field records: access_ip is public only when it differs from the intranet IP', async () => {
    const items = [
      record('legacy-public', [{ type: 'adb', listen_port: 5555, access_port: 40001, access_ip: '203.0.113.5', intranet_ip: '172.16.0.5' }]),
      record('legacy-private', [{ type: 'vnc', listen_port: 5900, access_port: 5900, access_ip: '172.16.0.6', intranet_ip: '172.16.0.6' }]),
      // Both field sets: an empty public_ip wins over an access_ip that looks public.
      record('both-empty', [{ type: 'adb', listen_port: 5555, access_port: 5555, access_ip: '198.51.100.1', intranet_ip: '172.16.0.7', server_ip: '172.16.0.7', public_ip: '' }]),
      record('new-only', [{ type: 'cph_h5_server', listen_port: 6901, access_port: 41000, server_ip: '172.16.0.8', public_ip: '198.51.100.8' }]),
    ];
    const pub = await answer(items);
    expect(pub.map((g) => [g.labels.__meta_cph_encode_server_id, g.targets[0]])).toEqual([
      ['legacy-public', '203.0.113.5:40001'],
      ['new-only', '198.51.100.8:41000'],
    ]);
    const priv = await answer(items, { exposures: ['private'] });
    expect(priv.map((g) => [g.labels.__meta_cph_encode_server_id, g.targets[0]])).toEqual([
      ['both-empty', '172.16.0.7:5555'], // adb before vnc
      ['legacy-private', '172.16.0.6:5900'],
    ]);
  });

  it('filters by port type, project and region; answers are in bucket order (adb before vnc …)', async () => {
    const items = [
      record('a', [
        { type: 'vnc', listen_port: 5900, access_port: 1, public_ip: '192.0.2.1' },
        { type: 'adb', listen_port: 5555, access_port: 2, public_ip: '192.0.2.1' },
        { type: 'port7', listen_port: 7777, access_port: 3, public_ip: '192.0.2.1' },
      ]),
    ];
    const t2 = new AccessPortsBuilder({ projectId: 'p2', region: 'ap-southeast-1' }).add(items).finish();
    const t1 = new AccessPortsBuilder(T1).add(items).finish();
    const prepared = new PreparedAccessPorts([t1, t2]);
    const ask = async (query: string): Promise<string[]> => {
      const parsed = parseSdQuery(new URLSearchParams(query));
      if (!parsed.ok) throw new Error(parsed.error);
      const groups = assertValidSdAnswer(await plainOf(prepared.answer(parsed.query)));
      return groups.map((g) => `${g.labels.__meta_cph_project_id}/${g.labels.__meta_cph_port_type}`);
    };
    expect(await ask('')).toEqual(['p1/adb', 'p1/vnc', 'p1/custom', 'p2/adb', 'p2/vnc', 'p2/custom']);
    expect(await ask('port_type=vnc&port_type=adb')).toEqual(['p1/adb', 'p1/vnc', 'p2/adb', 'p2/vnc']);
    expect(await ask('port_type=custom&project_id=p2')).toEqual(['p2/custom']);
    expect(await ask('region=cn-north-4&port_type=adb')).toEqual(['p1/adb']);
    expect(await ask('region=eu-west-101')).toEqual([]);
    expect(await ask('exposure=private')).toEqual([]);
    // The same selection asked differently is the same prepared answer.
    const a = parseSdQuery(new URLSearchParams('port_type=vnc&port_type=adb&port_type=vnc'));
    const b = parseSdQuery(new URLSearchParams('port_type=adb&port_type=vnc'));
    if (!a.ok || !b.ok) throw new Error('parse');
    expect(prepared.answer(a.query)).toBe(prepared.answer(b.query));
  });

  it('rejects unknown parameters and values with a message', async () => {
    const error = (q: string): string | undefined => {
      const r = parseSdQuery(new URLSearchParams(q));
      return r.ok ? undefined : r.error;
    };
    expect(error('porttype=adb')).toMatch(/unknown parameter "porttype"/);
    expect(error('exposure=everything')).toMatch(/exposure must be public, private or all/);
    expect(error('exposure=all&exposure=public')).toMatch(/once/);
    expect(error('port_type=ADB')).toMatch(/port_type must be one of adb, vnc, cph_app_server, cph_h5_server, custom/);
    expect(error('project_id=')).toMatch(/project_id must not be empty/);
    expect(error('exposure=all&port_type=adb&project_id=x&region=y')).toBeUndefined();
  });

  it('leaves out ports without a usable address, and counts them', async () => {
    const items = [
      record('r', [
        { type: 'adb', listen_port: 5555, public_ip: '192.0.2.1' }, // public without access_port
        { type: 'adb', listen_port: 5555, access_port: 70000, public_ip: '192.0.2.1' },
        { type: 'vnc', access_port: 5900, public_ip: '', server_ip: '172.16.0.1' }, // private without listen_port
        { type: 'vnc', listen_port: 5900, access_port: 5900, public_ip: 'not an ip!' },
        { type: 'vnc', listen_port: 5900, access_port: 5901, public_ip: '2001:db8::1' },
      ]),
    ];
    const builder = new AccessPortsBuilder(T1).add(items).finish();
    expect(builder.unaddressable).toBe(4);
    expect(new PreparedAccessPorts([builder]).totals()).toEqual({ public: 1, private: 0, unaddressable: 4 });
    expect(addresses(await answer(items))).toEqual(['[2001:db8::1]:5901']);
    expect(hostPort('cph.example.com', 443)).toBe('cph.example.com:443');
    expect(hostPort('a b', 1)).toBeUndefined();
    expect(hostPort('192.0.2.1', 0)).toBeUndefined();
  });

  it('label values are JSON strings whatever the names hold; empty lists are valid', async () => {
    const nasty = 'encode "server"\\ \n 云手机 \u2028 </script>';
    const groups = await answer([record('x"y', [{ type: 'adb', access_port: 1234, public_ip: '192.0.2.1' }], { encode_server_name: nasty, status: 77 })]);
    expect(groups[0]!.labels.__meta_cph_encode_server_name).toBe(nasty);
    expect(groups[0]!.labels.__meta_cph_encode_server_id).toBe('x"y');
    expect(groups[0]!.labels.__meta_cph_status).toBe('unknown');
    expect(groups[0]!.labels.__meta_cph_listen_port).toBe('');
    expect(await answer([])).toEqual([]);
    expect(await plainOf(new PreparedAccessPorts([]).answer(DEFAULT_SD_QUERY))).toBe('[]\n');
  });

  it('many pages of many servers: one valid array, rendered and compressed once', async () => {
    const items: EncodeServer[] = [];
    for (let i = 0; i < 1500; i++) {
      items.push(record(`es${i}`, [{ type: i % 2 ? 'adb' : 'cph_h5_server', listen_port: 5555, access_port: 20000 + i, public_ip: `192.0.2.${(i % 250) + 1}` }]));
    }
    const builder = new AccessPortsBuilder(T1);
    for (let i = 0; i < items.length; i += 100) builder.add(items.slice(i, i + 100));
    const a = new PreparedAccessPorts([builder.finish()]).answer(DEFAULT_SD_QUERY);
    expect(assertValidSdAnswer(await plainOf(a))).toHaveLength(1500);
    expect((await a.gzip()).length).toBeLessThan((await a.gzip()).plainLength / 4);
    expect(await a.gzip()).toBe(await a.gzip()); // compressed once
  });
});
