/*
 * The token table: a fixed-size open-addressing hash table in a SharedArrayBuffer, so that every
 * thread of the process reads the same entries and a million of them cost the garbage collector
 * nothing. One thread writes (the cache worker); any number read, without locks.
 *
 * Each slot carries a sequence number: the writer makes it odd before it touches the slot and even
 * again after. A reader notes it, reads, and reads it again; a change means the read may be torn, and
 * the reader tries again. Every access to a slot is an `Atomics` one: plain typed-array accesses are
 * not ordered against the sequence number, and a weakly ordered CPU (ARM) would reorder them. An
 * `Atomics` access costs several times a plain one, so a slot is sixteen 32-bit words, read a word
 * at a time, never a byte. An entry is keyed by the SHA-256 of the whole token, so finding it is also
 * proof of the secret.
 *
 * Slot layout (64 bytes, one cache line: a lookup in a table too big for the CPU's caches costs one
 * miss from memory, or two when the probe goes on to the next slot):
 *   word 0      sequence
 *   word 1      state (low 16 bits: EMPTY, LIVE or DELETED; a deleted slot keeps probe chains
 *               intact) and scope set (high 16 bits: 0 for a session's token, else an API token's
 *               interned scopes, scope-sets.ts)
 *   words 2-3   expiry, milliseconds since the epoch (high and low 32 bits: Atomics has no float64)
 *   words 4-7   the first 128 bits of the token hash
 *   words 8-11  user id (a UUID, its bytes in order, four to a word, the first the most significant)
 *   words 12-15 session id (a UUID; an API token's own id)
 * Header (64 bytes): word 0 = trusted flag, word 1 = revocation count.
 *
 * The table has half as many slots again as its capacity, so that it is at most two-thirds full when
 * it holds as many entries as it was sized for: a lookup then finds its entry in its home slot or the
 * next one, where a table sized to a power of two just above the capacity would probe ten slots.
 */

const HEADER_WORDS = 16;
const SLOT_WORDS = 16;
const SEQUENCE = 0;
const STATE_AND_SCOPE = 1;
const EXPIRES = 2;
const KEY = 4;
const USER = 8;
const SESSION = 12;
/** Base64url characters of the token hash the key is made of: 22 × 6 bits, of which 128 are kept. */
const KEY_CHARACTERS = 22;
const EMPTY = 0;
const LIVE = 1;
const DELETED = 2;
const STATE_MASK = 0xffff;
const TRUSTED_WORD = 0;
const REVOCATIONS_WORD = 1;
/** An entry lives in one of this many slots from its home slot; the rest of a full window is evicted. */
const PROBE_WINDOW = 16;
/** Slots per entry of capacity: at most two-thirds full, and 96 bytes per entry of capacity. */
const SLOTS_PER_ENTRY = 1.5;
/** A reader that keeps meeting a slot mid-write gives up and lets the database answer. */
const MAX_RETRIES = 64;
/**
 * Entries a reader remembers, each under its slot's index modulo this (a power of two), so that a
 * token checked again while its slot is unchanged gets the entry it got before, without its ids
 * spelled again: what a hit costs most after the hash. 4096 entries are about 1 MB of the heap.
 */
const RECENT_HITS = 4096;

/** What the table knows of a token. */
export interface TableEntry {
  /** SHA-256 of the whole token, base64url (43 characters). */
  tokenHash: string;
  userId: string;
  sessionId: string;
  expiresAtMs: number;
  /** The interned scopes of an API token (scope-sets.ts); 0 (SESSION_SCOPES) for a session's token. */
  scopeSet: number;
}

const BASE64URL_VALUES = new Uint8Array(128);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('').forEach((char, value) => {
  BASE64URL_VALUES[char.charCodeAt(0)] = value;
});
const HEX_DIGIT_CODES = Uint8Array.from('0123456789abcdef', (digit) => digit.charCodeAt(0));
const DASH = 0x2d;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The value of the base64url character at `index` of a token hash (0 for any other character). */
export function base64urlValueAt(tokenHash: string, index: number): number {
  return BASE64URL_VALUES[tokenHash.charCodeAt(index) & 127] as number;
}

/**
 * The four key words of a token hash: its first 22 characters decoded, 128 of their 132 bits.
 * Written into `into`, so that a lookup allocates nothing for them.
 */
