import { sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';

/**
 * A time as a query parameter of its own, sent as ISO text and cast: both drivers read it alike, and
 * it has a type where no column gives it one (a SELECT's list, a CTE's VALUES).
 */
export function timestampParam(at: Date | number): SQL<Date> {
  return sql<Date>`${(typeof at === 'number' ? new Date(at) : at).toISOString()}::timestamptz`;
}
