/** The console's JSON API (same origin; the back end's httpOnly cookie carries the auth). */
import type { Explanation, Me, ModelInfo, SessionSummary } from './types.ts';

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

export const isApiError = (e: unknown, status?: number): e is ApiError =>
  e instanceof ApiError && (status === undefined || e.status === status);

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      credentials: 'same-origin',
      ...init,
      headers: { Accept: 'application/json', ...(init.body ? { 'Content-Type': 'application/json' } : {}), ...init.headers },
    });
  } catch (e) {
    throw new ApiError(0, `network error: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (res.status === 204) return undefined as T;
  let body: unknown = null;
  const text = await res.text();
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok) {
    const msg =
      typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string'
        ? (body as { error: string }).error
        : `${res.status} ${res.statusText}`.trim();
    throw new ApiError(res.status, msg);
  }
  if (body === null) throw new ApiError(res.status, `unexpected response from ${path}`);
  return body as T;
}

export const login = (apiKey: string) =>
  request<Me>('/api/login', { method: 'POST', body: JSON.stringify({ api_key: apiKey }) });

export const logout = () => request<void>('/api/logout', { method: 'POST' });

/** The signed-in key, or null when nobody is (the back end answers `role: null`, or 401 for an
 * expired cookie). */
export async function getMe(): Promise<Me | null> {
  try {
    const me = await request<Me | { role: null }>('/api/me');
    return me.role === null ? null : (me as Me);
  } catch (e) {
    if (isApiError(e, 401)) return null;
    throw e;
  }
}

export const getSessions = () =>
  request<{ sessions: SessionSummary[] }>('/api/sessions').then((r) => r.sessions ?? []);

export const getModel = () => request<ModelInfo>('/api/model');

/** The session's event stream; `lastEventId` resumes after that event (see useLive). */
export const liveEventsUrl = (sessionKey: string, lastEventId: string | null = null) =>
  `/api/live/${encodeURIComponent(sessionKey)}/events` +
  (lastEventId === null ? '' : `?last_event_id=${encodeURIComponent(lastEventId)}`);

/** Why the model predicts `driver`'s next lap (engineer and admin; 403 for a viewer, 404 before the driver's first lap). */
export const getExplanation = (sessionKey: string, driver: string) =>
  request<Explanation>(`/api/live/${encodeURIComponent(sessionKey)}/explain/${encodeURIComponent(driver)}`);
