import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Fragment, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { Empty, Panel, Problem } from '../components/Panel.tsx';
import {
  formatCreated,
  keyNameProblem,
  NAME_MAX,
  reloadSummary,
  revokeBlocked,
  ROLE_HELP,
  ROLES,
  sortKeys,
} from '../lib/admin.ts';
import { createKey, getKeys, reloadChampion, revokeKey } from '../lib/api.ts';
import type { ApiKey, CreatedKey, ModelInfo, Role } from '../lib/types.ts';

const KEYS = ['admin', 'keys'] as const;

const BUTTON =
  'rounded border px-2 py-1 text-xs font-semibold focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-red-400 disabled:opacity-50';
const QUIET = `${BUTTON} border-zinc-700 text-zinc-200 hover:bg-zinc-800`;
const DANGER = `${BUTTON} border-red-800 bg-red-950/60 text-red-200 hover:bg-red-900/60`;
const PRIMARY = `${BUTTON} border-red-700 bg-red-700 text-white hover:bg-red-600`;

const ROLE_BADGE: Record<Role, string> = {
  viewer: 'bg-zinc-800 text-zinc-200',
  engineer: 'bg-sky-900/60 text-sky-100',
  admin: 'bg-red-900/60 text-red-100',
};

function RoleBadge({ role }: { role: Role }) {
  return <span className={`rounded px-1.5 py-0.5 text-xs font-semibold ${ROLE_BADGE[role]}`}>{role}</span>;
}

function RevokeCell({ k, confirming, onAsk }: { k: ApiKey; confirming: boolean; onAsk: () => void }) {
  const blocked = revokeBlocked(k);
  if (blocked) {
    return (
      <span className="whitespace-nowrap text-xs text-zinc-500" title={blocked.reason} data-testid="revoke-blocked">
        {blocked.label}
        <span className="sr-only">: {blocked.reason}</span>
      </span>
    );
  }
  return (
    <button
      type="button"
      className={QUIET}
      data-testid="revoke"
      aria-expanded={confirming}
      aria-label={`Revoke key ${k.key_id} (${k.name || 'no name'})`}
      onClick={onAsk}
    >
      Revoke…
    </button>
  );
}

/** The confirm step, in a row of its own under the key's: the safe choice has the focus. */
function ConfirmRevoke({
  k,
  pending,
  onConfirm,
  onCancel,
}: {
  k: ApiKey;
  pending: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => cancel.current?.focus(), []);
  return (
    <tr data-testid="revoke-confirm-row" className="bg-red-950/30">
      <td colSpan={5} className="px-2 py-2">
        <div
          role="group"
          aria-label={`Confirm revoking key ${k.key_id}`}
          className="flex flex-wrap items-center gap-x-3 gap-y-2"
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.stopPropagation();
              onCancel();
            }
          }}
        >
          <span className="text-sm text-amber-200">
            Revoke <span className="font-semibold">{k.key_id}</span> ({k.role}
            {k.name ? `, ${k.name}` : ''})? The service refuses it from its next request and its console sessions are
            signed out.
          </span>
          <span className="ml-auto flex gap-2">
            <button type="button" className={DANGER} data-testid="revoke-confirm" disabled={pending} onClick={onConfirm}>
              {pending ? 'Revoking…' : 'Revoke now'}
            </button>
            <button ref={cancel} type="button" className={QUIET} data-testid="revoke-cancel" onClick={onCancel}>
              Cancel
            </button>
          </span>
        </div>
      </td>
    </tr>
  );
}

