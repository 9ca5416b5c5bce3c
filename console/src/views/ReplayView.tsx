import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { Empty, Panel, Problem } from '../components/Panel.tsx';
import { SessionView } from '../components/SessionView.tsx';
import { SESSION_TYPE_LABEL } from '../lib/display.ts';
import {
  getArchivedSessions,
  getReplays,
  pauseReplay,
  resumeReplay,
  seekReplay,
  setReplaySpeed,
  startReplay,
  stopReplay,
} from '../lib/api.ts';
import {
  answersLine,
  controlsFor,
  defaultSelection,
  filterSessions,
  landedShare,
  lapText,
  parseSeason,
  parseType,
  replayClock,
  replayFor,
  seasonsOf,
  sliderLap,
  speedChoices,
  speedLabel,
  typesOf,
} from '../lib/replay.ts';
import type { ArchivedSession, ReplayState, ReplayStatus, SessionType } from '../lib/types.ts';

const CURRENT = ['replay', 'current'] as const;
const SEEK_DELAY_MS = 400; // a drag or a run of arrow keys seeks once, where it stops

const BUTTON =
  'rounded border px-2.5 py-1 text-xs font-semibold focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-red-400 disabled:cursor-not-allowed disabled:opacity-40';
const QUIET = `${BUTTON} border-zinc-700 text-zinc-200 hover:bg-zinc-800`;
const PRIMARY = `${BUTTON} border-red-700 bg-red-700 text-white hover:bg-red-600`;
const DANGER = `${BUTTON} border-red-800 bg-red-950/60 text-red-200 hover:bg-red-900/60`;
const SELECT =
  'rounded border border-zinc-700 bg-zinc-900 px-2 py-1 text-xs text-zinc-100 focus-visible:outline-2 focus-visible:outline-red-400';

const STATE_TONE: Record<ReplayState, string> = {
  playing: 'bg-emerald-900/60 text-emerald-200',
  paused: 'bg-amber-900/60 text-amber-200',
  finished: 'bg-zinc-800 text-zinc-300',
  stopped: 'bg-zinc-800 text-zinc-400',
};

function StateBadge({ state }: { state: ReplayState }) {
  return <span className={`rounded px-1.5 py-0.5 text-xs font-semibold ${STATE_TONE[state]}`}>{state}</span>;
}

function Field({ label, children }: { label: string; children: (id: string) => ReactNode }) {
  const id = useId();
  return (
    <div className="flex items-center gap-2">
      <label htmlFor={id} className="text-xs text-zinc-400">
        {label}
      </label>
      {children(id)}
    </div>
  );
}

