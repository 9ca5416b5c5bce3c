import { Component, useId, type ErrorInfo, type ReactNode } from 'react';
import { freshness } from '../lib/display.ts';
import { useNow } from '../lib/useNow.ts';

interface BoundaryProps {
  name: string;
  children: ReactNode;
}

/** Keeps one panel's render failure inside that panel, with a way to try again. */
export class PanelBoundary extends Component<BoundaryProps, { error: Error | null }> {
  state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: unknown) {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  componentDidCatch(error: unknown, info: ErrorInfo) {
    // React already reports it; keep the component stack next to the panel's name
    console.warn(`panel "${this.props.name}" failed`, error, info.componentStack);
  }

  render() {
    if (this.state.error) {
      return (
        <div role="alert" className="rounded border border-red-900 bg-red-950/40 p-3 text-sm text-red-200">
          <p className="font-semibold">This panel failed to render.</p>
          <p className="mt-1 break-words text-red-300/80">{this.state.error.message}</p>
          <button
            type="button"
            onClick={() => this.setState({ error: null })}
            className="mt-2 rounded border border-red-800 px-2 py-0.5 text-xs hover:bg-red-900/50 focus-visible:outline-2 focus-visible:outline-red-400"
          >
            Try again
          </button>
        </div>
      );
    }
    return this.props.children;
  }
}

export function Freshness({ updatedAt }: { updatedAt: number | null }) {
  const now = useNow();
  return (
    <span className="text-xs tabular-nums text-zinc-500" data-testid="freshness">
      {freshness(updatedAt, now)}
    </span>
  );
}

export function Reconnecting() {
  return (
    <span
      role="status"
      data-testid="reconnecting"
      className="rounded bg-amber-500/15 px-1.5 py-0.5 text-xs font-semibold text-amber-300"
    >
      reconnecting…
    </span>
  );
}

interface PanelProps {
  title: string;
  /** when the panel's data was last updated (null: not yet); leave it out for a panel of forms, whose
   * content does not age */
  updatedAt?: number | null;
  reconnecting?: boolean;
  actions?: ReactNode;
  className?: string;
  testId?: string;
  children: ReactNode;
}

/** A titled pit-wall panel with freshness (when given), connection state and its own error boundary. */
export function Panel({ title, updatedAt, reconnecting, actions, className = '', testId, children }: PanelProps) {
  const id = useId();
  return (
    <section
      aria-labelledby={id}
      data-testid={testId}
      className={`flex min-w-0 flex-col rounded-md border border-zinc-800 bg-zinc-900/70 ${className}`}
    >
      <header className="flex items-center gap-3 border-b border-zinc-800 px-3 py-1.5">
        <h2 id={id} className="text-xs font-semibold uppercase tracking-widest text-zinc-300">
          {title}
        </h2>
        {reconnecting && <Reconnecting />}
        <div className="ml-auto flex items-center gap-3">
          {actions}
          {updatedAt !== undefined && <Freshness updatedAt={updatedAt} />}
        </div>
      </header>
      <div className="min-h-0 flex-1 p-3">
        <PanelBoundary name={title}>{children}</PanelBoundary>
      </div>
    </section>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return (
    <p className="py-6 text-center text-sm text-zinc-500" data-testid="empty">
      {children}
    </p>
  );
}

/** "Could not load X: why · retry", for data a panel could not fetch. */
export function Problem({
  error,
  what,
  retry,
  testId,
  className = '',
}: {
  error: Error;
  what: string;
  retry: () => void;
  testId?: string;
  className?: string;
}) {
  return (
    <div role="alert" className={`text-sm text-red-300 ${className}`} data-testid={testId}>
      Could not load {what}: {error.message}{' '}
      <button
        type="button"
        className="underline focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-red-500"
        onClick={retry}
      >
        retry
      </button>
    </div>
  );
}
