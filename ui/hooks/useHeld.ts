import { useEffect, useState } from 'react';
import type { HeldMessage, HoldControl } from '../../src/proxy/intercept.js';

/** The messages `--hold` holds now, re-read whenever the list changes. */
export function useHeld(interceptor: HoldControl | undefined): HeldMessage[] {
  const [held, setHeld] = useState<HeldMessage[]>(() => interceptor?.held() ?? []);
  useEffect(() => {
    if (!interceptor) return;
    const update = () => setHeld(interceptor.held());
    interceptor.on('change', update);
    update();
    return () => void interceptor.off('change', update);
  }, [interceptor]);
  return held;
}
