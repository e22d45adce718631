import { errorBody, MAX_BODY_BYTES, statusOf } from '@ventesync/shared';
import { bodyBytesOf } from '@ventesync/runtime/http';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Seconds a till should wait when the write queue is full: a few groups' time. */
export const QUEUE_FULL_RETRY_AFTER_SECONDS = 1;

// The bytes the body took as received, chunked or not: what it weighs against the queue and
// group bounds. Every body goes through the JSON parser; the largest allowed is the fallback.
export function bodyBytes(request: FastifyRequest): number {
  return bodyBytesOf(request) ?? MAX_BODY_BYTES;
}

/** The group commit's queue is full (sales and returns share it): 503 OVERLOADED, try again soon. */
export function refuseQueueFull(reply: FastifyReply, message: string) {
  return reply
    .code(statusOf('OVERLOADED'))
    .header('retry-after', String(QUEUE_FULL_RETRY_AFTER_SECONDS))
    .send(errorBody('OVERLOADED', message));
}
