/** The Admin page's rules and formatting (the back end checks the same rules). Pure. */
import type { ApiKey, ModelInfo, Role } from './types.ts';

export const ROLES: readonly Role[] = ['viewer', 'engineer', 'admin'];

/** What each role may do with the service (docs/serving.md), for the role picker. */
export const ROLE_HELP: Record<Role, string> = {
  viewer: 'predict and explain laps; the live view',
  engineer: 'also the model, replays, history, drift',
  admin: 'also API keys and reloading the champion',
};

export const NAME_MAX = 80;

/** Why a key name would be refused, or null when it is fine (trimmed first, as the server does). */
export function keyNameProblem(name: string): string | null {
  const trimmed = name.trim();
  if (trimmed === '') return 'name is required: who or what the key is for';
  const length = [...trimmed].length; // code points, as the server counts
  if (length > NAME_MAX) return `name is ${length} characters long; at most ${NAME_MAX}`;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(trimmed)) return 'name may not hold control characters (tabs, line breaks)';
  return null;
}

/** "2026-12-01T23:39:20+00:00" -> "2026-12-01 23:39 UTC"; anything unparsable as it came. */
export function formatCreated(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const d = new Date(t).toISOString();
  return `${d.slice(0, 10)} ${d.slice(11, 16)} UTC`;
}

/** Why this key cannot be revoked from this page (a label for its row, and the whole reason),
 * or null when it can. The back end refuses both with the same reasons. */
export function revokeBlocked(key: ApiKey): { label: string; reason: string } | null {
  if (key.yours)
    return {
      label: 'your key',
      reason: 'you are signed in with this key: revoking it would lock you out (sign in with another admin key)',
    };
  if (key.console)
    return {
      label: "console's key",
      reason:
        "the console's own key for live predictions: give the console another (F1_CONSOLE_API_KEY) and restart it, or use f1 api-key revoke",
    };
  return null;
}

/** Newest first; keys created in the same second by id, so the order is stable. */
export function sortKeys(keys: readonly ApiKey[]): ApiKey[] {
  return [...keys].sort((a, b) => {
    const ta = Date.parse(a.created);
    const tb = Date.parse(b.created);
    if (ta !== tb && !Number.isNaN(ta) && !Number.isNaN(tb)) return tb - ta;
    return a.key_id.localeCompare(b.key_id);
  });
}

export interface ReloadSummary {
  tone: 'ok' | 'warn' | 'bad';
  headline: string;
  /** the last loading error, when there is one */
  detail: string | null;
}

/** What a reload answered, in a line: the version now served, or that it is degraded. */
export function reloadSummary(m: ModelInfo): ReloadSummary {
  const detail = m.last_error ? `last loading error: ${m.last_error}` : null;
  if (m.degraded || m.serving === null)
    return { tone: 'bad', headline: 'degraded: no model loaded, the service answers with the baseline', detail };
  return { tone: detail ? 'warn' : 'ok', headline: `champion reloaded: serving v${m.serving}`, detail };
}
