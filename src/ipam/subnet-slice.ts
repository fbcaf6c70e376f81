/**
 * The subnets of one family of a network, with the fill-first cursor (Go `SubnetSlice`, SPEC §4.1).
 */
import type { IPFamily } from '../net/index.ts';
import type { SubnetState } from './subnet.ts';

/**
 * Ordered subnets of one family (by name: the API list order) and a cursor `index`. Automatic selection starts at
 * the cursor and *stays* on a subnet while it has room, so subnets are filled one after another.
 */
export class SubnetSlice {
  /** Family of every subnet in the slice. */
  readonly family: IPFamily;
  /** Subnets in name order. */
  readonly subnets: readonly SubnetState[];
  /** Fill-first cursor: index into `subnets` (0 when empty). Restored by the engine on rollback. */
  index: number;
  private readonly byName: ReadonlyMap<string, SubnetState>;

  /**
   * @param subnets subnets of `family`, in any order (sorted here by name, UTF-16 code unit order — the byte order
   *   the API server lists DNS-1123 names in).
   * @param lastAllocatedSubnet the network status cursor name; unknown or empty ⇒ index 0.
   */
  constructor(family: IPFamily, subnets: readonly SubnetState[], lastAllocatedSubnet: string | undefined) {
    this.family = family;
    this.subnets = [...subnets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.byName = new Map(this.subnets.map((s) => [s.name, s]));
    const at = this.subnets.findIndex((s) => s.name === lastAllocatedSubnet);
    this.index = at < 0 ? 0 : at;
  }

  /** The subnet called `name` in this family, or `undefined`. */
  get(name: string): SubnetState | undefined {
    return this.byName.get(name);
  }

  /**
   * Go `GetAvailableSubnet`: starting at the cursor, the first subnet with `isAvailable` (free address, not
   * private), moving the cursor onto it. When none is available the cursor is back where it started.
   * O(number of subnets).
   */
  getAvailable(): SubnetState | undefined {
    const n = this.subnets.length;
    for (let k = 0; k < n; k++) {
      const i = (this.index + k) % n;
      const subnet = this.subnets[i]!;
      if (subnet.isAvailable) {
        this.index = i;
        return subnet;
      }
    }
    return undefined;
  }

  /** The first subnet (slice order) whose `contains(value)` holds, private ones included (Go `GetSubnetByIP`). */
  findContaining(value: bigint): SubnetState | undefined {
    return this.subnets.find((s) => s.contains(value));
  }

  /** Name of the cursor subnet (`status.lastAllocatedSubnet`), empty without subnets. */
  currentName(): string {
    return this.subnets[this.index]?.name ?? '';
  }

  /** Names in slice order (for error messages). */
  names(): string[] {
    return this.subnets.map((s) => s.name);
  }
}
