/*
 * The scopes of a cached API token, as a 16-bit number in its table slot.
 *
 * A slot has a fixed size and lives in shared memory, so it cannot hold a list of strings. Tokens
 * share few distinct sets of scopes (a handful per application), so each distinct set is interned
 * once: the request thread gives it a number, keeps the frozen array under that number, and writes
 * only the number into the slot. A cache hit then turns the number back into the same array with one
 * index, allocating nothing. Numbers are never reused or forgotten, so a number read from any slot,
 * however old, still names the set it was given for; a restarted cache worker changes nothing here,
 * since only the request thread reads and writes these numbers.
 *
 * 0 means "no scopes at all": a session's access token, which may do whatever its user may. The
 * registry holds at most 65,535 sets; past that, a token with a new set is not cached and every
 * check of it reads the database (slower, never wrong).
 */

/** The number of a session token's entry: no scope list applies. */
export const SESSION_SCOPES = 0;
const MAX_SETS = 0xffff;

export class ScopeSets {
  readonly #byKey = new Map<string, number>();
  readonly #sets: Array<readonly string[]> = [];

  /** The number of this set of scopes (order and repeats do not matter), or null when full. */
  intern(scopes: readonly string[]): number | null {
    const canonical = [...new Set(scopes)].sort();
    const key = JSON.stringify(canonical);
    const known = this.#byKey.get(key);
    if (known !== undefined) return known;
    if (this.#sets.length >= MAX_SETS) return null;
    this.#sets.push(Object.freeze(canonical));
    const id = this.#sets.length;
    this.#byKey.set(key, id);
    return id;
  }

  /** The scopes a number stands for; null for SESSION_SCOPES. */
  scopesOf(id: number): readonly string[] | null {
    if (id === SESSION_SCOPES) return null;
    const set = this.#sets[id - 1];
    if (!set) throw new Error(`ScopeSets: no set ${id}`);
    return set;
  }
}
