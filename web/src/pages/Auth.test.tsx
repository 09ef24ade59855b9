import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mockFetch } from '../test/fetch';
import { Auth } from './Auth';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('Auth', () => {
  it('holds the log-in button for the Retry-After of a 429 and says how long', async () => {
    let n = 0;
    mockFetch({
      'POST /v1/auth/login': () =>
        n++ === 0
          ? { status: 429, headers: { 'Retry-After': '1' }, body: { error: { code: 'too_many_attempts', message: 'too many failed log-ins; try again in 1 seconds' } } }
          : { status: 401, body: { error: { code: 'invalid_credentials', message: 'wrong e-mail or password', field: 'password' } } },
    });
    render(<Auth mode="login" onSession={vi.fn()} />);
    fireEvent.input(screen.getByLabelText('E-mail'), { target: { value: 'a@example.com' } });
    fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'a long password' } });
    const button = screen.getByRole('button', { name: 'Log in' }) as HTMLButtonElement;
    fireEvent.click(button);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('Too many failed attempts. Try again in 1 s.');
    expect(button.disabled).toBe(true);
    // Once the wait is over the message goes and the form works again.
    await waitFor(() => expect(button.disabled).toBe(false), { timeout: 3000 });
    expect(screen.queryByRole('alert')).toBeNull();
    fireEvent.click(button);
    await waitFor(() => expect(screen.getByRole('alert').textContent).toBe('wrong e-mail or password'));
  });
});
