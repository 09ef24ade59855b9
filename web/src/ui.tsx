import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

let nextId = 0;
function useId(prefix: string) {
  const ref = useRef<string>();
  if (!ref.current) ref.current = `${prefix}-${++nextId}`;
  return ref.current;
}

type FieldProps = {
  label: string;
  error?: string;
  hint?: ComponentChildren;
  children: (props: { id: string; 'aria-invalid': boolean; 'aria-describedby'?: string }) => JSX.Element;
};

// Field ties a control to its label, its hint and the API's error about it,
// so screen readers announce the error with the control.
export function Field({ label, error, hint, children }: FieldProps) {
  const id = useId('f');
  const described = [hint ? `${id}-hint` : '', error ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${error ? ' has-error' : ''}`}>
      <label for={id}>{label}</label>
      {children({ id, 'aria-invalid': !!error, 'aria-describedby': described })}
      {hint && (
        <div class="hint" id={`${id}-hint`}>
          {hint}
        </div>
      )}
      {error && (
        <div class="error" id={`${id}-err`} role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

export function FormError({ message }: { message?: string }) {
  if (!message) return null;
  return (
    <div class="form-error" role="alert">
      {message}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Status({ status }: { status: string }) {
  return <span class={`badge status-${status}`}>{status}</span>;
}

// CopyButton copies text with the Clipboard API; where it is unavailable
// (plain HTTP on a non-localhost origin) it selects the text to copy.
export function CopyButton({ text, label = 'Copy', testid }: { text: string; label?: string; testid?: string }) {
  const [done, setDone] = useState('');
  useEffect(() => {
    if (!done) return;
    const t = setTimeout(() => setDone(''), 2000);
    return () => clearTimeout(t);
  }, [done]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('Copied');
    } catch {
      setDone('Copy failed: select the text and copy it');
    }
  };
  return (
    <button type="button" class="secondary" onClick={copy} data-testid={testid} aria-live="polite">
      {done || label}
    </button>
  );
}

// PageTitle moves focus to the page heading on navigation, so keyboard and
// screen-reader users start at the new page.
export function PageTitle({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}