function keyWordsOf(tokenHash: string, into: Int32Array): void {
  const v5 = base64urlValueAt(tokenHash, 5);
  const v10 = base64urlValueAt(tokenHash, 10);
  into[0] = (base64urlValueAt(tokenHash, 0) << 26) | (base64urlValueAt(tokenHash, 1) << 20) | (base64urlValueAt(tokenHash, 2) << 14) | (base64urlValueAt(tokenHash, 3) << 8) | (base64urlValueAt(tokenHash, 4) << 2) | (v5 >>> 4);
  into[1] = ((v5 & 15) << 28) | (base64urlValueAt(tokenHash, 6) << 22) | (base64urlValueAt(tokenHash, 7) << 16) | (base64urlValueAt(tokenHash, 8) << 10) | (base64urlValueAt(tokenHash, 9) << 4) | (v10 >>> 2);
  into[2] = ((v10 & 3) << 30) | (base64urlValueAt(tokenHash, 11) << 24) | (base64urlValueAt(tokenHash, 12) << 18) | (base64urlValueAt(tokenHash, 13) << 12) | (base64urlValueAt(tokenHash, 14) << 6) | base64urlValueAt(tokenHash, 15);
  into[3] = (base64urlValueAt(tokenHash, 16) << 26) | (base64urlValueAt(tokenHash, 17) << 20) | (base64urlValueAt(tokenHash, 18) << 14) | (base64urlValueAt(tokenHash, 19) << 8) | (base64urlValueAt(tokenHash, 20) << 2) | (base64urlValueAt(tokenHash, 21) >>> 4);
}

/** The two hex digits of the byte at `shift` of `word`, as character codes. */
function high(word: number, shift: number): number {
  return HEX_DIGIT_CODES[(word >>> (shift + 4)) & 15] as number;
}
function low(word: number, shift: number): number {
  return HEX_DIGIT_CODES[(word >>> shift) & 15] as number;
}

/**
 * The UUID in the four words at `at`, spelled in one call: a string built by concatenation costs
 * several times more, and the id strings are what a hit spends most on after the hash.
 */
function idAt(int32: Int32Array, at: number): string {
  const w0 = Atomics.load(int32, at);
  const w1 = Atomics.load(int32, at + 1);
  const w2 = Atomics.load(int32, at + 2);
  const w3 = Atomics.load(int32, at + 3);
  return String.fromCharCode(
    high(w0, 24), low(w0, 24), high(w0, 16), low(w0, 16), high(w0, 8), low(w0, 8), high(w0, 0), low(w0, 0), DASH,
    high(w1, 24), low(w1, 24), high(w1, 16), low(w1, 16), DASH,
    high(w1, 8), low(w1, 8), high(w1, 0), low(w1, 0), DASH,
    high(w2, 24), low(w2, 24), high(w2, 16), low(w2, 16), DASH,
    high(w2, 8), low(w2, 8), high(w2, 0), low(w2, 0), high(w3, 24), low(w3, 24), high(w3, 16), low(w3, 16), high(w3, 8), low(w3, 8), high(w3, 0), low(w3, 0),
  );
}

/** The four words of a UUID the kit can store, or null. */
function idWordsOf(id: string): Int32Array | null {
  if (!UUID.test(id)) return null;
  const hex = id.replaceAll('-', '');
  return Int32Array.from({ length: 4 }, (_, i) => Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16) | 0);
}

/** How many slots a table of `capacity` entries has: a full probe window at least. */
function slotsFor(capacity: number): number {
  return capacity <= PROBE_WINDOW ? PROBE_WINDOW : Math.ceil(capacity * SLOTS_PER_ENTRY);
}

/** The shared memory for a table of at least `capacity` entries. */
export function allocateTableBuffer(capacity: number): SharedArrayBuffer {
  return new SharedArrayBuffer((HEADER_WORDS + slotsFor(capacity) * SLOT_WORDS) * 4);
}

/** Whether the kit can keep this id in the table (it stores the kit's own UUIDs). */
export function isStorableId(id: string): boolean {
  return UUID.test(id);
}

export class TokenTable {
  readonly #int32: Int32Array;
  /** Maps 32 bits of a key onto the slots (a multiply, not a mask: the count is no power of two). */
  readonly #homeScale: number;
  readonly #key = new Int32Array(4);
  /*
   * The entries this reader last read, by slot: which slot (its first word) and its sequence number
   * then. A slot's sequence changes with every write of it, so an equal one means the slot still holds
   * what the entry was read from. (It would come round again only after 2^31 writes of one slot.)
   */
  readonly #recentBases = new Int32Array(RECENT_HITS);
  readonly #recentSequences = new Int32Array(RECENT_HITS);
  readonly #recentEntries: Array<Readonly<TableEntry> | undefined> = new Array<undefined>(RECENT_HITS).fill(undefined);
  readonly slotCount: number;

