/*
 * Ids as the token table keeps them (a UUID in four 32-bit words): a hash of one, and a set of them
 * for a pass over the table that asks, slot by slot, whether the slot's id is one of many.
 */

/** 32 well-mixed bits of the id in the four words at `at` (ids are random, but a head must not hang on one word). */
export function mixId(words: Int32Array, at: number): number {
  let h = Math.imul((words[at] as number) ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ (words[at + 1] as number), 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ (words[at + 2] as number), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ (words[at + 3] as number), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Some ids, as an open-addressed set of their words. */
export class IdSet {
  readonly #words: Int32Array;
  readonly #used: Uint8Array;
  readonly #mask: number;

  constructor(ids: readonly Int32Array[]) {
    let size = 4;
    while (size < ids.length * 2) size *= 2;
    this.#mask = size - 1;
    this.#words = new Int32Array(size * 4);
    this.#used = new Uint8Array(size);
    for (const id of ids) {
      let at = mixId(id, 0) & this.#mask;
      while (this.#used[at] === 1 && !this.#holdsAt(at, id, 0)) at = (at + 1) & this.#mask;
      this.#used[at] = 1;
      this.#words.set(id, at * 4);
    }
  }

  /** Whether the set's place `slot` holds the id in the four words of `words` at `at`. */
  #holdsAt(slot: number, words: Int32Array, at: number): boolean {
    const own = this.#words;
    const from = slot * 4;
    return own[from] === words[at] && own[from + 1] === words[at + 1] && own[from + 2] === words[at + 2] && own[from + 3] === words[at + 3];
  }

  /** Whether the id in the four words of `words` at `at` is one of the set's. */
  has(words: Int32Array, at: number): boolean {
    for (let slot = mixId(words, at) & this.#mask; this.#used[slot] === 1; slot = (slot + 1) & this.#mask) {
      if (this.#holdsAt(slot, words, at)) return true;
    }
    return false;
  }
}
