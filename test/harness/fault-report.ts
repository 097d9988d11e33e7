import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { InvariantResult } from './invariants.js';
import { violations } from './invariants.js';
import type { Ledger, LedgerEntry } from './ledger.js';
import { formatSummary, summarize } from './latency-summary.js';

/** Prints a fault run's figures (per call and per invariant) as the test's diagnostics. */
export function reportRun(t: TestContext, ledger: Ledger, results: readonly InvariantResult[]): void {
  for (const line of formatSummary(summarize(ledger.entries))) t.diagnostic(line);
  for (const result of results) t.diagnostic(`${result.name} ${result.holds ? 'holds' : 'VIOLATED'}: ${result.detail}`);
}

/** Reports the run (`reportRun`), then fails the test naming every invariant that was violated. */
export function assertInvariantsHeld(t: TestContext, ledger: Ledger, results: readonly InvariantResult[]): void {
  reportRun(t, ledger, results);
  assert.deepEqual(violations(results), []);
}

/** Whether a call got no answer or a 5xx: the database was not there for it. */
export function unavailable(entry: Pick<LedgerEntry, 'status'>): boolean {
  return entry.status === 0 || entry.status >= 500;
}
