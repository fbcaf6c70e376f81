/**
 * Network admission (SPEC §5.2, D10): type/mode combinations, nodeSelector rules, netID rules per
 * mode (VLAN id 0–4094, BGP local AS 1–2147483647, VXLAN VNI 1–16777215, GlobalBGP none), at most
 * one Overlay and one GlobalBGP network, one underlay network per node, BGP peers, immutable fields,
 * and deletion refused while subnets (or GlobalBGP addresses on its nodes) remain.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  LABEL_NETWORK,
  NetworkMode,
  NetworkType,
  effectiveNetworkMode,
  effectiveNetworkType,
  isNetworkMode,
  isNetworkType,
  validateNetwork as decodeNetwork,
  type Network,
} from '../../api/index.ts';
import { tryParseIP } from '../../net/index.ts';
import type { AdmissionRequest } from '../admission.ts';
import { allow, deny, type Decision } from '../decision.ts';
import type { ClusterView, NodeLike } from '../view.ts';
import { Denials, show } from './denials.ts';
import { decodeObject, isDecodeError } from './objects.ts';

/** Largest VLAN id (IEEE 802.1Q: 4095 is reserved). D10. */
export const MAX_VLAN_ID = 4094;
/** Largest VXLAN network identifier (24 bits, RFC 7348). */
export const MAX_VXLAN_VNI = 16_777_215;
/** Largest AS number the int32 netID / asn fields can carry (4-byte ASNs above are out of reach). */
export const MAX_INT32_ASN = 2_147_483_647;

/** Equality selector match: every key/value of `selector` is a label of the node. */
export function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string> = {}) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/**
 * The nodes of an underlay network: those in its `status.nodeList` (written by the manager) and
 * those its nodeSelector matches now (so the check works before the manager has run).
 */
export function nodesOfNetwork(net: Network, nodes: readonly NodeLike[]): Set<string> {
  const out = new Set(net.status?.nodeList ?? []);
  for (const n of nodes) {
    if (selectorMatches(net.spec.nodeSelector, n.metadata?.labels)) out.add(n.metadata?.name ?? '');
  }
  return out;
}

function isEmptyMap(m: Record<string, string> | undefined): boolean {
  return m === undefined || Object.keys(m).length === 0;
}

/** The netID checks of one mode; also used by the subnet rules for VLAN (D10). */
export function checkVlanID(field: string, netID: number | null | undefined, d: Denials): void {
  if (netID === null || netID === undefined) return;
  if (!Number.isInteger(netID) || netID < 0 || netID > MAX_VLAN_ID) {
    d.add('network.net-id.range', `${field} ${netID} is not a valid VLAN id: must be 0–${MAX_VLAN_ID}`);
  }
}

function checkTypeAndMode(net: Network, d: Denials): { type: NetworkType; mode: NetworkMode } | undefined {
  const rawType = net.spec.type ?? '';
  const rawMode = net.spec.mode ?? '';
  if (rawType !== '' && !isNetworkType(rawType)) {
    d.add(
      'network.type.unknown',
      `spec.type ${show(rawType)} is not a network type: use Underlay, Overlay or GlobalBGP`,
    );
    return undefined;
  }
  if (rawMode !== '' && !isNetworkMode(rawMode)) {
    d.add(
      'network.mode.unknown',
      `spec.mode ${show(rawMode)} is not a network mode: use VLAN, BGP, VXLAN or GlobalBGP`,
    );
    return undefined;
  }
  const type = effectiveNetworkType(net);
  const mode = effectiveNetworkMode(net);
  const allowed: Record<NetworkMode, NetworkType> = {
    VLAN: NetworkType.Underlay,
    BGP: NetworkType.Underlay,
    VXLAN: NetworkType.Overlay,
    GlobalBGP: NetworkType.GlobalBGP,
  };
  if (allowed[mode] !== type) {
    d.add('network.mode.type', `spec.mode ${mode} is only valid for ${allowed[mode]} networks, not for type ${type}`);
    return undefined;
  }
  return { type, mode };
}

