/*
 * The scopes of a cached API token, as a 16-bit number in its table slot.
 *
 * A slot has a fixed size and lives in shared memory, so it cannot hold a list of strings. Tokens
 * share few distinct sets of scopes (a handful per application), so each distinct set is interned
 * once: the request thread gives it a number, keeps the frozen array under that number, and writes
 * only the number into the slot. A cache hit then turns the number back into the same array with one
 * index, allocating nothing. Only the request thread reads and writes these numbers; a restarted
 * cache worker starts with an empty table, which holds none of them.
 *
 * The registry is bounded: at most 65,535 sets, and at most 4 Mi characters of scopes in all. When
 * it is full it reclaims the numbers no entry of the table holds: it asks the cache worker which
 * numbers its entries hold (the worker answers after every fill sent before the question), then
 * frees every other number except those handed out since it asked. A freed number is thus in no slot
 * and in no fill on its way to one, and reusing it can never give a token another set's scopes.
 *
 * So no one user can keep it full: a user's live tokens are capped (`apiTokens.maxPerUser`, at most
 * 32 scopes each), and a revoked token's entry leaves the table. When more sets are in use at once
 * than it holds, a token with a new set is not cached and every check of it reads the database:
 * slower, never wrong, and no one's token is refused.
 *
 * 0 means "no scopes at all": a session's access token, which may do whatever its user may.
 */

/** The number of a session token's entry: no scope list applies. */
export const SESSION_SCOPES = 0;
const MAX_SETS = 0xffff;
/** Bounds the registry's memory: every set's key (its scopes, JSON-encoded), added up. */
const MAX_CHARACTERS = 4 * 1024 * 1024;
/** A registry still full after a reclaim waits this long before the next one. */
const RECLAIM_INTERVAL_MS = 1000;

interface InternedSet {
  key: string;
  scopes: readonly string[];
}

/** What the registry needs: the token table's view of which numbers are held, and the time. */
export interface ScopeSetsOptions {
  /** The numbers the token table's entries hold (`TokenCache.scopeSetsInUse`). */
  setsInUse(): Promise<ReadonlySet<number> | null>;
  now(): number;
}

/** The registry of scope sets, interned as 16-bit numbers for the token table's slots. */
export class ScopeSets {
  readonly #byKey = new Map<string, number>();
  /** The set of number n at index n - 1; undefined once freed. */
  readonly #sets: Array<InternedSet | undefined> = [];
  readonly #free: number[] = [];
  #characters = 0;
  /** While a reclaim waits for the worker: the numbers handed out since it asked, which it must keep. */
  #handedOutSinceAsked: Set<number> | null = null;
  #lastReclaimAt = -Infinity;
  readonly #options: ScopeSetsOptions;

  constructor(options: ScopeSetsOptions) {
    this.#options = options;
  }

  /** How many sets are interned now. */
  get size(): number {
    return this.#byKey.size;
  }

  /** The number of this set of scopes (order and repeats do not matter), or null when full. */
  intern(scopes: readonly string[]): number | null {
    const canonical = [...new Set(scopes)].sort();
    const key = JSON.stringify(canonical);
    const id = this.#byKey.get(key) ?? this.#add(key, canonical);
    if (id !== null) this.#handedOutSinceAsked?.add(id);
    return id;
  }

  /** The scopes a number stands for; null for SESSION_SCOPES. */
  scopesOf(id: number): readonly string[] | null {
    if (id === SESSION_SCOPES) return null;
    const set = this.#sets[id - 1];
    if (!set) throw new Error(`ScopeSets: no set ${id}`);
    return set.scopes;
  }

  #add(key: string, canonical: string[]): number | null {
    const noNumber = this.#free.length === 0 && this.#sets.length >= MAX_SETS;
    if (noNumber || this.#characters + key.length > MAX_CHARACTERS) {
      this.#reclaim();
      return null;
    }
    const id = this.#free.pop() ?? this.#sets.length + 1;
    this.#sets[id - 1] = { key, scopes: Object.freeze(canonical) };
    this.#byKey.set(key, id);
    this.#characters += key.length;
    return id;
  }

  #reclaim(): void {
    const now = this.#options.now();
    if (this.#handedOutSinceAsked || now - this.#lastReclaimAt < RECLAIM_INTERVAL_MS) return;
    this.#lastReclaimAt = now;
    const handedOut = new Set<number>();
    this.#handedOutSinceAsked = handedOut;
    void this.#options.setsInUse().then((inUse) => {
      this.#handedOutSinceAsked = null;
      if (!inUse) return;
      this.#sets.forEach((set, index) => {
        const id = index + 1;
        if (!set || inUse.has(id) || handedOut.has(id)) return;
        this.#sets[id - 1] = undefined;
        this.#byKey.delete(set.key);
        this.#characters -= set.key.length;
        this.#free.push(id);
      });
    });
  }
}
