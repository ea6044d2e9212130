import React from 'react';
import { Text } from './safe-text.js';

/** A failing view shows one line, never a stack trace; the rest of the UI keeps working. */
export class ErrorBoundary extends React.Component<{ children: React.ReactNode; resetKey: string }, { error: string | null; key: string }> {
  override state = { error: null as string | null, key: '' };

  static getDerivedStateFromError(err: Error) {
    return { error: err.message.split('\n')[0] };
  }

  static getDerivedStateFromProps(props: { resetKey: string }, state: { error: string | null; key: string }) {
    return props.resetKey !== state.key ? { error: null, key: props.resetKey } : null;
  }

  override render() {
    if (this.state.error) return <Text color="red">{`this view failed: ${this.state.error} (Esc to go back)`}</Text>;
    return this.props.children;
  }
}
