import type { Key } from 'ink';
import type { MutableRefObject } from 'react';

/** A view's key handler; returns true when it used the key (the app then does nothing more with it). */
export type ViewInput = (input: string, key: Key) => boolean | void;
export type ViewInputRef = MutableRefObject<ViewInput | null>;

/**
 * Keys reach views through the app's one input subscription: the view hands over its handler while it
 * renders. A view that subscribed on its own would miss keys typed in the moment it appears.
 */
export function useViewInput(ref: ViewInputRef, handler: ViewInput): void {
  ref.current = handler;
}
