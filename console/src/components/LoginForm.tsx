import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { login } from '../lib/api.ts';

/** Exchanges an API key for the back end's session cookie; the key is never stored here. */
export function LoginForm() {
  const qc = useQueryClient();
  const [key, setKey] = useState('');
  const id = useId();
  const m = useMutation({
    mutationFn: login,
    onSuccess: (me) => {
      setKey('');
      qc.setQueryData(['me'], me);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (key.trim() && !m.isPending) m.mutate(key.trim());
  };
  return (
    <main className="flex min-h-[calc(100vh-3rem)] items-center justify-center p-6">
      <form
        onSubmit={submit}
        className="w-full max-w-sm rounded-md border border-zinc-800 bg-zinc-900/70 p-6"
        aria-labelledby={`${id}-title`}
        data-testid="login-form"
      >
        <h2 id={`${id}-title`} className="mb-4 text-sm font-semibold uppercase tracking-widest text-zinc-300">
          Sign in
        </h2>
        <label htmlFor={`${id}-key`} className="mb-1 block text-xs text-zinc-400">
          API key
        </label>
        <input
          id={`${id}-key`}
          name="api_key"
          type="password"
          autoComplete="off"
          autoFocus
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-invalid={m.isError}
          aria-describedby={m.isError ? `${id}-err` : undefined}
          className="w-full rounded border border-zinc-700 bg-zinc-950 px-2 py-1.5 text-sm text-zinc-50 outline-none focus:border-red-600 focus-visible:ring-1 focus-visible:ring-red-600"
        />
        {m.isError && (
          <p id={`${id}-err`} role="alert" className="mt-2 text-sm text-red-400" data-testid="login-error">
            {m.error.message}
          </p>
        )}
        <button
          type="submit"
          disabled={m.isPending || key.trim() === ''}
          className="mt-4 w-full rounded bg-red-700 px-3 py-1.5 text-sm font-semibold text-white hover:bg-red-600 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-red-400 disabled:opacity-50"
        >
          {m.isPending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
