/** Subscribes to a session's live events (EventSource) and folds them with `applyEvent`. */
import { useEffect, useReducer, useRef, useState } from 'react';
import { liveEventsUrl } from './api.ts';
import { applyEvent, initialLiveState, type LiveState } from './live.ts';
import type { LiveEvent } from './types.ts';

/** connecting: first attempt; open: streaming; reconnecting: lost, retrying (browser or us). */
export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting';

type Action = { event: LiveEvent; receivedAt: number } | { reset: true };

function reducer(state: LiveState, action: Action): LiveState {
  if ('reset' in action) return initialLiveState;
  return applyEvent(state, action.event, action.receivedAt);
}

const EVENT_TYPES = ['snapshot', 'lap', 'prediction'] as const;

export function useLiveSession(
  sessionKey: string,
  onClosed?: () => void,
): { state: LiveState; status: ConnectionStatus; attempts: number } {
  const [state, dispatch] = useReducer(reducer, initialLiveState);
  const [status, setStatus] = useState<ConnectionStatus>('connecting');
  const [attempts, setAttempts] = useState(0);
  const onClosedRef = useRef(onClosed);
  onClosedRef.current = onClosed;

  useEffect(() => {
    dispatch({ reset: true });
    setStatus('connecting');
    let es: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let backoff = 1000;
    let stopped = false;
    let lastId: string | null = null; // the last event's whole id, to resume from

    const connect = () => {
      if (stopped) return;
      es = new EventSource(liveEventsUrl(sessionKey, lastId), { withCredentials: false });
      es.onopen = () => {
        backoff = 1000;
        setStatus('open');
      };
      for (const type of EVENT_TYPES) {
        es.addEventListener(type, (e: MessageEvent<string>) => {
          let data: unknown;
          try {
            data = JSON.parse(e.data);
          } catch {
            data = null; // counted as rejected by the reducer
          }
          // ids are "<console process>:<n>"; the browser sends the whole id back on reconnect
          if (e.lastEventId !== '') lastId = e.lastEventId;
          const id = e.lastEventId === '' ? undefined : Number(e.lastEventId.split(':').pop());
          dispatch({
            event: { type, id: Number.isFinite(id) ? id : undefined, data } as LiveEvent,
            receivedAt: Date.now(),
          });
        });
      }
      es.onerror = () => {
        if (stopped || !es) return;
        setStatus('reconnecting');
        setAttempts((n) => n + 1);
        if (es.readyState === EventSource.CLOSED) {
          // The browser gave up (an HTTP error such as 401/404, or a proxy's 502): reconnect
          // ourselves, naming the last event in the URL (a new EventSource sends no
          // Last-Event-ID), so the server sends only what was missed.
          es = null;
          onClosedRef.current?.();
          timer = setTimeout(connect, backoff);
          backoff = Math.min(backoff * 2, 30_000);
        }
        // readyState CONNECTING: the browser retries by itself with Last-Event-ID.
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      es?.close();
    };
  }, [sessionKey]);

  return { state, status, attempts };
}
