import { describe, expect, it } from 'vitest';
import {
  autoNatOutgoing,
  effectiveNetworkMode,
  effectiveNetworkType,
  effectiveSubnetNetID,
  isPrivateSubnet,
} from './helpers.ts';

describe('effectiveNetworkType (SPEC §2.1)', () => {
  it('treats empty or absent type as Underlay', () => {
    expect(effectiveNetworkType({ spec: {} })).toBe('Underlay');
    expect(effectiveNetworkType({ spec: { type: '' } })).toBe('Underlay');
  });
  it('keeps an explicit type', () => {
    expect(effectiveNetworkType({ spec: { type: 'Overlay' } })).toBe('Overlay');
    expect(effectiveNetworkType({ spec: { type: 'GlobalBGP' } })).toBe('GlobalBGP');
  });
});

describe('effectiveNetworkMode (SPEC §2.1)', () => {
  it.each([
    [undefined, undefined, 'VLAN'],
    ['', '', 'VLAN'],
    ['Underlay', '', 'VLAN'],
    ['Overlay', undefined, 'VXLAN'],
    ['GlobalBGP', '', 'GlobalBGP'],
  ] as const)('type %j mode %j → %s', (type, mode, expected) => {
    expect(effectiveNetworkMode({ spec: { type, mode } })).toBe(expected);
  });
  it('keeps an explicit mode', () => {
    expect(effectiveNetworkMode({ spec: { type: 'Underlay', mode: 'BGP' } })).toBe('BGP');
  });
});

describe('effectiveSubnetNetID (SPEC §2.2)', () => {
  it("prefers the subnet's netID, even 0", () => {
    expect(effectiveSubnetNetID({ spec: { netID: 0 } }, { spec: { netID: 30 } })).toBe(0);
  });
  it("falls back to the network's netID when the subnet's is null or absent", () => {
    expect(effectiveSubnetNetID({ spec: { netID: null } }, { spec: { netID: 30 } })).toBe(30);
    expect(effectiveSubnetNetID({ spec: {} }, { spec: { netID: 30 } })).toBe(30);
  });
  it('is null when neither is set or the network is unknown', () => {
    expect(effectiveSubnetNetID({ spec: { netID: null } }, { spec: { netID: null } })).toBeNull();
    expect(effectiveSubnetNetID({ spec: {} }, undefined)).toBeNull();
  });
});

describe('subnet config defaults (SPEC §2.2)', () => {
  it('autoNatOutgoing defaults to true when null or absent', () => {
    expect(autoNatOutgoing({ spec: {} })).toBe(true);
    expect(autoNatOutgoing({ spec: { config: {} } })).toBe(true);
    expect(autoNatOutgoing({ spec: { config: { autoNatOutgoing: null } } })).toBe(true);
    expect(autoNatOutgoing({ spec: { config: { autoNatOutgoing: false } } })).toBe(false);
  });
  it('private defaults to false when null or absent', () => {
    expect(isPrivateSubnet({ spec: {} })).toBe(false);
    expect(isPrivateSubnet({ spec: { config: { private: null } } })).toBe(false);
    expect(isPrivateSubnet({ spec: { config: { private: true } } })).toBe(true);
  });
});