  constructor(buffer: SharedArrayBuffer) {
    this.#int32 = new Int32Array(buffer);
    this.slotCount = (this.#int32.length - HEADER_WORDS) / SLOT_WORDS;
    this.#homeScale = this.slotCount / 2 ** 32;
  }

  /** False while revocations from other nodes may be going unheard: then nothing here counts. */
  get trusted(): boolean {
    return Atomics.load(this.#int32, TRUSTED_WORD) === 1;
  }

  /** How many revocations (and flushes) the table has applied; see TokenCache.revocations. */
  get revocations(): number {
    return Atomics.load(this.#int32, REVOCATIONS_WORD);
  }

  /** The first word of the slot `probe` places after the home slot of the key in `#key`. */
  #base(home: number, probe: number): number {
    const slot = home + probe;
    return HEADER_WORDS + (slot >= this.slotCount ? slot - this.slotCount : slot) * SLOT_WORDS;
  }

  #homeOf(key: Int32Array): number {
    return Math.floor(((key[0] as number) >>> 0) * this.#homeScale);
  }

  #keyMatches(base: number, key: Int32Array): boolean {
    const int32 = this.#int32;
    return (
      Atomics.load(int32, base + KEY) === key[0] &&
      Atomics.load(int32, base + KEY + 1) === key[1] &&
      Atomics.load(int32, base + KEY + 2) === key[2] &&
      Atomics.load(int32, base + KEY + 3) === key[3]
    );
  }

  #state(base: number): number {
    return Atomics.load(this.#int32, base + STATE_AND_SCOPE) & STATE_MASK;
  }

  #expiresAt(base: number): number {
    return Atomics.load(this.#int32, base + EXPIRES) * 2 ** 32 + (Atomics.load(this.#int32, base + EXPIRES + 1) >>> 0);
  }

  /**
   * The entry for a token hash, or undefined; never waits, never allocates on a miss, nor on a hit
   * of a slot this reader read last time unchanged (the entry it got then: shared, so read-only by its
   * type; freezing it cost more than the rest of a hit).
   */
  lookup(tokenHash: string): Readonly<TableEntry> | undefined {
    const int32 = this.#int32;
    const key = this.#key;
    keyWordsOf(tokenHash, key);
    const home = this.#homeOf(key);
    for (let probe = 0; probe < PROBE_WINDOW; probe++) {
      const base = this.#base(home, probe);
      for (let attempt = 0; ; attempt++) {
        if (attempt === MAX_RETRIES) return undefined;
        const before = Atomics.load(int32, base + SEQUENCE);
        if (before & 1) continue;
        const stateAndScope = Atomics.load(int32, base + STATE_AND_SCOPE);
        const state = stateAndScope & STATE_MASK;
        const recent = (base >>> 4) & (RECENT_HITS - 1);
        let found: Readonly<TableEntry> | undefined;
        let fresh = false;
        if (state === LIVE && this.#keyMatches(base, key)) {
          if (this.#recentBases[recent] === base && this.#recentSequences[recent] === before) {
            found = this.#recentEntries[recent];
          } else {
            fresh = true;
            found = {
              tokenHash,
              expiresAtMs: this.#expiresAt(base),
              scopeSet: stateAndScope >>> 16,
              userId: idAt(int32, base + USER),
              sessionId: idAt(int32, base + SESSION),
            };
          }
        }
        if (Atomics.load(int32, base + SEQUENCE) !== before) continue;
        if (fresh) {
          // Only an entry read whole is remembered.
          this.#recentBases[recent] = base;
          this.#recentSequences[recent] = before;
          this.#recentEntries[recent] = found;
        }
        if (found) return found;
        if (state === EMPTY) return undefined;
        break;
      }
    }
    return undefined;
  }

  // Everything below writes, and runs on the one writing thread only.

  #write(base: number, fill: () => void): void {
    Atomics.add(this.#int32, base + SEQUENCE, 1);
    fill();
    Atomics.add(this.#int32, base + SEQUENCE, 1);
  }

  #writeWords(at: number, words: Int32Array): void {
    for (let i = 0; i < words.length; i++) Atomics.store(this.#int32, at + i, words[i] as number);
  }

  #setState(base: number, state: number): void {
    const scope = Atomics.load(this.#int32, base + STATE_AND_SCOPE) & ~STATE_MASK;
    Atomics.store(this.#int32, base + STATE_AND_SCOPE, scope | state);
  }

  /** Stores an entry (replacing one with the same key); when its window is full, the soonest to expire goes. */
  insert(entry: TableEntry, nowMs: number): boolean {
    const userWords = idWordsOf(entry.userId);
    const sessionWords = idWordsOf(entry.sessionId);
    if (!userWords || !sessionWords || entry.tokenHash.length < KEY_CHARACTERS) return false;
    const int32 = this.#int32;
    const key = new Int32Array(4);
    keyWordsOf(entry.tokenHash, key);
    const home = this.#homeOf(key);
    let target = -1;
    let soonest = Infinity;
    for (let probe = 0; probe < PROBE_WINDOW; probe++) {
      const base = this.#base(home, probe);
      const state = this.#state(base);
      const expires = this.#expiresAt(base);
      if (state === LIVE && this.#keyMatches(base, key)) {
        target = base;
        break;
      }
      const free = state !== LIVE || expires <= nowMs;
      if (free && soonest > -Infinity) {
        target = base;
        soonest = -Infinity;
      } else if (!free && expires < soonest) {
        target = base;
        soonest = expires;
      }
    }
    this.#write(target, () => {
      Atomics.store(int32, target + STATE_AND_SCOPE, ((entry.scopeSet & 0xffff) << 16) | LIVE);
      Atomics.store(int32, target + EXPIRES, Math.floor(entry.expiresAtMs / 2 ** 32));
      Atomics.store(int32, target + EXPIRES + 1, entry.expiresAtMs >>> 0);
      this.#writeWords(target + KEY, key);
      this.#writeWords(target + USER, userWords);
      this.#writeWords(target + SESSION, sessionWords);
    });
    return true;
  }

  #idMatches(at: number, id: Int32Array): boolean {
    const int32 = this.#int32;
    return (
      Atomics.load(int32, at) === id[0] && Atomics.load(int32, at + 1) === id[1] && Atomics.load(int32, at + 2) === id[2] && Atomics.load(int32, at + 3) === id[3]
    );
  }