function Picker({
  sessions,
  replays,
  selected,
  onPick,
}: {
  sessions: readonly ArchivedSession[];
  /** the replays under way, as polled: their badges stay current without reloading the archive */
  replays: readonly ReplayStatus[];
  selected: string | null;
  onPick: (key: string) => void;
}) {
  const [season, setSeason] = useState<number | null>(null);
  const [type, setType] = useState<SessionType | null>(null);
  const shown = filterSessions(sessions, { season, type });
  return (
    <div className="flex min-w-0 flex-col gap-2">
      <div className="flex flex-wrap gap-3">
        <Field label="Season">
          {(id) => (
            <select
              id={id}
              className={SELECT}
              data-testid="replay-season"
              value={season ?? ''}
              onChange={(e) => setSeason(parseSeason(e.target.value))}
            >
              <option value="">all</option>
              {seasonsOf(sessions).map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Type">
          {(id) => (
            <select
              id={id}
              className={SELECT}
              data-testid="replay-type"
              value={type ?? ''}
              onChange={(e) => setType(parseType(e.target.value))}
            >
              <option value="">all</option>
              {typesOf(sessions).map((t) => (
                <option key={t} value={t}>
                  {SESSION_TYPE_LABEL[t]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <span className="self-center text-xs text-zinc-500">
          {shown.length} of {sessions.length}
        </span>
      </div>
      {shown.length === 0 ? (
        <Empty>No archived session matches.</Empty>
      ) : (
        <ul className="max-h-64 divide-y divide-zinc-800 overflow-auto rounded border border-zinc-800" aria-label="Archived sessions">
          {shown.map((s) => {
            const state = replayFor(replays, s.session_key)?.state;
            return (
              <li key={s.session_key}>
                <button
                  type="button"
                  data-testid="replay-option"
                  data-session={s.session_key}
                  aria-pressed={s.session_key === selected}
                  onClick={() => onPick(s.session_key)}
                  className={`flex w-full items-baseline gap-3 px-2 py-1.5 text-left text-sm focus-visible:outline-2 focus-visible:-outline-offset-2 focus-visible:outline-red-500 ${
                    s.session_key === selected ? 'bg-zinc-800 text-zinc-50' : 'text-zinc-200 hover:bg-zinc-800/50'
                  }`}
                >
                  <span className="w-10 tabular-nums text-zinc-400">{s.season}</span>
                  <span className="flex-1 font-semibold">
                    {s.event_name} <span className="font-normal text-zinc-400">· {s.session_name}</span>
                  </span>
                  {state && state !== 'stopped' && <StateBadge state={state} />}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

function Status({ status }: { status: ReplayStatus }) {
  const clock = replayClock(status);
  const share = landedShare(status);
  return (
    <div
      className="flex flex-col gap-1.5 text-xs"
      data-testid="replay-status"
      data-state={status.state}
      data-lap={status.lap}
      data-laps-landed={status.laps_landed}
    >
      <div className="flex flex-wrap items-baseline gap-x-4 gap-y-1">
        <span role="status" aria-live="polite">
          <StateBadge state={status.state} />
        </span>
        <span className="text-zinc-400">
          clock <span className="tabular-nums font-semibold text-zinc-50" data-testid="replay-clock">{clock.elapsed}</span>
          <span className="text-zinc-500"> / {clock.duration}</span>
        </span>
        <span className="text-zinc-400">
          lap{' '}
          <span className="tabular-nums font-semibold text-zinc-50" data-testid="replay-lap">
            {status.lap}
          </span>
          <span className="text-zinc-500">/{status.laps}</span>
        </span>
        <span className="text-zinc-400">
          laps landed{' '}
          <span className="tabular-nums text-zinc-100">
            {status.laps_landed}/{status.laps_total}
          </span>
        </span>
        <span className="text-zinc-400">
          at <span className="text-zinc-100">{speedLabel(status.speed)}</span>
        </span>
      </div>
      <div className="h-1 w-full overflow-hidden rounded bg-zinc-800" aria-hidden="true">
        <div className="h-full bg-red-600" style={{ width: `${(share * 100).toFixed(1)}%` }} />
      </div>
      <p className="text-zinc-500" data-testid="replay-answers">
        {answersLine(status)}
        {status.model_version ? ` · model v${status.model_version}` : ''}
      </p>
      {status.last_error && (
        <p role="alert" className="text-amber-300" data-testid="replay-error">
          {status.last_error}
        </p>
      )}
    </div>
  );
}

export function ReplayView() {
  const qc = useQueryClient();
  const sessions = useQuery({ queryKey: ['replay', 'sessions'], queryFn: getArchivedSessions, staleTime: 60_000 });
  // every second while a replay runs, else now and then (one may be started from another tab)
  const replays = useQuery({
    queryKey: CURRENT,
    queryFn: getReplays,
    refetchInterval: (q) => (q.state.data?.some((r) => r.state === 'playing' || r.state === 'paused') ? 1000 : 10_000),
  });
  const [picked, setPicked] = useState<string | null>(null);
  const [speed, setSpeed] = useState(60);
  const [draft, setDraft] = useState<number | null>(null); // the lap the slider is being moved to
  const [refusal, setRefusal] = useState<string | null>(null);

  const all = replays.data ?? [];
  // nothing picked yet: the replay under way, if any ('' : the picker left empty on purpose)
  const selected = picked === null ? defaultSelection(all) : picked || null;
  const current = replayFor(all, selected);
  const controls = controlsFor(current?.state ?? null);
  const session = sessions.data?.find((s) => s.session_key === selected) ?? null;

  const act = useMutation({
    mutationFn: (run: () => Promise<ReplayStatus>) => run(),
    onMutate: async () => {
      setRefusal(null);
      await qc.cancelQueries({ queryKey: CURRENT }); // a poll in flight must not undo the answer
    },
    onSuccess: (status) => {
      qc.setQueryData<ReplayStatus[]>(CURRENT, (old = []) =>
        status.state === 'stopped'
          ? old.filter((r) => r.session_key !== status.session_key)
          : [...old.filter((r) => r.session_key !== status.session_key), status],
      );
    },
    onError: (e: Error) => setRefusal(e.message), // a 401 signs out (main.tsx)
    onSettled: () => setDraft(null),
  });

  // the slider seeks once it rests (back where the replay is: nothing to do)
  const latest = useRef(current);
  latest.current = current;
  const seek = act.mutate;
  useEffect(() => {
    if (draft === null) return;
    const timer = setTimeout(() => {
      const now = latest.current;
      if (now === null || draft === now.lap) setDraft(null);
      else seek(() => seekReplay(now.session_key, draft));
    }, SEEK_DELAY_MS);
    return () => clearTimeout(timer);
  }, [draft, seek]);

  // the speed shown is the replay's own once there is one, else the one chosen for the next start
  const shownSpeed = current?.speed ?? speed;

  const pick = (key: string) => {
    setPicked(key);
    setDraft(null);
    setRefusal(null);
  };
  const changeSpeed = (value: number) => {
    setSpeed(value);
    if (current && controls.speed) act.mutate(() => setReplaySpeed(current.session_key, value));
  };
  const lap = current ? sliderLap(current, draft) : 0;

  return (
    <main className="flex flex-col gap-3 p-3" data-testid="replay-view">
      <Panel title="Replay" updatedAt={replays.dataUpdatedAt || null} testId="replay-panel">
        <div className="grid grid-cols-1 gap-4 lg:grid-cols-[minmax(0,11fr)_minmax(0,13fr)]">
          {sessions.data ? (
            // a failed reload in the background keeps the list it had
            <Picker sessions={sessions.data} replays={all} selected={selected} onPick={pick} />
          ) : sessions.isError ? (
            <Problem error={sessions.error} what="the archive" retry={() => sessions.refetch()} />
          ) : (
            <p className="text-sm text-zinc-500">Loading the archive…</p>
          )}

          <div className="flex min-w-0 flex-col gap-3" data-testid="replay-controls">
            <h3 className="text-sm font-semibold text-zinc-50" data-testid="replay-title">
              {session
                ? `${session.season} ${session.event_name} · ${session.session_name}`
                : current
                  ? `${current.season} ${current.event_name} · ${current.session_name}`
                  : 'Pick a session to replay'}
            </h3>
            <div className="flex flex-wrap items-center gap-2">
              <Field label="Speed">
                {(id) => (
                  <select
                    id={id}
                    className={SELECT}
                    data-testid="replay-speed"
                    value={shownSpeed}
                    disabled={act.isPending}
                    onChange={(e) => changeSpeed(Number(e.target.value))}
                  >
                    {speedChoices(shownSpeed).map((s) => (
                      <option key={s} value={s}>
                        {speedLabel(s)}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
              {controls.start && (
                <button
                  type="button"
                  className={PRIMARY}
                  data-testid="replay-start"
                  disabled={selected === null || act.isPending}
                  onClick={() => selected && act.mutate(() => startReplay(selected, shownSpeed))}
                >
                  {current ? '▶ Replay again' : '▶ Start replay'}
                </button>
              )}
              {current && controls.toggle && (
                <button
                  type="button"
                  className={QUIET}
                  data-testid="replay-toggle"
                  aria-label={controls.toggle === 'pause' ? 'Pause the replay' : 'Resume the replay'}
                  disabled={act.isPending}
                  onClick={() =>
                    act.mutate(() =>
                      controls.toggle === 'pause' ? pauseReplay(current.session_key) : resumeReplay(current.session_key),
                    )
                  }
                >
                  {controls.toggle === 'pause' ? '❚❚ Pause' : '▶ Resume'}
                </button>
              )}
              {current && controls.stop && (
                <button
                  type="button"
                  className={DANGER}
                  data-testid="replay-stop"
                  disabled={act.isPending}
                  onClick={() => act.mutate(() => stopReplay(current.session_key))}
                >
                  ■ Stop
                </button>
              )}
            </div>

            {current && (
              <div className="flex items-center gap-3">
                <label htmlFor="replay-seek" className="text-xs text-zinc-400">
                  Seek
                </label>
                <input
                  id="replay-seek"
                  type="range"
                  min={0}
                  max={current.laps}
                  step={1}
                  value={lap}
                  disabled={!controls.seek}
                  data-testid="replay-seek"
                  aria-valuetext={lapText(lap, current.laps)}
                  onChange={(e) => setDraft(Number(e.target.value))}
                  className="h-2 flex-1 cursor-pointer accent-red-600 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-red-400"
                />
                <span className="w-20 text-right text-xs tabular-nums text-zinc-300" aria-hidden="true">
                  lap {lap}/{current.laps}
                </span>
              </div>
            )}

            {refusal && (
              <p role="alert" className="text-xs text-red-300" data-testid="replay-refused">
                {refusal}
              </p>
            )}
            {replays.isError && !replays.data && (
              <p role="alert" className="text-xs text-red-300">
                Could not read the replays: {replays.error.message}
              </p>
            )}
            {current ? (
              <Status status={current} />
            ) : (
              selected && <p className="text-xs text-zinc-500">Not being replayed. Choose a speed and start it.</p>
            )}
          </div>
        </div>
      </Panel>

      {current?.live ? (
        <div className="rounded-md border border-zinc-800" data-testid="replay-live">
          <SessionView key={current.session_key} sessionKey={current.session_key} onBack={() => pick('')} />
        </div>
      ) : (
        current && <Empty>Waiting for the replayed session to reach the live stream…</Empty>
      )}
    </main>
  );
}
