import { describe, expect, it } from 'vitest';
import * as constants from './constants.ts';
import {
  IPFamily,
  NetworkType,
  isIPFamily,
  isIPVersion,
  isNetworkMode,
  isNetworkType,
  parseGoBool,
  parseIPFamily,
  parseNetworkType,
} from './constants.ts';

describe('parseNetworkType (SPEC §1.3)', () => {
  it.each([
    ['underlay', 'Underlay'],
    ['Underlay', 'Underlay'],
    ['UNDERLAY', 'Underlay'],
    ['overlay', 'Overlay'],
    ['OverLay', 'Overlay'],
    ['globalbgp', 'GlobalBGP'],
    ['GlobalBGP', 'GlobalBGP'],
    ['GLOBALBGP', 'GlobalBGP'],
  ])('%j → %s', (text, expected) => {
    expect(parseNetworkType(text)).toBe(expected);
  });

  it('maps the empty string to Underlay by default, or to the given default', () => {
    expect(parseNetworkType('')).toBe(NetworkType.Underlay);
    expect(parseNetworkType('', NetworkType.Overlay)).toBe(NetworkType.Overlay);
  });

  it('keeps anything else verbatim so the caller can reject it', () => {
    expect(parseNetworkType('Vxlan')).toBe('Vxlan');
    expect(parseNetworkType(' overlay')).toBe(' overlay');
    expect(isNetworkType(parseNetworkType('Vxlan'))).toBe(false);
    expect(isNetworkType(parseNetworkType('overlay'))).toBe(true);
  });
});

describe('parseIPFamily (SPEC §1.3, §3.1)', () => {
  it.each([
    ['ipv4', 'IPv4Only'],
    ['IPv4', 'IPv4Only'],
    ['ipv4only', 'IPv4Only'],
    ['IPv4Only', 'IPv4Only'],
    ['ipv6', 'IPv6Only'],
    ['IPV6ONLY', 'IPv6Only'],
    ['dualstack', 'DualStack'],
    ['DualStack', 'DualStack'],
  ])('%j → %s', (text, expected) => {
    expect(parseIPFamily(text)).toBe(expected);
  });

  it('maps the empty string to IPv4Only by default, or to the given default', () => {
    expect(parseIPFamily('')).toBe(IPFamily.IPv4Only);
    expect(parseIPFamily('', IPFamily.DualStack)).toBe(IPFamily.DualStack);
  });

  it('keeps anything else verbatim so the caller can reject it', () => {
    expect(parseIPFamily('dual-stack')).toBe('dual-stack');
    expect(isIPFamily(parseIPFamily('dual-stack'))).toBe(false);
  });
});

describe('parseGoBool (strconv.ParseBool)', () => {
  it.each(['1', 't', 'T', 'TRUE', 'true', 'True'])('%j → true', (text) => {
    expect(parseGoBool(text)).toBe(true);
  });
  it.each(['0', 'f', 'F', 'FALSE', 'false', 'False'])('%j → false', (text) => {
    expect(parseGoBool(text)).toBe(false);
  });
  it.each(['', 'yes', 'no', 'tRUE', 'fALSE', ' true', 'true ', '2', 'on'])('%j → undefined', (text) => {
    expect(parseGoBool(text)).toBeUndefined();
  });
});

describe('guards', () => {
  it('accept only the canonical spellings', () => {
    expect(isNetworkMode('VXLAN')).toBe(true);
    expect(isNetworkMode('vxlan')).toBe(false);
    expect(isNetworkMode('')).toBe(false);
    expect(isIPVersion('4')).toBe(true);
    expect(isIPVersion('6')).toBe(true);
    expect(isIPVersion(4)).toBe(false);
    expect(isIPFamily('IPv4')).toBe(false);
  });
});

describe('keys (SPEC §2, §3)', () => {
  it('have the exact strings of the original', () => {
    expect(constants.NETWORKING_API_VERSION).toBe('networking.alibaba.com/v1');
    expect(constants.ANNOTATION_SPECIFIED_NETWORK).toBe('networking.alibaba.com/specified-network');
    expect(constants.ANNOTATION_SPECIFIED_SUBNET).toBe('networking.alibaba.com/specified-subnet');
    expect(constants.ANNOTATION_NETWORK_TYPE).toBe('networking.alibaba.com/network-type');
    expect(constants.ANNOTATION_IP_FAMILY).toBe('networking.alibaba.com/ip-family');
    expect(constants.ANNOTATION_IP_POOL).toBe('networking.alibaba.com/ip-pool');
    expect(constants.ANNOTATION_MAC_POOL).toBe('networking.alibaba.com/mac-pool');
    expect(constants.ANNOTATION_IP_RETAIN).toBe('networking.alibaba.com/ip-retain');
    expect(constants.ANNOTATION_GLOBAL_SERVICE).toBe('networking.alibaba.com/global-service');
    expect(constants.ANNOTATION_HANDLED_BY_WEBHOOK).toBe('networking.alibaba.com/handled-by-webhook');
    expect(constants.ANNOTATION_CALICO_POD_IPS).toBe('cni.projectcalico.org/podIPs');
    expect(constants.ANNOTATION_CALICO_POD_IP).toBe('cni.projectcalico.org/podIP');
    expect(constants.LABEL_WEBHOOK_IGNORE).toBe('webhook.hybridnet.io/ignore');
    expect(constants.LABEL_VERSION).toBe('networking.alibaba.com/version');
    expect(constants.IPINSTANCE_LATEST_VERSION).toBe('v1.2');
    expect(constants.LABEL_POD_UID).toBe('networking.alibaba.com/pod-uid');
    expect(constants.LABEL_VM).toBe('networking.alibaba.com/vm');
    expect(constants.LABEL_BGP_NETWORK_ATTACHMENT).toBe('networking.alibaba.com/bgp-network-attachment');
    expect(constants.LABEL_DUALSTACK_ADDRESS_QUOTA).toBe('networking.alibaba.com/dualstack-address-quota');
    expect(constants.QuotaValue).toEqual({ NonEmpty: 'nonempty', Empty: 'empty' });
    expect(constants.FINALIZER_IP_ALLOCATED).toBe('networking.alibaba.com/ip-allocated');
    expect(constants.FINALIZER_METRICS_REGISTERED).toBe('networking.alibaba.com/metrics-registered');
    expect(constants.TAINT_NETWORK_UNAVAILABLE).toBe('node.kubernetes.io/network-unavailable');
    expect(constants.DEFAULT_STATEFUL_WORKLOAD_KINDS).toEqual(['StatefulSet']);
    expect(constants.DEFAULT_IP_RETAIN).toBe(true);
  });

  it('never give two different concepts the same key, except the annotation/label pairs SPEC §3.1 shares', () => {
    const shared = new Set(['SPECIFIED_NETWORK', 'SPECIFIED_SUBNET', 'NETWORK_TYPE']);
    const byValue = new Map<string, string[]>();
    for (const [name, value] of Object.entries(constants)) {
      if (!/^(ANNOTATION|LABEL|FINALIZER|TAINT)_/.test(name) || typeof value !== 'string') continue;
      byValue.set(value, [...(byValue.get(value) ?? []), name]);
    }
    for (const [value, names] of byValue) {
      if (names.length === 1) continue;
      const concepts = new Set(names.map((n) => n.replace(/^(ANNOTATION|LABEL)_/, '')));
      expect({ value, names, shared: concepts.size === 1 && shared.has([...concepts][0] ?? '') }).toEqual({
        value,
        names,
        shared: true,
      });
    }
  });
});
