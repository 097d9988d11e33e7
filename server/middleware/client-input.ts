import superjson from 'superjson';
import type { SuperJSONResult } from 'superjson';

/*
 * superjson rebuilds shared references from a payload's `meta.referentialEqualities`: "the value at
 * this path is the very object at that one". Taken from a client, that turns a small body into a
 * graph whose paths multiply with each level (1.5 KB whose every level's two keys name the level
 * below is 2^depth paths for whatever walks it next: a schema, a size check, JSON.stringify). The
 * server therefore never takes those annotations from a client. Nothing is lost: superjson's
 * serialiser writes every shared value out in full (unless a client opts into `dedupe`), so a
 * well-behaved client's input reads the same without them, only with no two paths sharing an object.
 */

/** superjson's `deserialize` for input from a client: no shared references, no cycles. */
export function deserializeClientInput(payload: SuperJSONResult): unknown {
  const meta = typeof payload === 'object' && payload !== null ? payload.meta : undefined;
  if (meta?.referentialEqualities === undefined) return superjson.deserialize(payload);
  const { referentialEqualities: _ignored, ...rest } = meta;
  return superjson.deserialize({ ...payload, meta: rest });
}
