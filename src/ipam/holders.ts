/**
 * Compact storage of "who holds an address" (SPEC §4.1 UsingIPs entries: namespace, pod name, pod UID, node).
 *
 * One slot per held address, addressed by a small integer, so a subnet's used-address index is a
 * `Map<bigint, number>` and no object is created per allocation. Pod names and UIDs sit in two pooled string arrays;
 * namespaces and node names (few distinct values) are interned and stored as `Int32Array` indexes. Freed slots are
 * reused. About 24 bytes per slot plus the strings themselves (which the caller's objects already hold).
 *
 * Status is derived exactly like the CRD does it: a holder whose node name is empty is *Reserved* (retained, not in
 * use), otherwise *Allocated* (SPEC §2.3 `binding.nodeName`).
 */

/** Maps strings to dense indexes and back; index 0 is always the empty string. */
class Interner {
  private readonly index = new Map<string, number>([['', 0]]);
  private readonly values: string[] = [''];

  idOf(value: string): number {
    let id = this.index.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.index.set(value, id);
    }
    return id;
  }

  valueOf(id: number): string {
    return this.values[id] ?? '';
  }
}

/** Holder status as in the original (`IPStatusUsing` is called Allocated here, SPEC §4.1 step 6). */
export type HolderStatus = 'Allocated' | 'Reserved';

/** A pool of holder records addressed by slot number. Not thread-safe (nothing here is; JS is single-threaded). */
export class HolderTable {
  private podNames: string[] = [];
  private podUIDs: string[] = [];
  private namespaceIds = new Int32Array(16);
  private nodeIds = new Int32Array(16);
  private readonly freeSlots: number[] = [];
  private highWater = 0;
  private liveCount = 0;
  private readonly namespaces = new Interner();
  private readonly nodes = new Interner();

  /** Number of live holder records. */
  get size(): number {
    return this.liveCount;
  }

  /** Stores a holder and returns its slot. An empty `nodeName` makes it Reserved. */
  add(namespace: string, podName: string, podUID: string, nodeName: string): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.highWater++;
      if (slot >= this.namespaceIds.length) this.grow();
    }
    this.liveCount++;
    this.set(slot, namespace, podName, podUID, nodeName);
    return slot;
  }

  /** Overwrites the holder in `slot`. */
  set(slot: number, namespace: string, podName: string, podUID: string, nodeName: string): void {
    this.namespaceIds[slot] = this.namespaces.idOf(namespace);
    this.nodeIds[slot] = this.nodes.idOf(nodeName);
    this.podNames[slot] = podName;
    this.podUIDs[slot] = podUID;
  }

  /** Marks the holder Reserved, keeping namespace and pod name; clears node and pod UID (SPEC §4.6 IPReserve). */
  markReserved(slot: number): void {
    this.nodeIds[slot] = 0;
    this.podUIDs[slot] = '';
  }

  /** Frees `slot` for reuse and drops its string references. */
  remove(slot: number): void {
    this.podNames[slot] = '';
    this.podUIDs[slot] = '';
    this.namespaceIds[slot] = 0;
    this.nodeIds[slot] = 0;
    this.freeSlots.push(slot);
    this.liveCount--;
  }

  /** Namespace of the holder (empty for none). */
  namespace(slot: number): string {
    return this.namespaces.valueOf(this.namespaceIds[slot] ?? 0);
  }

  /** Pod name of the holder (`binding.podName`; may be empty for a VM reservation). */
  podName(slot: number): string {
    return this.podNames[slot] ?? '';
  }

  /** Pod UID of the holder (`binding.podUID`; empty once Reserved). */
  podUID(slot: number): string {
    return this.podUIDs[slot] ?? '';
  }

  /** Node of the holder (`binding.nodeName`); empty ⇔ Reserved. */
  nodeName(slot: number): string {
    return this.nodes.valueOf(this.nodeIds[slot] ?? 0);
  }

  /** Allocated when the holder has a node, else Reserved (SPEC §2.3). */
  status(slot: number): HolderStatus {
    return this.nodeIds[slot] === 0 ? 'Reserved' : 'Allocated';
  }

  /** Whether the holder of `slot` is the pod `namespace/podName` (SPEC §4.2 Assign "same namespace+podName"). */
  isPod(slot: number, namespace: string, podName: string): boolean {
    return this.podNames[slot] === podName && this.namespace(slot) === namespace;
  }

  private grow(): void {
    const capacity = this.namespaceIds.length * 2;
    const ns = new Int32Array(capacity);
    ns.set(this.namespaceIds);
    this.namespaceIds = ns;
    const nodes = new Int32Array(capacity);
    nodes.set(this.nodeIds);
    this.nodeIds = nodes;
  }
}
