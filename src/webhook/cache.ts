/**
 * The webhook's cluster view backed by informers (list+watch with relist on error, capped backoff
 * and a staleness check: `src/kube/informer.ts`). Five kinds are cached: Networks, Subnets,
 * IPInstances (all namespaces), Namespaces and Nodes.
 *
 * Why informers rather than direct reads: the rules are synchronous pure functions, admission has
 * a 10 s budget, and every pod admission needs networks, subnets and the pod's IPInstances; a
 * cache answers in microseconds and keeps API server load flat. The price is staleness of a few
 * milliseconds after a write — the same trade-off as the original (controller-runtime cache).
 * `/readyz` reports ready only after every informer has completed its first LIST.
 *
 * Objects that do not match their schema (stored before a schema change) are skipped on read and
 * logged once per resourceVersion, so one bad object cannot make every admission error.
 */
import type { Logger } from 'pino';
import {
  IPInstanceResource,
  LABEL_NETWORK,
  LABEL_POD,
  LABEL_SUBNET,
  NetworkResource,
  SubnetResource,
  isIPInstance,
  isNetwork,
  isSubnet,
  type IPInstance,
  type Network,
  type Subnet,
} from '../api/index.ts';
import {
  Informer,
  NamespacesPath,
  NodesPath,
  resourcePath,
  type KubeClient,
  type KubeObject,
  type ResourcePath,
} from '../kube/index.ts';
import type { IPInstanceFilter, NamespaceLike } from '../selection/index.ts';
import type { ClusterView, NodeLike } from './view.ts';

const INDEX_POD = 'pod';
const INDEX_SUBNET = 'subnet';
const INDEX_NETWORK = 'network';

function byName<T extends KubeObject>(a: T, b: T): number {
  const ka = `${a.metadata?.namespace ?? ''}/${a.metadata?.name ?? ''}`;
  const kb = `${b.metadata?.namespace ?? ''}/${b.metadata?.name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Options of {@link InformerClusterView}. */
export interface InformerClusterViewOptions {
  logger: Logger;
  /** Passed to every informer (ms); default 5 min. */
  staleAfterMs?: number;
}

/** A {@link ClusterView} over five informers. Call {@link run}, then wait for {@link hasSynced}. */
export class InformerClusterView implements ClusterView {
  private readonly networks: Informer<KubeObject>;
  private readonly subnets: Informer<KubeObject>;
  private readonly ipinstances: Informer<KubeObject>;
  private readonly namespaces: Informer<KubeObject>;
  private readonly nodes: Informer<KubeObject>;
  private readonly warned = new Set<string>();

  constructor(
    client: KubeClient,
    private readonly opts: InformerClusterViewOptions,
  ) {
    const make = (r: ResourcePath): Informer<KubeObject> =>
      new Informer<KubeObject>(client, {
        path: resourcePath(r),
        logger: opts.logger.child({ informer: r.plural }),
        ...(opts.staleAfterMs !== undefined ? { staleAfterMs: opts.staleAfterMs } : {}),
      });
    this.networks = make(NetworkResource);
    this.subnets = make(SubnetResource);
    this.ipinstances = make(IPInstanceResource);
    this.namespaces = make(NamespacesPath);
    this.nodes = make(NodesPath);
    const label = (key: string) => (o: KubeObject) => {
      const v = o.metadata?.labels?.[key];
      return v === undefined ? [] : [v];
    };
    this.ipinstances.addIndex(INDEX_POD, (o) => {
      const v = o.metadata?.labels?.[LABEL_POD];
      return v === undefined ? [] : [`${o.metadata?.namespace ?? ''}/${v}`];
    });
    this.ipinstances.addIndex(INDEX_SUBNET, label(LABEL_SUBNET));
    this.ipinstances.addIndex(INDEX_NETWORK, label(LABEL_NETWORK));
  }

  private all(): Informer<KubeObject>[] {
    return [this.networks, this.subnets, this.ipinstances, this.namespaces, this.nodes];
  }

  /** Runs every informer until `signal` aborts (never rejects on API errors: they relist with backoff). */
  run(signal: AbortSignal): Promise<void> {
    return Promise.all(this.all().map((i) => i.run(signal))).then(() => undefined);
  }

  /** True once every informer completed its first LIST. */
  hasSynced(): boolean {
    return this.all().every((i) => i.hasSynced());
  }

  /** Resolves when synced; rejects when `signal` aborts first. */
  async waitForSync(signal: AbortSignal): Promise<void> {
    await Promise.all(this.all().map((i) => i.waitForSync(signal)));
  }

  private valid<T>(o: KubeObject | undefined, guard: (x: unknown) => x is T, kind: string): T | undefined {
    if (o === undefined) return undefined;
    if (guard(o)) return o;
    const id = `${kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}@${o.metadata?.resourceVersion ?? ''}`;
    if (!this.warned.has(id)) {
      this.warned.add(id);
      this.opts.logger.warn({ object: id }, 'cached object does not match its schema; the admission rules ignore it');
    }
    return undefined;
  }

  private validList<T>(objs: KubeObject[], guard: (x: unknown) => x is T, kind: string): T[] {
    return objs
      .sort(byName)
      .map((o) => this.valid(o, guard, kind))
      .filter((o): o is T => o !== undefined);
  }

  getNetwork(name: string): Network | undefined {
    return this.valid(this.networks.get(name), isNetwork, 'Network');
  }

  getSubnet(name: string): Subnet | undefined {
    return this.valid(this.subnets.get(name), isSubnet, 'Subnet');
  }

  getNamespace(name: string): NamespaceLike | undefined {
    return this.namespaces.get(name);
  }

  listNetworks(): readonly Network[] {
    return this.validList(this.networks.list(), isNetwork, 'Network');
  }

  listSubnets(): readonly Subnet[] {
    return this.validList(this.subnets.list(), isSubnet, 'Subnet');
  }

  listNodes(): readonly NodeLike[] {
    return this.nodes.list().sort(byName);
  }

  listIPInstances(filter: IPInstanceFilter): readonly IPInstance[] {
    const labels = filter.labels ?? {};
    let candidates: KubeObject[];
    const pod = labels[LABEL_POD];
    if (pod !== undefined && filter.namespace !== undefined) {
      candidates = this.ipinstances.byIndex(INDEX_POD, `${filter.namespace}/${pod}`);
    } else if (labels[LABEL_SUBNET] !== undefined) {
      candidates = this.ipinstances.byIndex(INDEX_SUBNET, labels[LABEL_SUBNET]);
    } else if (labels[LABEL_NETWORK] !== undefined) {
      candidates = this.ipinstances.byIndex(INDEX_NETWORK, labels[LABEL_NETWORK]);
    } else {
      candidates = this.ipinstances.list();
    }
    const matching = candidates.filter(
      (o) =>
        (filter.namespace === undefined || o.metadata?.namespace === filter.namespace) &&
        Object.entries(labels).every(([k, v]) => o.metadata?.labels?.[k] === v),
    );
    return this.validList(matching, isIPInstance, 'IPInstance');
  }
}
