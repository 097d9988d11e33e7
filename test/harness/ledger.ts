import type { CallAnswer } from './loopback-client.js';

/** The calls a workload makes; `forged` presents a random well-formed token, `replayRevoked` one its client revoked. */
export type Operation = 'login' | 'badLogin' | 'refresh' | 'whoami' | 'logout' | 'forged' | 'replayRevoked';

/** The tokens a sign-in or a refresh returned. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

/** One call as it happened: times in ms since the ledger started. */
export interface LedgerEntry {
  op: Operation;
  node: string;
  client: number;
  startedAt: number;
  endedAt: number;
  status: number;
  authCode: string | null;
  failure: string | null;
  presented: Partial<TokenPair>;
  issued: TokenPair | null;
}

/** A fault as the report marks it: what, from when to when (ms since the ledger started). */
export interface FaultWindow {
  label: string;
  from: number;
  to: number;
}

/**
 * Everything a run did, to check the invariants against afterwards (SECURITY.md §2: "record every
 * token issued and every revocation"): every call with what it presented and what it got, every
 * revocation the server acknowledged, and the faults with their times.
 */
export class Ledger {
  readonly origin = performance.now();
  readonly entries: LedgerEntry[] = [];
  /** Access token → when its revocation was acknowledged (a 200 from logout). */
  readonly revoked = new Map<string, number>();
  readonly faults: FaultWindow[] = [];

  now(): number {
    return performance.now() - this.origin;
  }

  record(call: { op: Operation; node: string; client: number; startedAt: number; presented?: Partial<TokenPair> }, answer: CallAnswer): LedgerEntry {
    const tokens = answer.status === 200 ? (answer.data?.tokens as TokenPair | undefined) : undefined;
    const entry: LedgerEntry = {
      ...call,
      presented: call.presented ?? {},
      endedAt: this.now(),
      status: answer.status,
      authCode: answer.authCode,
      failure: answer.failure,
      issued: tokens ? { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken } : null,
    };
    this.entries.push(entry);
    return entry;
  }

  revokedAt(accessToken: string, at: number): void {
    this.revoked.set(accessToken, at);
  }

  /** Marks a fault from now; call the returned function when it ends. */
  fault(label: string): () => void {
    const window: FaultWindow = { label, from: this.now(), to: Number.POSITIVE_INFINITY };
    this.faults.push(window);
    return () => {
      window.to = this.now();
    };
  }
}