function KeysPanel() {
  const qc = useQueryClient();
  const q = useQuery({ queryKey: KEYS, queryFn: getKeys, refetchInterval: 30_000 });
  const table = useRef<HTMLTableElement>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const revoke = useMutation({
    mutationFn: (k: ApiKey) => revokeKey(k.key_id),
    onSuccess: () => setConfirming(null),
    onSettled: () => qc.invalidateQueries({ queryKey: KEYS }),
  });
  // the last revoke's answer (a new one clears it while it runs)
  const gone = revoke.data;
  const done = gone ? `Revoked ${gone.key_id} (${gone.role}${gone.name ? `, ${gone.name}` : ''}).` : null;
  const doneRef = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (done) doneRef.current?.focus(); // the revoked row goes: the focus stays in the panel
  }, [done]);
  const cancel = (keyId: string) => {
    setConfirming(null);
    // back on the row's own button
    table.current?.querySelector<HTMLButtonElement>(`tr[data-key-id="${keyId}"] [data-testid=revoke]`)?.focus();
  };
  const keys = sortKeys(q.data ?? []);
  const updatedAt = Math.max(q.dataUpdatedAt, q.errorUpdatedAt) || null;
  return (
    <Panel title="API keys" updatedAt={updatedAt} testId="keys-panel">
      <p className="mb-2 text-xs text-zinc-400">
        Keys of the prediction service and this console (the same file as <code>f1 api-key</code>). A revoked key is
        refused at its next request, and console sessions signed in with it are signed out.
      </p>
      <div role="status" aria-live="polite" className="text-xs">
        {done && (
          <p ref={doneRef} tabIndex={-1} className="mb-2 text-emerald-300 outline-none" data-testid="revoke-done">
            {done}
          </p>
        )}
      </div>
      {revoke.isError && (
        <p role="alert" className="mb-2 text-sm text-red-300" data-testid="revoke-error">
          Could not revoke {revoke.variables?.key_id}: {revoke.error.message}
        </p>
      )}
      {q.isPending ? (
        <p className="text-sm text-zinc-500">Loading keys…</p>
      ) : q.isError && !q.data ? (
        <Problem error={q.error} what="the keys" retry={() => q.refetch()} testId="keys-error" />
      ) : keys.length === 0 ? (
        <Empty>No API key yet.</Empty>
      ) : (
        <div className="overflow-x-auto">
          <table ref={table} className="w-full min-w-[36rem] table-fixed text-left text-sm" data-testid="keys-table">
            <caption className="sr-only">API keys, newest first</caption>
            <colgroup>
              <col className="w-[10rem]" />
              <col className="w-[6.5rem]" />
              <col />
              <col className="w-[11.5rem]" />
              <col className="w-[7.5rem]" />
            </colgroup>
            <thead className="text-xs uppercase tracking-wider text-zinc-500">
              <tr className="border-b border-zinc-800">
                <th scope="col" className="py-1.5 pr-3 font-medium">
                  ID
                </th>
                <th scope="col" className="py-1.5 pr-3 font-medium">
                  Role
                </th>
                <th scope="col" className="py-1.5 pr-3 font-medium">
                  Name
                </th>
                <th scope="col" className="py-1.5 pr-3 font-medium">
                  Created
                </th>
                <th scope="col" className="py-1.5 text-right font-medium">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-zinc-800/70">
              {keys.map((k) => (
                <Fragment key={k.key_id}>
                  <tr data-testid="key-row" data-key-id={k.key_id} className="h-10 align-middle">
                    <td className="whitespace-nowrap py-1.5 pr-3 tabular-nums text-zinc-100">
                      {k.key_id}
                      {k.yours && <span className="ml-2 rounded bg-emerald-900/50 px-1 text-xs text-emerald-200">you</span>}
                      {k.console && <span className="ml-2 rounded bg-zinc-800 px-1 text-xs text-zinc-300">console</span>}
                    </td>
                    <td className="py-1.5 pr-3">
                      <RoleBadge role={k.role} />
                    </td>
                    <td className="truncate py-1.5 pr-3 text-zinc-200" title={k.name}>
                      {k.name || <span className="text-zinc-500">—</span>}
                    </td>
                    <td className="whitespace-nowrap py-1.5 pr-3 tabular-nums text-zinc-400">{formatCreated(k.created)}</td>
                    <td className="py-1.5 text-right">
                      <RevokeCell k={k} confirming={confirming === k.key_id} onAsk={() => setConfirming(k.key_id)} />
                    </td>
                  </tr>
                  {confirming === k.key_id && (
                    <ConfirmRevoke
                      k={k}
                      pending={revoke.isPending}
                      onConfirm={() => revoke.mutate(k)}
                      onCancel={() => cancel(k.key_id)}
                    />
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
          <p className="mt-2 text-xs text-zinc-500">
            Not revocable here: the key you are signed in with (sign in with another admin key), and the console&apos;s
            own key for live predictions (give the console another with <code>F1_CONSOLE_API_KEY</code>, or use{' '}
            <code>f1 api-key revoke</code>).
          </p>
        </div>
      )}
    </Panel>
  );
}

function NewKey({ created, onDone }: { created: CreatedKey; onDone: () => void }) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [copy, setCopy] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, [created.key]);

  const copyKey = async () => {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(created.key);
      setCopy('copied');
    } catch {
      // no Clipboard API (plain http off localhost) or no permission: the selection instead
      input.current?.focus();
      input.current?.select();
      setCopy(document.execCommand?.('copy') ? 'copied' : 'failed');
    }
  };

  return (
    <div
      role="region"
      aria-labelledby={`${id}-title`}
      className="mt-3 rounded border border-amber-700/70 bg-amber-950/30 p-3"
      data-testid="new-key"
    >
      <h3 id={`${id}-title`} className="text-sm font-semibold text-amber-200">
        New {created.role} key {created.key_id}
        {created.name ? ` for ${created.name}` : ''}
      </h3>
      <p className="mt-1 text-xs text-amber-100/90" data-testid="shown-once">
        Shown once: copy it now. Only its hash is kept, so it cannot be shown again; if it is lost, revoke it and create
        another.
      </p>
      <div className="mt-2">
        <label htmlFor={`${id}-key`} className="sr-only">
          The new API key
        </label>
        <input
          id={`${id}-key`}
          ref={input}
          readOnly
          value={created.key}
          spellCheck={false}
          onFocus={(e) => e.currentTarget.select()}
          className="w-full rounded border border-zinc-700 bg-zinc-950 px-2 py-1 text-xs text-zinc-50 outline-none focus-visible:ring-1 focus-visible:ring-amber-500"
          data-testid="new-key-value"
        />
      </div>
      <div className="mt-2 flex flex-wrap gap-2">
        <button type="button" className={QUIET} onClick={copyKey} data-testid="copy-key">
          {copy === 'copied' ? 'Copied' : 'Copy key'}
        </button>
        <button type="button" className={QUIET} onClick={onDone} data-testid="new-key-done">
          I have copied it: hide the key
        </button>
      </div>
      <div role="status" aria-live="polite" className="mt-1 text-xs">
        {copy === 'copied' && <span className="text-emerald-300">Copied to the clipboard.</span>}
        {copy === 'failed' && (
          <span className="text-red-300">Could not copy: the key is selected, copy it with Ctrl+C.</span>
        )}
      </div>
    </div>
  );
}

function CreateKeyPanel() {
  const qc = useQueryClient();
  const id = useId();
  const [role, setRole] = useState<Role>('viewer');
  const [name, setName] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const nameRef = useRef<HTMLInputElement>(null);
  const create = useMutation({
    mutationFn: ({ role, name }: { role: Role; name: string }) => createKey(role, name),
    onSuccess: () => setName(''),
    onSettled: () => qc.invalidateQueries({ queryKey: KEYS }),
  });
  // the new key, until it is hidden; the next create clears it (the previous key is gone from the
  // page with the next one)
  const created = create.data ?? null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (create.isPending) return;
    const wrong = keyNameProblem(name);
    setProblem(wrong);
    if (wrong) {
      nameRef.current?.focus();
      return;
    }
    create.mutate({ role, name: name.trim() });
  };
  const error = problem ?? (create.isError ? create.error.message : null);
  return (
    <Panel title="Create a key" testId="create-key">
      <form onSubmit={submit} noValidate aria-describedby={error ? `${id}-err` : undefined} data-testid="create-key-form">
        <div className="grid grid-cols-[minmax(0,9rem)_minmax(0,1fr)] gap-2">
          <div>
            <label htmlFor={`${id}-role`} className="mb-1 block text-xs text-zinc-400">
              Role
            </label>
            <select
              id={`${id}-role`}
              name="role"
              value={role}
              onChange={(e) => setRole(e.target.value as Role)}
              aria-describedby={`${id}-role-help`}
              className="w-full rounded border border-zinc-700 bg-zinc-950 px-2 py-1.5 text-sm text-zinc-50 outline-none focus:border-red-600 focus-visible:ring-1 focus-visible:ring-red-600"
            >
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor={`${id}-name`} className="mb-1 block text-xs text-zinc-400">
              Name (who or what it is for)
            </label>
            <input
              id={`${id}-name`}
              ref={nameRef}
              name="name"
              value={name}
              maxLength={NAME_MAX + 20 /* longer is refused with a message, not silently cut */}
              autoComplete="off"
              placeholder="pit wall laptop 2"
              onChange={(e) => {
                setName(e.target.value);
                setProblem(null);
              }}
              aria-invalid={error !== null}
              aria-describedby={error ? `${id}-err` : undefined}
              className="w-full rounded border border-zinc-700 bg-zinc-950 px-2 py-1.5 text-sm text-zinc-50 outline-none placeholder:text-zinc-600 focus:border-red-600 focus-visible:ring-1 focus-visible:ring-red-600"
            />
          </div>
        </div>
        <p id={`${id}-role-help`} className="mt-1 text-xs text-zinc-500">
          {role}: {ROLE_HELP[role]}
        </p>
        {error && (
          <p id={`${id}-err`} role="alert" className="mt-2 text-sm text-red-300" data-testid="create-key-error">
            {error}
          </p>
        )}
        <button type="submit" className={`${PRIMARY} mt-3`} disabled={create.isPending} data-testid="create-key-submit">
          {create.isPending ? 'Creating…' : 'Create key'}
        </button>
      </form>
      {created && (
        <NewKey
          created={created}
          onDone={() => {
            create.reset(); // the key leaves the page, and its memory too
            nameRef.current?.focus();
          }}
        />
      )}
    </Panel>
  );
}

