/*
 * The token table: a fixed-size open-addressing hash table in a SharedArrayBuffer, so that every
 * thread of the process reads the same entries and a million of them cost the garbage collector
 * nothing. One thread writes (the cache worker); any number read, without locks.
 *
 * Each slot carries a sequence number: the writer makes it odd before it touches the slot and even
 * again after. A reader notes it, reads, and reads it again; a change means the read may be torn, and
 * the reader tries again. Every access to a slot is an `Atomics` one: plain typed-array accesses are
 * not ordered against the sequence number, and a weakly ordered CPU (ARM) would reorder them. An entry is keyed by the SHA-256 of the whole token, so finding it is also
 * proof of the secret.
 *
 * Slot layout (72 bytes):
 *   0  int32    sequence
 *   4  int32    state: EMPTY, LIVE or DELETED (a deleted slot keeps probe chains intact)
 *   8  2×int32  expiry, milliseconds since the epoch (high and low 32 bits: Atomics has no float64)
 *   16 22 bytes the first 22 characters (132 bits) of the token hash, as ASCII
 *   38 uint16   scope set: 0 for a session's token, else an API token's interned scopes (scope-sets.ts)
 *   40 16 bytes user id (a UUID)
 *   56 16 bytes session id (a UUID; an API token's own id)
 * Header (64 bytes): int32 0 = trusted flag, int32 1 = revocation count.
 */

const HEADER_BYTES = 64;
const SLOT_BYTES = 72;
const SEQUENCE = 0;
const STATE = 4;
const EXPIRES = 8;
const KEY = 16;
const KEY_LENGTH = 22;
const SCOPE_SET = 38;
const USER = 40;
const SESSION = 56;
const ID_BYTES = 16;
const EMPTY = 0;
const LIVE = 1;
const DELETED = 2;
const TRUSTED_WORD = 0;
const REVOCATIONS_WORD = 1;
/** An entry lives in one of this many slots from its home slot; the rest of a full window is evicted. */
const PROBE_WINDOW = 16;
/** A reader that keeps meeting a slot mid-write gives up and lets the database answer. */
const MAX_RETRIES = 64;

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
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** How many recently read ids each reader keeps as strings (a power of two). */
const ID_CACHE_SIZE = 4096;

/** An id as read from the table: its four 32-bit words and the string they spell. */
interface KnownId {
  w0: number;
  w1: number;
  w2: number;
  w3: number;
  id: string;
}

function formatId(words: readonly number[]): string {
  let id = '';
  for (let i = 0; i < ID_BYTES; i++) {
    const word = words[i >> 2] as number;
    const shift = LITTLE_ENDIAN ? (i & 3) * 8 : (3 - (i & 3)) * 8;
    if (i === 4 || i === 6 || i === 8 || i === 10) id += '-';
    id += HEX[(word >>> shift) & 255] as string;
  }
  return id;
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function nextPowerOfTwo(n: number): number {
  let power = 1;
  while (power < n) power *= 2;
  return power;
}

/** The shared memory for a table of at least `capacity` entries. */
export function allocateTableBuffer(capacity: number): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_BYTES + nextPowerOfTwo(Math.max(capacity, PROBE_WINDOW)) * SLOT_BYTES);
}

/** Whether the kit can keep this id in the table (it stores the kit's own UUIDs). */
export function isStorableId(id: string): boolean {
  return UUID.test(id);
}

export class TokenTable {
  readonly #int32: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #uint16: Uint16Array;
  readonly #mask: number;
  // Building an id string costs more than the rest of a lookup; the same users and sessions come
  // back again and again, so each reader keeps the strings of the ids it met last.
  readonly #knownIds: Array<KnownId | undefined> = new Array<KnownId | undefined>(ID_CACHE_SIZE);
  readonly slotCount: number;

  constructor(buffer: SharedArrayBuffer) {
    this.#int32 = new Int32Array(buffer);
    this.#bytes = new Uint8Array(buffer);
    this.#uint16 = new Uint16Array(buffer);
    this.slotCount = (buffer.byteLength - HEADER_BYTES) / SLOT_BYTES;
    this.#mask = this.slotCount - 1;
  }

