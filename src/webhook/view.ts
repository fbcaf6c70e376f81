/**
 * The read-only cluster view the admission rules judge against, and an in-memory store that
 * implements it. The server fills the store from informers (see `cache.ts`); unit tests fill it
 * directly. All reads are synchronous: rules are pure functions of (request, view).
 */
import type { IPInstance, Network, Subnet } from '../api/index.ts';
import type { IPInstanceFilter, NamespaceLike, ObjectMetaLike, SelectionView } from '../selection/index.ts';

/** A Node as the rules need it: name and labels. */
export interface NodeLike {
  metadata?: ObjectMetaLike;
}

/** Everything the webhook rules read. Returned objects must not be mutated. */
export interface ClusterView extends SelectionView {
  listNetworks(): readonly Network[];
  listSubnets(): readonly Subnet[];
  getNamespace(name: string): NamespaceLike | undefined;
  listNodes(): readonly NodeLike[];
}

/** The kinds the store holds. */
export type StoreKind = 'networks' | 'subnets' | 'ipinstances' | 'namespaces' | 'nodes';

interface Keyed {
  metadata?: { name?: string; namespace?: string };
}

function keyOf(obj: Keyed): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name ?? ''}` : (obj.metadata?.name ?? '');
}

function labelsMatch(labels: Record<string, string> | undefined, want: Record<string, string> | undefined): boolean {
  if (!want) return true;
  for (const [k, v] of Object.entries(want)) if (labels?.[k] !== v) return false;
  return true;
}

/**
 * An in-memory {@link ClusterView}: one map per kind keyed by `name` or `namespace/name`, with
 * replace (after a list), upsert and delete (watch events). Lists are returned sorted by key, like
 * API server lists.
 */
export class ClusterStore implements ClusterView {
  private readonly maps: Record<StoreKind, Map<string, Keyed>> = {
    networks: new Map(),
    subnets: new Map(),
    ipinstances: new Map(),
    namespaces: new Map(),
    nodes: new Map(),
  };

  /** Replaces every object of `kind` (the result of a fresh list). */
  replace(kind: StoreKind, objects: readonly Keyed[]): void {
    const m = this.maps[kind];
    m.clear();
    for (const o of objects) m.set(keyOf(o), o);
  }

  /** Adds or replaces one object (ADDED / MODIFIED watch events). */
  upsert(kind: StoreKind, obj: Keyed): void {
    this.maps[kind].set(keyOf(obj), obj);
  }

  /** Removes one object (DELETED watch events). */
  remove(kind: StoreKind, obj: Keyed): void {
    this.maps[kind].delete(keyOf(obj));
  }

  /** Number of objects of `kind` (for logs and tests). */
  size(kind: StoreKind): number {
    return this.maps[kind].size;
  }

  private sorted<T>(kind: StoreKind): T[] {
    return [...this.maps[kind].entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v as T);
  }

  getNetwork(name: string): Network | undefined {
    return this.maps.networks.get(name) as Network | undefined;
  }

  getSubnet(name: string): Subnet | undefined {
    return this.maps.subnets.get(name) as Subnet | undefined;
  }

  getNamespace(name: string): NamespaceLike | undefined {
    return this.maps.namespaces.get(name);
  }

  listNetworks(): readonly Network[] {
    return this.sorted<Network>('networks');
  }

  listSubnets(): readonly Subnet[] {
    return this.sorted<Subnet>('subnets');
  }

  listNodes(): readonly NodeLike[] {
    return this.sorted<NodeLike>('nodes');
  }

  listIPInstances(filter: IPInstanceFilter): readonly IPInstance[] {
    const out: [string, IPInstance][] = [];
    for (const [key, obj] of this.maps.ipinstances) {
      const ip = obj as IPInstance;
      if (filter.namespace !== undefined && ip.metadata.namespace !== filter.namespace) continue;
      if (!labelsMatch(ip.metadata.labels, filter.labels)) continue;
      out.push([key, ip]);
    }
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  }
}