function ModelAnswer({ m }: { m: ModelInfo }) {
  const s = reloadSummary(m);
  const tone = { ok: 'text-emerald-300', warn: 'text-amber-300', bad: 'text-red-300' }[s.tone];
  const store = m.online_store;
  return (
    <div className="mt-3 text-sm" data-testid="reload-result">
      <p className={`font-semibold ${tone}`}>{s.headline}</p>
      {s.detail && <p className="mt-1 break-words text-xs text-amber-200">{s.detail}</p>}
      <dl className="mt-2 grid grid-cols-[max-content_minmax(0,1fr)] gap-x-3 gap-y-0.5 text-xs">
        <dt className="text-zinc-500">serving</dt>
        <dd className="text-zinc-100" data-testid="reload-serving">
          {m.serving === null ? 'none (baseline)' : `v${m.serving}`}
        </dd>
        {store && (
          <>
            <dt className="text-zinc-500">online store</dt>
            <dd className="break-words text-zinc-200">
              {store.backend}, {store.available ? 'available' : `unavailable${store.error ? `: ${store.error}` : ''}`}
            </dd>
          </>
        )}
        {m.card &&
          Object.entries(m.card)
            .filter(([, v]) => v === null || ['string', 'number', 'boolean'].includes(typeof v))
            .slice(0, 6)
            .map(([k, v]) => (
              <div key={k} className="contents">
                <dt className="text-zinc-500">{k}</dt>
                <dd className="break-words tabular-nums text-zinc-300">
                  {typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : String(v)}
                </dd>
              </div>
            ))}
      </dl>
    </div>
  );
}

