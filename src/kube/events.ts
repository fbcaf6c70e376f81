/**
 * Kubernetes Events (core/v1) about an object, like client-go's `record.EventRecorder`: `Normal` or `Warning`, a
 * CamelCase `reason` (`IPAllocationFail`, `IPAllocationSucceed`, …) and a message. Best effort: a failed write is logged,
 * never thrown (an event must not fail a reconcile).
 */
import type { Logger } from 'pino';
import { EventsPath, resourcePath, type KubeClient, type KubeObject } from './client.ts';

/** The object an event is about. */
export interface EventTarget extends KubeObject {
  apiVersion?: string;
  kind?: string;
}

/** Writes events as `component` (the event `source.component` / `reportingController`). */
export class EventRecorder {
  constructor(
    private readonly client: KubeClient,
    private readonly component: string,
    private readonly logger: Logger,
    private readonly host = '',
  ) {}

  /** Records an event; resolves when written (or the failure was logged). */
  async record(obj: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const meta = obj.metadata ?? {};
    const namespace = meta.namespace || 'default';
    const now = new Date().toISOString();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${meta.name ?? 'object'}.`, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        resourceVersion: meta.resourceVersion,
      },
      type,
      reason,
      message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
      source: { component: this.component, host: this.host || undefined },
      reportingComponent: this.component,
      reportingInstance: this.host || this.component,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.client.create(resourcePath(EventsPath, namespace), body);
    } catch (err) {
      this.logger.warn({ err, reason, object: `${namespace}/${meta.name ?? ''}` }, 'failed to record event');
    }
  }
}
