import { describe, expect, it } from 'vitest';
import {
  buildResult,
  CniCode,
  CniError,
  daemonRequest,
  MAX_SOCKET_PATH_BYTES,
  MAX_TIMEOUT_SECONDS,
  parseCniArgs,
  parseConfig,
  parseAddResponse,
  parseInvocation,
  versionResult,
  type DaemonAddResponse,
} from './spec.ts';

const conf = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ cniVersion: '1.0.0', name: 'hybridnet', type: 'hybridnet', server_socket: '/run/x.sock', ...extra });

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof CniError) return err.code;
    throw err;
  }
  return undefined;
}

const env = (extra: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'abc123',
  CNI_NETNS: '/var/run/netns/p',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_UID=u1',
  ...extra,
});

const daemonAnswer: DaemonAddResponse = {
  address: [
    { ip: '10.0.0.5/24', mac: '02:12:34:aa:bb:cc', gateway: '10.0.0.1', protocol: '4' },
    { ip: 'fd00::5/64', mac: '02:12:34:aa:bb:cc', gateway: 'fd00::1', protocol: '6' },
  ],
  host_interface: 'hybr0123456789a',
  host_mac: 'ee:ee:ee:ee:ee:ee',
  container_interface: 'eth0',
  mtu: 1450,
  error: '',
};

describe('parseConfig (CNI spec §"Network configuration", SPEC §6.1)', () => {
  it('accepts the shipped configuration and reads server_socket', () => {
    const c = parseConfig(conf());
    expect(c).toMatchObject({
      cniVersion: '1.0.0',
      name: 'hybridnet',
      serverSocket: '/run/x.sock',
      timeoutMs: 120_000,
    });
  });
  it('refuses malformed JSON with code 6', () => {
    expect(codeOf(() => parseConfig('{nope'))).toBe(CniCode.DecodingFailure);
    expect(codeOf(() => parseConfig('[1]'))).toBe(CniCode.DecodingFailure);
  });
  it('refuses a missing server_socket with code 7 and the original message', () => {
    const raw = JSON.stringify({ cniVersion: '1.0.0', name: 'n' });
    expect(() => parseConfig(raw)).toThrow('server_socket is required in cni.conf');
    expect(codeOf(() => parseConfig(raw))).toBe(CniCode.InvalidConfig);
  });
  it('refuses a server_socket longer than sun_path or with a NUL with code 7 (Node.js would truncate it)', () => {
    const at = (n: number): string => '/run/' + 'é'.repeat((n - 5) / 2);
    expect(parseConfig(conf({ server_socket: at(MAX_SOCKET_PATH_BYTES) })).serverSocket).toBe(at(107));
    expect(codeOf(() => parseConfig(conf({ server_socket: at(MAX_SOCKET_PATH_BYTES + 2) })))).toBe(
      CniCode.InvalidConfig,
    );
    expect(() => parseConfig(conf({ server_socket: at(109) }))).toThrow(/109 bytes, at most 107/);
    expect(codeOf(() => parseConfig(conf({ server_socket: '/run/a\0b.sock' })))).toBe(CniCode.InvalidConfig);
  });
  it('refuses a daemon_timeout_seconds beyond what a timer holds with code 7', () => {
    expect(parseConfig(conf({ daemon_timeout_seconds: MAX_TIMEOUT_SECONDS })).timeoutMs).toBe(2_147_483_000);
    expect(() => parseConfig(conf({ daemon_timeout_seconds: 1e12 }))).toThrow(/at most 2147483, not 1000000000000/);
    expect(codeOf(() => parseConfig(conf({ daemon_timeout_seconds: 'abc' })))).toBe(CniCode.InvalidConfig);
  });
  it('refuses unknown versions with code 1 and lists the supported ones', () => {
    expect(codeOf(() => parseConfig(conf({ cniVersion: '9.9.9' })))).toBe(CniCode.IncompatibleVersion);
  });
  it('refuses an ipam section with code 2 (addresses come from the manager)', () => {
    expect(codeOf(() => parseConfig(conf({ ipam: { type: 'host-local' } })))).toBe(CniCode.UnsupportedField);
  });
  it('reads GC valid attachments', () => {
    const c = parseConfig(
      conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }] }),
    );
    expect(c.validAttachments).toEqual([{ containerID: 'a', ifname: 'eth0' }]);
  });
});