  /** False while revocations from other nodes may be going unheard: then nothing here counts. */
  get trusted(): boolean {
    return Atomics.load(this.#int32, TRUSTED_WORD) === 1;
  }

  /** How many revocations (and flushes) the table has applied; see TokenCache.revocations. */
  get revocations(): number {
    return Atomics.load(this.#int32, REVOCATIONS_WORD);
  }

  #home(tokenHash: string): number {
    const h = BASE64URL_VALUES;
    const value =
      (h[tokenHash.charCodeAt(0) & 127] as number) |
      ((h[tokenHash.charCodeAt(1) & 127] as number) << 6) |
      ((h[tokenHash.charCodeAt(2) & 127] as number) << 12) |
      ((h[tokenHash.charCodeAt(3) & 127] as number) << 18) |
      ((h[tokenHash.charCodeAt(4) & 127] as number) << 24);
    return value & this.#mask;
  }

  #base(slot: number): number {
    return HEADER_BYTES + slot * SLOT_BYTES;
  }

  #keyMatches(base: number, tokenHash: string): boolean {
    const bytes = this.#bytes;
    for (let i = 0; i < KEY_LENGTH; i++) if (Atomics.load(bytes, base + KEY + i) !== tokenHash.charCodeAt(i)) return false;
    return true;
  }

  #state(base: number): number {
    return Atomics.load(this.#int32, (base + STATE) >> 2);
  }

  #expiresAt(base: number): number {
    const word = (base + EXPIRES) >> 2;
    return Atomics.load(this.#int32, word) * 2 ** 32 + (Atomics.load(this.#int32, word + 1) >>> 0);
  }

  #readId(offset: number): string {
    const int32 = this.#int32;
    const word = offset >> 2;
    const w0 = Atomics.load(int32, word);
    const w1 = Atomics.load(int32, word + 1);
    const w2 = Atomics.load(int32, word + 2);
    const w3 = Atomics.load(int32, word + 3);
    const slot = (w0 ^ w1 ^ w2 ^ w3) & (ID_CACHE_SIZE - 1);
    const known = this.#knownIds[slot];
    if (known && known.w0 === w0 && known.w1 === w1 && known.w2 === w2 && known.w3 === w3) return known.id;
    // Spelled from the words just read, so a torn read yields a consistent (and discarded) pair.
    const id = formatId([w0, w1, w2, w3]);
    this.#knownIds[slot] = { w0, w1, w2, w3, id };
    return id;
  }

  /** The entry for a token hash, or undefined; never waits, never allocates on a miss. */
  lookup(tokenHash: string): TableEntry | undefined {
    const int32 = this.#int32;
    const home = this.#home(tokenHash);
    for (let probe = 0; probe < PROBE_WINDOW; probe++) {
      const base = this.#base((home + probe) & this.#mask);
      const sequenceIndex = (base + SEQUENCE) >> 2;
      for (let attempt = 0; ; attempt++) {
        if (attempt === MAX_RETRIES) return undefined;
        const before = Atomics.load(int32, sequenceIndex);
        if (before & 1) continue;
        const state = this.#state(base);
        let found: TableEntry | undefined;
        if (state === LIVE && this.#keyMatches(base, tokenHash)) {
          found = {
            tokenHash,
            expiresAtMs: this.#expiresAt(base),
            scopeSet: Atomics.load(this.#uint16, (base + SCOPE_SET) >> 1),
            userId: this.#readId(base + USER),
            sessionId: this.#readId(base + SESSION),
          };
        }
        if (Atomics.load(int32, sequenceIndex) !== before) continue;
        if (found) return found;
        if (state === EMPTY) return undefined;
        break;
      }
    }
    return undefined;
  }

  // Everything below writes, and runs on the one writing thread only.

  #write(base: number, fill: () => void): void {
    const sequenceIndex = (base + SEQUENCE) >> 2;
    Atomics.add(this.#int32, sequenceIndex, 1);
    fill();
    Atomics.add(this.#int32, sequenceIndex, 1);
  }

  #writeId(offset: number, id: string): void {
    const hex = id.replaceAll('-', '');
    for (let i = 0; i < ID_BYTES; i++) Atomics.store(this.#bytes, offset + i, parseInt(hex.slice(i * 2, i * 2 + 2), 16));
  }

  #setState(base: number, state: number): void {
    Atomics.store(this.#int32, (base + STATE) >> 2, state);
  }

  /** Stores an entry (replacing one with the same key); when its window is full, the soonest to expire goes. */
  insert(entry: TableEntry, nowMs: number): boolean {
    if (!isStorableId(entry.userId) || !isStorableId(entry.sessionId) || entry.tokenHash.length < KEY_LENGTH) return false;
    const int32 = this.#int32;
    const home = this.#home(entry.tokenHash);
    let target = -1;
    let soonest = Infinity;
    for (let probe = 0; probe < PROBE_WINDOW; probe++) {
      const base = this.#base((home + probe) & this.#mask);
      const state = this.#state(base);
      const expires = this.#expiresAt(base);
      if (state === LIVE && this.#keyMatches(base, entry.tokenHash)) {
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
      this.#setState(target, LIVE);
      const expiresWord = (target + EXPIRES) >> 2;
      Atomics.store(int32, expiresWord, Math.floor(entry.expiresAtMs / 2 ** 32));
      Atomics.store(int32, expiresWord + 1, entry.expiresAtMs >>> 0);
      for (let i = 0; i < KEY_LENGTH; i++) Atomics.store(this.#bytes, target + KEY + i, entry.tokenHash.charCodeAt(i));
      Atomics.store(this.#uint16, (target + SCOPE_SET) >> 1, entry.scopeSet);
      this.#writeId(target + USER, entry.userId);
      this.#writeId(target + SESSION, entry.sessionId);
    });
    return true;
  }

  #idMatches(offset: number, id: Uint8Array): boolean {
    for (let i = 0; i < ID_BYTES; i++) if (Atomics.load(this.#bytes, offset + i) !== id[i]) return false;
    return true;
  }

  #deleteWhere(matches: (base: number) => boolean): number {
    let deleted = 0;
    for (let slot = 0; slot < this.slotCount; slot++) {
      const base = this.#base(slot);
      if (this.#state(base) !== LIVE || !matches(base)) continue;
      this.#write(base, () => this.#setState(base, DELETED));
      deleted++;
    }
    return deleted;
  }

  #idBytes(id: string): Uint8Array | null {
    if (!isStorableId(id)) return null;
    const hex = id.replaceAll('-', '');
    return Uint8Array.from({ length: ID_BYTES }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
  }

  /** Removes every entry of these sessions, or of this user; counts as one revocation. */
  forget(revocation: { sessionIds: string[] } | { userId: string }): number {
    Atomics.add(this.#int32, REVOCATIONS_WORD, 1);
    if ('userId' in revocation) {
      const user = this.#idBytes(revocation.userId);
      return user ? this.#deleteWhere((base) => this.#idMatches(base + USER, user)) : 0;
    }
    const sessions = revocation.sessionIds.map((id) => this.#idBytes(id)).filter((id) => id !== null);
    return this.#deleteWhere((base) => sessions.some((session) => this.#idMatches(base + SESSION, session)));
  }

  /** The scope-set numbers (scope-sets.ts) some entry holds, whatever its expiry; 0 left out. */
  scopeSetsInUse(): number[] {
    const inUse = new Set<number>();
    for (let slot = 0; slot < this.slotCount; slot++) {
      const base = this.#base(slot);
      if (this.#state(base) !== LIVE) continue;
      const scopeSet = Atomics.load(this.#uint16, (base + SCOPE_SET) >> 1);
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
      const base = this.#base(slot);
      if (this.#state(base) === EMPTY) continue;
      this.#write(base, () => this.#setState(base, EMPTY));
    }
    Atomics.store(this.#int32, TRUSTED_WORD, trusted ? 1 : 0);
  }
}