function checkBgpPeers(net: Network, d: Denials): void {
  const peers = net.spec.config?.bgpPeers ?? [];
  if (peers.length === 0) {
    d.add('network.bgp.peers', 'spec.config.bgpPeers is empty: a BGP network needs at least one BGP peer (router)');
    return;
  }
  peers.forEach((p, i) => {
    if (tryParseIP(p.address) === undefined) {
      d.add('network.bgp.peers', `spec.config.bgpPeers[${i}].address ${show(p.address)} is not a valid IP address`);
    }
    if (!Number.isInteger(p.asn) || p.asn < 1 || p.asn > MAX_INT32_ASN) {
      d.add(
        'network.bgp.peers',
        `spec.config.bgpPeers[${i}].asn ${show(p.asn)} is not a valid AS number: must be 1–${MAX_INT32_ASN}`,
      );
    }
  });
}

/** Per-mode netID and selector rules shared by CREATE and UPDATE. */
function checkModeRules(net: Network, type: NetworkType, mode: NetworkMode, d: Denials): void {
  const netID = net.spec.netID;
  if (type === NetworkType.Underlay && isEmptyMap(net.spec.nodeSelector)) {
    d.add('network.node-selector.required', 'spec.nodeSelector is empty: must have node selector for underlay network');
  }
  if (type !== NetworkType.Underlay && !isEmptyMap(net.spec.nodeSelector)) {
    d.add(
      'network.node-selector.forbidden',
      `spec.nodeSelector ${show(net.spec.nodeSelector)} must be empty for ${type === NetworkType.Overlay ? 'an Overlay' : 'a GlobalBGP'} network (it spans all nodes)`,
    );
  }
  switch (mode) {
    case NetworkMode.VLAN:
      checkVlanID('spec.netID', netID, d);
      break;
    case NetworkMode.BGP:
      if (netID === null || netID === undefined) {
        d.add(
          'network.net-id.required',
          `spec.netID is null: a BGP network must set its local AS number (1–${MAX_INT32_ASN}) in netID`,
        );
      } else if (netID < 1 || netID > MAX_INT32_ASN) {
        d.add('network.net-id.range', `spec.netID ${netID} is not a valid AS number: must be 1–${MAX_INT32_ASN}`);
      }
      checkBgpPeers(net, d);
      break;
    case NetworkMode.VXLAN:
      if (netID === null || netID === undefined) {
        d.add(
          'network.net-id.required',
          `spec.netID is null: must assign net ID for overlay network (the VXLAN VNI, 1–${MAX_VXLAN_VNI})`,
        );
      } else if (netID < 1 || netID > MAX_VXLAN_VNI) {
        d.add('network.net-id.range', `spec.netID ${netID} is not a valid VXLAN VNI: must be 1–${MAX_VXLAN_VNI}`);
      }
      break;
    case NetworkMode.GlobalBGP:
      if (netID !== null && netID !== undefined) {
        d.add('network.net-id.forbidden', `spec.netID ${netID} must be null for a GlobalBGP network`);
      }
      break;
  }
}

function validateCreate(net: Network, view: ClusterView): Decision {
  const d = new Denials();
  const tm = checkTypeAndMode(net, d);
  if (!tm) return d.decision();
  const { type, mode } = tm;
  const name = net.metadata.name ?? '';
  const others = view.listNetworks().filter((n) => n.metadata.name !== name);
  if (type === NetworkType.Overlay) {
    const existing = others.find((n) => effectiveNetworkType(n) === NetworkType.Overlay);
    if (existing) {
      d.add(
        'network.overlay.unique',
        `spec.type Overlay: overlay network ${existing.metadata.name ?? ''} already exists; must have one overlay network at most`,
      );
    }
  }
  if (type === NetworkType.GlobalBGP) {
    const existing = others.find((n) => effectiveNetworkType(n) === NetworkType.GlobalBGP);
    if (existing) {
      d.add(
        'network.globalbgp.unique',
        `spec.type GlobalBGP: global bgp network ${existing.metadata.name ?? ''} already exists; must have one global bgp network at most`,
      );
    }
  }
  checkModeRules(net, type, mode, d);
  if (type === NetworkType.Underlay && !isEmptyMap(net.spec.nodeSelector)) {
    const nodes = view.listNodes();
    const selected = nodes.filter((n) => selectorMatches(net.spec.nodeSelector, n.metadata?.labels));
    for (const other of others.filter((n) => effectiveNetworkType(n) === NetworkType.Underlay)) {
      const members = nodesOfNetwork(other, nodes);
      const clash = selected.find((n) => members.has(n.metadata?.name ?? ''));
      if (clash) {
        d.add(
          'network.underlay.overlap',
          `spec.nodeSelector ${show(net.spec.nodeSelector)} selects node ${clash.metadata?.name ?? ''}, which is ` +
            `already in underlay network ${other.metadata.name ?? ''}: underlay network cannot be overlapped`,
        );
        break;
      }
    }
  }
  return d.decision();
}

