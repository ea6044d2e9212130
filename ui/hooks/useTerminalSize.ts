import { useEffect, useState } from 'react';
import { useStdout } from 'ink';

/**
 * The terminal's size, re-read on every resize. The screen is wiped first: a frame laid out for a
 * taller or wider terminal, reflowed by the terminal, cannot be erased line by line.
 */
export function useTerminalSize(): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ columns: stdout.columns ?? 80, rows: stdout.rows ?? 24 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => {
      stdout.write('\u001b[2J\u001b[3J\u001b[H');
      setSize(read());
    };
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}