describe('parseCniArgs / parseInvocation (CNI spec §"Parameters", D4)', () => {
  it('reads K8S_* args and honours IgnoreUnknown', () => {
    expect(parseCniArgs('IgnoreUnknown=1;K8S_POD_NAME=a;K8S_POD_NAMESPACE=b;FOO=bar')).toEqual({
      podName: 'a',
      podNamespace: 'b',
    });
    expect(codeOf(() => parseCniArgs('K8S_POD_NAME=a;FOO=bar'))).toBe(CniCode.InvalidEnv);
    expect(codeOf(() => parseCniArgs('garbage'))).toBe(CniCode.InvalidEnv);
  });
  it('requires the env of each command (code 4)', () => {
    const c = parseConfig(conf());
    expect(codeOf(() => parseInvocation(env({ CNI_COMMAND: undefined }), c))).toBe(CniCode.InvalidEnv);
    expect(codeOf(() => parseInvocation(env({ CNI_COMMAND: 'FROB' }), c))).toBe(CniCode.InvalidEnv);
    expect(codeOf(() => parseInvocation(env({ CNI_NETNS: '' }), c))).toBe(CniCode.InvalidEnv);
    expect(codeOf(() => parseInvocation(env({ CNI_ARGS: '' }), c))).toBe(CniCode.InvalidEnv);
    expect(() => parseInvocation(env({ CNI_ARGS: 'K8S_POD_NAMESPACE=x' }), c)).toThrow('K8S_POD_NAME is required');
    expect(codeOf(() => parseInvocation(env({ CNI_IFNAME: 'a/b' }), c))).toBe(CniCode.InvalidEnv);
    expect(codeOf(() => parseInvocation(env({ CNI_IFNAME: 'x'.repeat(16) }), c))).toBe(CniCode.InvalidEnv);
  });
  it('takes pod identity from args.cni of the configuration when CNI_ARGS lacks it (ctr run --cni); CNI_ARGS wins', () => {
    const c = parseConfig(conf({ args: { cni: { K8S_POD_NAMESPACE: 'ns2', K8S_POD_NAME: 'p2', other: 1 } } }));
    expect(parseInvocation(env({ CNI_ARGS: '' }), c).args).toEqual({ podNamespace: 'ns2', podName: 'p2' });
    expect(parseInvocation(env({ CNI_ARGS: 'K8S_POD_NAME=p3' }), c).args).toEqual({
      podNamespace: 'ns2',
      podName: 'p3',
    });
    expect(codeOf(() => parseConfig(conf({ args: { cni: { K8S_POD_NAME: 7 } } })))).toBe(CniCode.InvalidConfig);
    expect(() => parseConfig(conf({ args: [] }))).toThrow('args must be a JSON object');
    expect(parseConfig(conf({ args: { other: { x: 1 } } })).configArgs).toEqual({});
  });
  it('accepts any valid interface name (D4) and a DEL without netns or pod args', () => {
    const c = parseConfig(conf());
    expect(parseInvocation(env({ CNI_IFNAME: 'net1' }), c).ifName).toBe('net1');
    const del = parseInvocation(env({ CNI_COMMAND: 'DEL', CNI_NETNS: '', CNI_ARGS: '' }), c);
    expect(del).toMatchObject({ command: 'DEL', netns: '', containerID: 'abc123' });
  });
  it('CHECK needs 0.4.0+ and a prevResult; STATUS and GC need 1.1.0', () => {
    expect(
      codeOf(() => parseInvocation(env({ CNI_COMMAND: 'CHECK' }), parseConfig(conf({ cniVersion: '0.3.1' })))),
    ).toBe(CniCode.IncompatibleVersion);
    expect(codeOf(() => parseInvocation(env({ CNI_COMMAND: 'CHECK' }), parseConfig(conf())))).toBe(
      CniCode.InvalidConfig,
    );
    expect(codeOf(() => parseInvocation(env({ CNI_COMMAND: 'STATUS' }), parseConfig(conf())))).toBe(
      CniCode.IncompatibleVersion,
    );
    expect(parseInvocation(env({ CNI_COMMAND: 'STATUS' }), parseConfig(conf({ cniVersion: '1.1.0' }))).command).toBe(
      'STATUS',
    );
  });
  it('builds the daemon request of SPEC §6.3 plus if_name and uid', () => {
    const inv = parseInvocation(env(), parseConfig(conf()));
    expect(daemonRequest(inv)).toEqual({
      pod_name: 'web-0',
      pod_namespace: 'default',
      pod_uid: 'u1',
      container_id: 'abc123',
      net_ns: '/var/run/netns/p',
      if_name: 'eth0',
      network_name: 'hybridnet',
    });
  });
});