  #slotBase(slot: number): number {
    return HEADER_WORDS + slot * SLOT_WORDS;
  }

  #deleteWhere(matches: (base: number) => boolean): number {
    let deleted = 0;
    for (let slot = 0; slot < this.slotCount; slot++) {
      const base = this.#slotBase(slot);
      if (this.#state(base) !== LIVE || !matches(base)) continue;
      this.#write(base, () => this.#setState(base, DELETED));
      deleted++;
    }
    return deleted;
  }

  /** Removes every entry of these sessions, or of this user; counts as one revocation. */
  forget(revocation: { sessionIds: string[] } | { userId: string }): number {
    Atomics.add(this.#int32, REVOCATIONS_WORD, 1);
    if ('userId' in revocation) {
      const user = idWordsOf(revocation.userId);
      return user ? this.#deleteWhere((base) => this.#idMatches(base + USER, user)) : 0;
    }
    const sessions = revocation.sessionIds.map((id) => idWordsOf(id)).filter((id) => id !== null);
    return this.#deleteWhere((base) => sessions.some((session) => this.#idMatches(base + SESSION, session)));
  }

  /** The scope-set numbers (scope-sets.ts) some entry holds, whatever its expiry; 0 left out. */
  scopeSetsInUse(): number[] {
    const inUse = new Set<number>();
    for (let slot = 0; slot < this.slotCount; slot++) {
      const stateAndScope = Atomics.load(this.#int32, this.#slotBase(slot) + STATE_AND_SCOPE);
      if ((stateAndScope & STATE_MASK) !== LIVE) continue;
      const scopeSet = stateAndScope >>> 16;
      if (scopeSet !== 0) inUse.add(scopeSet);
    }
    return [...inUse];
  }

  /** Removes the entries whose tokens have expired. */
  sweep(nowMs: number): number {
    return this.#deleteWhere((base) => this.#expiresAt(base) <= nowMs);
  }

  /** Empties the table and says whether it may be trusted from now on. */
  reset(trusted: boolean): void {
    Atomics.store(this.#int32, TRUSTED_WORD, 0);
    Atomics.add(this.#int32, REVOCATIONS_WORD, 1);
    for (let slot = 0; slot < this.slotCount; slot++) {
      const base = this.#slotBase(slot);
      if (this.#state(base) === EMPTY) continue;
      this.#write(base, () => this.#setState(base, EMPTY));
    }
    Atomics.store(this.#int32, TRUSTED_WORD, trusted ? 1 : 0);
  }
}
