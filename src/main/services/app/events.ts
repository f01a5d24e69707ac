/**
 * The engine side of pushed events: services and jobs `emit`, transports subscribe with `onAny`
 * and forward every event to every connected client.
 */
import type { EventMap, EventName } from '../../contract/index.js';

export type EventListener<E extends EventName> = (payload: EventMap[E]) => void;
export type AnyEventListener = <E extends EventName>(event: E, payload: EventMap[E]) => void;

export class EventHub {
  private readonly listeners = new Map<EventName, Set<(payload: never) => void>>();
  private readonly anyListeners = new Set<AnyEventListener>();

  /** Subscribes to one event; returns the unsubscribe function. */
  on<E extends EventName>(event: E, listener: EventListener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    const entry = listener as (payload: never) => void;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  /** Subscribes to every event (what transports do); returns the unsubscribe function. */
  onAny(listener: AnyEventListener): () => void {
    this.anyListeners.add(listener);
    return () => {
      this.anyListeners.delete(listener);
    };
  }

  /**
   * Delivers an event synchronously to every listener. A throwing listener is reported and does not
   * keep the event from the others: one broken client must not silence the rest.
   */
  emit<E extends EventName>(event: E, payload: EventMap[E]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      this.call(() => (listener as EventListener<E>)(payload), event);
    }
    for (const listener of this.anyListeners) {
      this.call(() => listener(event, payload), event);
    }
  }

  private call(fn: () => void, event: EventName): void {
    try {
      fn();
    } catch (err) {
      console.error(`event listener for '${event}' failed:`, err);
    }
  }
}
