import type { Logger } from '../deps.js';

/*
 * Mail leaves through a queue in memory: a procedure answers before its mail is sent (so the answer
 * takes as long for an unknown address as for a known one), and a mail the transport refuses (an
 * SMTP outage) is tried again after 1 s, 4 s, 16 s … until the attempts run out. The queue is bounded:
 * beyond `maxQueued` a new mail is dropped and logged rather than letting an outage grow memory
 * without limit. It lives in memory on purpose: a mail holds a live link token, which must never be
 * written anywhere in clear. A crash loses what was queued; the user asks again.
 */

export interface DeliveryPolicy {
  /** Tries per mail, the first included. */
  attempts: number;
  /** The wait before the second try; each later wait is four times the one before. */
  firstRetryDelayMs: number;
  /** Mails waiting, sending or due for a retry, at most. */
  maxQueued: number;
  /** Mails handed to the transport at once. */
  concurrency: number;
}

export interface DeliveryQueue {
  /** Queues a delivery; `label` names it in logs (never the address or the content). */
  push(label: string, deliver: () => Promise<unknown>): void;
  /** Resolves once nothing is waiting, sending or due for a retry. */
  flush(): Promise<void>;
  /** Stops retrying (what waits for a retry is dropped and logged) and waits for sends in flight. */
  close(): Promise<void>;
}

interface Job {
  label: string;
  deliver: () => Promise<unknown>;
  attempt: number;
}

export function createDeliveryQueue(policy: DeliveryPolicy, logger: Logger): DeliveryQueue {
  const ready: Job[] = [];
  const retries = new Map<ReturnType<typeof setTimeout>, Job>();
  let sending = 0;
  let closed = false;
  let idle: Array<() => void> = [];

  const size = () => ready.length + sending + retries.size;

  function settleIfIdle(): void {
    if (size() > 0) return;
    const waiting = idle;
    idle = [];
    for (const resolve of waiting) resolve();
  }

  function retryLater(job: Job, error: unknown): void {
    const delayMs = policy.firstRetryDelayMs * 4 ** (job.attempt - 1);
    logger.warn('mail not delivered; will retry', { mail: job.label, attempt: job.attempt, retryInMs: delayMs, error: String(error) });
    const timer = setTimeout(() => {
      retries.delete(timer);
      ready.push({ ...job, attempt: job.attempt + 1 });
      pump();
    }, delayMs);
    retries.set(timer, job);
  }

  function pump(): void {
    while (sending < policy.concurrency && ready.length > 0) {
      const job = ready.shift() as Job;
      sending++;
      job
        .deliver()
        .then(
          () => undefined,
          (error: unknown) => {
            if (job.attempt < policy.attempts && !closed) retryLater(job, error);
            else logger.error('mail not sent', { mail: job.label, attempts: job.attempt, error: String(error) });
          },
        )
        .finally(() => {
          sending--;
          pump();
          settleIfIdle();
        });
    }
  }

  return {
    push(label, deliver) {
      if (closed || size() >= policy.maxQueued) {
        logger.error('mail dropped: the queue is full or closed', { mail: label, queued: size() });
        return;
      }
      ready.push({ label, deliver, attempt: 1 });
      // Not inside the caller's turn: a transport's work must not delay the answer of the request
      // that queued the mail.
      setImmediate(pump);
    },

    flush() {
      if (size() === 0) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },

    async close() {
      closed = true;
      for (const [timer, job] of retries) {
        clearTimeout(timer);
        logger.error('mail not sent: shutting down before its retry', { mail: job.label, attempts: job.attempt });
      }
      retries.clear();
      settleIfIdle();
      await this.flush();
    },
  };
}
