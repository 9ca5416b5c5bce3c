/** The console's JSON API (same origin; the back end's httpOnly cookie carries the auth). */
import type { AlertTimeline, DriftFeatures, DriftHistory } from './types.ts';
import type {
  AnswerContext,
  ApiKey,
  ArchivedSession,
  CreatedKey,
  Explanation,
  HistoryErrors,
  HistoryOverview,
  Me,
  ModelInfo,
  ReplayStatus,
  Role,
  SessionSummary,
  VersionComparison,
} from './types.ts';

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

/** The service's API keys (admin; 403 for other roles). */
export const getKeys = () => request<{ keys: ApiKey[] }>('/api/admin/keys').then((r) => r.keys);

/** A new key: the answer is the only time the key itself is seen. */
export const createKey = (role: Role, name: string) =>
  request<CreatedKey>('/api/admin/keys', { method: 'POST', body: JSON.stringify({ role, name }) });

export const revokeKey = (keyId: string) =>
  request<ApiKey>(`/api/admin/keys/${encodeURIComponent(keyId)}`, { method: 'DELETE' });

/** The service's POST /reload as this admin: the model it serves afterwards. */
export const reloadChampion = () => request<ModelInfo>('/api/admin/reload', { method: 'POST' });

/** "?a=1&b=x%20y" from the params given (null, undefined and '' left out), or '' when none is. */
export const query = (params: Record<string, string | number | null | undefined>): string => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : '';
};

/** History (engineer): the predicted sessions, errors by group and the worst laps, two versions compared. */
export const getHistory = () => request<HistoryOverview>('/api/history');

export const getHistoryErrors = (context: AnswerContext, sessionKey: string | null, modelVersion: string | null) =>
  request<HistoryErrors>(
    `/api/history/errors${query({ context, session_key: sessionKey, model_version: modelVersion })}`,
  );

export const getComparison = (sessionKey: string, context: AnswerContext, a: string | null, b: string | null) =>
  request<VersionComparison>(`/api/history/compare${query({ session_key: sessionKey, context, a, b })}`);

/** Replay (engineer): the archive's sessions, and the replays under way. */
export const getArchivedSessions = () =>
  request<{ sessions: ArchivedSession[] }>('/api/replay/sessions').then((r) => r.sessions);

export const getReplays = () => request<{ replays: ReplayStatus[] }>('/api/replay').then((r) => r.replays);

export const startReplay = (sessionKey: string, speed: number) =>
  request<ReplayStatus>('/api/replay', { method: 'POST', body: JSON.stringify({ session_key: sessionKey, speed }) });

const replayPath = (sessionKey: string, action = '') =>
  `/api/replay/${encodeURIComponent(sessionKey)}${action ? `/${action}` : ''}`;

export const pauseReplay = (sessionKey: string) => request<ReplayStatus>(replayPath(sessionKey, 'pause'), { method: 'POST' });

export const resumeReplay = (sessionKey: string) =>
  request<ReplayStatus>(replayPath(sessionKey, 'resume'), { method: 'POST' });

/** To the moment lap `lap` was first completed (0: the start). */
export const seekReplay = (sessionKey: string, lap: number) =>
  request<ReplayStatus>(replayPath(sessionKey, 'seek'), { method: 'POST', body: JSON.stringify({ lap }) });

export const setReplaySpeed = (sessionKey: string, speed: number) =>
  request<ReplayStatus>(replayPath(sessionKey, 'speed'), { method: 'POST', body: JSON.stringify({ speed }) });

export const stopReplay = (sessionKey: string) => request<ReplayStatus>(replayPath(sessionKey), { method: 'DELETE' });

/** Drift reports of every session, newest first (engineer). */
export const getDriftHistory = () => request<DriftHistory>('/api/drift/history');

/** PSI and the other numbers of each input of one report (engineer). */
export const getDriftFeatures = (sessionKey: string, computedAt: string) =>
  request<DriftFeatures>(`/api/drift/features${query({ session_key: sessionKey, computed_at: computedAt })}`);

/** The alerts on the session's clock, and those that could not be placed on it (engineer). */
export const getAlertTimeline = (sessionKey: string) =>
  request<AlertTimeline>(`/api/drift/timeline${query({ session_key: sessionKey })}`);
