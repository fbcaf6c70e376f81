/** Thin helpers over `@kubernetes/client-node`: REST client, informer cache, work queue, conflict retry, leader election, events. */
export * from './client.ts';
export * from './informer.ts';
export * from './queue.ts';
export * from './retry.ts';
export * from './leader.ts';
export * from './events.ts';
