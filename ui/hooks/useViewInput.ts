import type { Key } from 'ink';
import type { MutableRefObject } from 'react';
import type { CaptureStore } from '../../src/store/read.js';
import type { Session } from '../../src/model/model.js';

/** A view's key handler; returns true when it used the key (the app then does nothing more with it). */
export type ViewInput = (input: string, key: Key) => boolean | void;

export interface ViewKeys {
  onKey: ViewInput;
  /**
   * True while the view edits text (a filter, a prompt): then every key is the view's, used or not,
   * so a `q` or `?` typed into a field never reaches the app's global keys.
   */
  typing: () => boolean;
}
export type ViewInputRef = MutableRefObject<ViewKeys | null>;

/**
 * Keys reach views through the app's one input subscription: the view hands over its handler while it
 * renders. A view that subscribed on its own would miss keys typed in the moment it appears.
 */
export function useViewInput(ref: ViewInputRef, onKey: ViewInput, typing: () => boolean = () => false): void {
  ref.current = { onKey, typing };
}

/** Routes a key to the view first; true when the app must not look at it (used, or typed into a field). */
export function viewTakes(view: ViewKeys | null, input: string, key: Key): boolean {
  if (!view) return false;
  // Asked before the key is handled: the Enter that ends editing is the field's too.
  const typing = view.typing();
  return Boolean(view.onKey(input, key)) || typing;
}

/** What every screen that reads a session gets from the app: the data, its version, its box, its keys. */
export interface SessionViewProps {
  store: CaptureStore;
  session: Session;
  /** Bumped when the database changes (a proxy writing to it). */
  version: number;
  height: number;
  width: number;
  input: ViewInputRef;
}