describe('buildResult (D3)', () => {
  it('1.0.0: both interfaces, ips on the container interface, the real gateways', () => {
    const inv = parseInvocation(env(), parseConfig(conf()));
    expect(buildResult(inv, daemonAnswer)).toEqual({
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'hybr0123456789a', mac: 'ee:ee:ee:ee:ee:ee' },
        { name: 'eth0', mac: '02:12:34:aa:bb:cc', sandbox: '/var/run/netns/p' },
      ],
      ips: [
        { address: '10.0.0.5/24', gateway: '169.254.1.1', interface: 1 },
        { address: 'fd00::5/64', gateway: 'fe80::ecee:eeff:feee:eeee', interface: 1 },
      ],
      routes: [
        { dst: '0.0.0.0/0', gw: '169.254.1.1' },
        { dst: '::/0', gw: 'fe80::ecee:eeff:feee:eeee' },
      ],
      dns: {},
    });
  });
  it('0.3.1 carries ips[].version; 1.1.0 carries mtu; 0.2.0 uses ip4/ip6', () => {
    const r031 = buildResult(parseInvocation(env(), parseConfig(conf({ cniVersion: '0.3.1' }))), daemonAnswer) as {
      ips: { version: string }[];
    };
    expect(r031.ips.map((i) => i.version)).toEqual(['4', '6']);
    const r110 = buildResult(parseInvocation(env(), parseConfig(conf({ cniVersion: '1.1.0' }))), daemonAnswer) as {
      interfaces: { mtu?: number }[];
    };
    expect(r110.interfaces.map((i) => i.mtu)).toEqual([1450, 1450]);
    const r020 = buildResult(parseInvocation(env(), parseConfig(conf({ cniVersion: '0.2.0' }))), daemonAnswer);
    expect(r020).toMatchObject({ ip4: { ip: '10.0.0.5/24', gateway: '169.254.1.1' }, ip6: { ip: 'fd00::5/64' } });
  });
  it('VERSION lists every supported version', () => {
    expect(versionResult('0.4.0')).toEqual({
      cniVersion: '0.4.0',
      supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
  });
});

describe('hostile input (issue #5/#6 hardening)', () => {
  const c = parseConfig(conf());

  it.each(["';reboot;'", '#x', 'e$IFS', '..', '.x', '-x', 'a"b', "a'b", 'a;b', 'a`b`'])(
    'refuses CNI_IFNAME %j: it would be a command in the daemon’s ip -batch or sh -c',
    (ifName) => {
      expect(codeOf(() => parseInvocation(env({ CNI_IFNAME: ifName }), c))).toBe(CniCode.InvalidEnv);
    },
  );

  it('accepts the usual interface names', () => {
    for (const ifName of ['eth0', 'net1', 'eth0.100', 'vlan_2', 'e-1'])
      expect(parseInvocation(env({ CNI_IFNAME: ifName }), c).ifName).toBe(ifName);
  });

  it.each([
    ['not JSON', '<html>oops', /not JSON/],
    ['JSON null', 'null', /not a JSON object/],
    ['no address list', '{"host_interface":"h"}', /no address list/],
    ['address not a list', '{"host_interface":"h","address":"x"}', /no address list/],
    ['an address without ip', '{"host_interface":"h","address":[{"mac":"m","protocol":"4"}]}', /\{ip, mac/],
    ['an unknown protocol', '{"host_interface":"h","address":[{"ip":"i","mac":"m","protocol":"ipv4"}]}', /\{ip/],
    ['no host_interface', '{"address":[{"ip":"i","mac":"m","protocol":"4"}]}', /host_interface/],
  ])('reports a daemon ADD answer with %s as code 100 quoting it (was code 5 with a TypeError)', (_w, body, msg) => {
    let err: unknown;
    try {
      parseAddResponse(body);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).code).toBe(CniCode.DaemonFailure);
    expect((err as CniError).message).toMatch(msg);
  });

  it('decodes a well-formed daemon ADD answer', () => {
    const body = JSON.stringify({
      address: [{ ip: '10.0.0.2/24', mac: '02:00:00:00:00:01', protocol: '4' }],
      host_interface: 'hybr0',
      error: '',
    });
    expect(parseAddResponse(body).host_interface).toBe('hybr0');
  });
});
