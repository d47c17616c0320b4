// A bounded memo for hot lookups (user agents, dates) that repeat heavily.
//
// Public API:
//   BoundedCache<K, V>(size)   get(key) / set(key, value) / size
//
// Least recently used entries go first, approximately: two generations, the
// older dropped whole once the newer holds `size` entries, and an entry found
// in the older one moves to the newer. (A single Map used as an LRU, deleting
// its oldest key on every insert, degrades as deleted slots pile up.)
export class BoundedCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`cache size must be a positive integer, not ${capacity}`);
  }

  /** Entries held, at most twice the capacity. */
  get size(): number {
    return this.young.size + this.old.size;
  }

  get(key: K): V | undefined {
    const young = this.young.get(key);
    if (young !== undefined) return young;
    const old = this.old.get(key);
    if (old !== undefined) {
      this.old.delete(key);
      this.promote(key, old);
    }
    return old;
  }

  set(key: K, value: V): void {
    this.old.delete(key);
    this.promote(key, value);
  }

  private promote(key: K, value: V): void {
    this.young.set(key, value);
    if (this.young.size >= this.capacity) {
      this.old = this.young;
      this.young = new Map();
    }
  }
}
