/** The console's pages, kept in the URL hash so reload and back/forward keep them. Pure. */
import type { Role } from './types.ts';

export type Page = 'live' | 'replay' | 'history' | 'drift' | 'admin';

export interface Route {
  page: Page;
  /** the live session open on the live page (null: the picker) */
  session: string | null;
}

/** Each page, its label and the least role that may open it (the back end checks it too). */
export const PAGES: readonly { page: Page; label: string; needs: Role }[] = [
  { page: 'live', label: 'Live', needs: 'viewer' },
  { page: 'replay', label: 'Replay', needs: 'engineer' },
  { page: 'history', label: 'History', needs: 'engineer' },
  { page: 'drift', label: 'Drift & alerts', needs: 'engineer' },
  { page: 'admin', label: 'Admin', needs: 'admin' },
];

const RANK: Record<Role, number> = { viewer: 0, engineer: 1, admin: 2 };

export const roleAllows = (role: Role, needed: Role): boolean => RANK[role] >= RANK[needed];

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#\/?/, '');
  const [head, ...rest] = path.split('/');
  if (head === 'session' && rest.length) {
    try {
      const session = decodeURIComponent(rest.join('/'));
      return { page: 'live', session: session || null };
    } catch {
      return { page: 'live', session: null };
    }
  }
  const page = PAGES.find((p) => p.page === head)?.page ?? 'live';
  return { page, session: null };
}

export function routeHash(route: Route): string {
  if (route.page === 'live') return route.session === null ? '' : `#/session/${encodeURIComponent(route.session)}`;
  return `#/${route.page}`;
}
