import { useQuery } from '@tanstack/react-query';
import { getSessions } from '../lib/api.ts';
import { Empty, Panel } from './Panel.tsx';

const fmtTime = (unix: number) =>
  Number.isFinite(unix) ? new Date(unix * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '—';

/** Live sessions the back end holds, newest first. */
export function SessionPicker({ onPick }: { onPick: (sessionKey: string) => void }) {
  const q = useQuery({ queryKey: ['sessions'], queryFn: getSessions, refetchInterval: 15_000 });
  const sessions = [...(q.data ?? [])].sort((a, b) => b.updated_at - a.updated_at);
  return (
    <main className="mx-auto max-w-4xl p-6">
      <Panel title="Live sessions" updatedAt={q.dataUpdatedAt || null} testId="session-picker">
        {q.isPending ? (
          <p className="text-sm text-zinc-500">Loading sessions…</p>
        ) : q.isError && !q.data ? (
          <div role="alert" className="text-sm text-red-300">
            Could not load sessions: {q.error.message}{' '}
            <button type="button" className="underline" onClick={() => q.refetch()}>
              retry
            </button>
          </div>
        ) : sessions.length === 0 ? (
          <Empty>No live session yet.</Empty>
        ) : (
          <ul className="divide-y divide-zinc-800" aria-label="Sessions">
            {sessions.map((s) => (
              <li key={s.session_key}>
                <button
                  type="button"
                  data-testid="session-option"
                  data-session={s.session_key}
                  onClick={() => onPick(s.session_key)}
                  className="flex w-full items-baseline gap-4 px-2 py-2 text-left hover:bg-zinc-800/50 focus-visible:outline-2 focus-visible:outline-red-500"
                >
                  <span className="w-12 tabular-nums text-zinc-400">{s.season}</span>
                  <span className="flex-1 font-semibold text-zinc-50">
                    {s.event_name} <span className="font-normal text-zinc-300">· {s.session_name}</span>
                  </span>
                  <span className="text-xs tabular-nums text-zinc-400">
                    {s.drivers} drivers · {s.laps} laps
                  </span>
                  <span className="w-40 text-right text-xs text-zinc-500">{fmtTime(s.updated_at)}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </Panel>
    </main>
  );
}