function ReloadPanel() {
  const qc = useQueryClient();
  const [at, setAt] = useState<Date | null>(null);
  const reload = useMutation({
    mutationFn: reloadChampion,
    onSuccess: (m) => qc.setQueryData(['model'], m),
    onSettled: () => setAt(new Date()),
  });
  return (
    <Panel title="Champion" testId="reload-panel">
      <p className="text-xs text-zinc-400">
        Re-reads the registry's champion alias now, instead of at the service's next poll, even a version that failed to
        load lately. Requests already running finish on the model they started with.
      </p>
      <button
        type="button"
        className={`${PRIMARY} mt-3`}
        onClick={() => reload.mutate()}
        disabled={reload.isPending}
        data-testid="reload"
      >
        {reload.isPending ? 'Reloading…' : 'Reload champion'}
      </button>
      <div role="status" aria-live="polite">{reload.isSuccess && <ModelAnswer m={reload.data} />}</div>
      {reload.isError && (
        <p role="alert" className="mt-3 break-words text-sm text-red-300" data-testid="reload-error">
          Reload refused or failed: {reload.error.message}
        </p>
      )}
      {at && !reload.isPending && (
        <p className="mt-2 text-xs text-zinc-500">answered at {at.toLocaleTimeString(undefined, { hour12: false })}</p>
      )}
    </Panel>
  );
}

/** Admin: the service's API keys (list, create, revoke) and reloading the champion. */
export function AdminView() {
  return (
    <main className="grid items-start gap-3 p-3 xl:grid-cols-[minmax(0,1fr)_28rem]" data-testid="admin-view">
      <KeysPanel />
      <div className="flex min-w-0 flex-col gap-3">
        <CreateKeyPanel />
        <ReloadPanel />
      </div>
    </main>
  );
}