function validateUpdate(net: Network, old: Network): Decision {
  // Metadata-only updates (finalizers, labels) must pass even for objects stored before a rule
  // existed, or their deletion could never finish.
  if (isDeepStrictEqual(net.spec, old.spec)) return allow();
  const d = new Denials();
  const tm = checkTypeAndMode(net, d);
  if (!tm) return d.decision();
  const oldType = effectiveNetworkType(old);
  const oldMode = effectiveNetworkMode(old);
  if (tm.type !== oldType) {
    d.add('network.immutable', `spec.type is immutable: ${oldType} cannot change to ${tm.type}`);
  }
  if (tm.mode !== oldMode) {
    d.add('network.immutable', `spec.mode is immutable: ${oldMode} cannot change to ${tm.mode}`);
  }
  const netID = net.spec.netID ?? null;
  const oldNetID = old.spec.netID ?? null;
  if (netID !== oldNetID) {
    d.add('network.immutable', `spec.netID is immutable: ${show(oldNetID)} cannot change to ${show(netID)}`);
  }
  if (d.empty) checkModeRules(net, tm.type, tm.mode, d);
  return d.decision();
}

function validateDelete(old: Network, view: ClusterView): Decision {
  const name = old.metadata.name ?? '';
  const children = view.listSubnets().filter((s) => s.spec.network === name);
  if (children.length > 0) {
    const names = children.map((s) => s.metadata.name ?? '').join(', ');
    return deny(
      'network.delete.subnets',
      `network ${name} still has child subnet${children.length > 1 ? 's' : ''} ${names}: delete ${children.length > 1 ? 'them' : 'it'} first`,
    );
  }
  if (effectiveNetworkMode(old) === NetworkMode.BGP) {
    const global = view.listNetworks().find((n) => effectiveNetworkType(n) === NetworkType.GlobalBGP);
    if (global) {
      const members = nodesOfNetwork(old, view.listNodes());
      const inUse = view
        .listIPInstances({ labels: { [LABEL_NETWORK]: global.metadata.name ?? '' } })
        .filter((ip) => !ip.metadata.deletionTimestamp && members.has(ip.spec.binding?.nodeName ?? ''));
      const first = inUse[0];
      if (first) {
        return deny(
          'network.delete.globalbgp-ips',
          `network ${name} still has global bgp ip instances in use on its nodes: ` +
            `${first.metadata.namespace ?? ''}/${first.metadata.name ?? ''} on node ${first.spec.binding?.nodeName ?? ''}` +
            (inUse.length > 1 ? ` and ${inUse.length - 1} more` : ''),
        );
      }
    }
  }
  return allow();
}

/**
 * Judges a Network CREATE, UPDATE or DELETE (SPEC §5.2 with D10). Other operations pass.
 * @returns allowed, denied with every broken rule, or errored 400 when the object cannot be decoded.
 */
export function validateNetwork(req: AdmissionRequest, view: ClusterView): Decision {
  switch (req.operation) {
    case 'CREATE': {
      const net = decodeObject(req, 'object', decodeNetwork);
      return isDecodeError(net) ? net : validateCreate(net, view);
    }
    case 'UPDATE': {
      const net = decodeObject(req, 'object', decodeNetwork);
      if (isDecodeError(net)) return net;
      const old = decodeObject(req, 'oldObject', decodeNetwork);
      return isDecodeError(old) ? old : validateUpdate(net, old);
    }
    case 'DELETE': {
      const old = decodeObject(req, 'oldObject', decodeNetwork);
      return isDecodeError(old) ? old : validateDelete(old, view);
    }
    default:
      return allow('by pass');
  }
}
