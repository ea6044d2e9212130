// Colours, or none at all when NO_COLOR is set (https://no-color.org).
const on = !process.env.NO_COLOR;

export const color = (name: string): string | undefined => (on ? name : undefined);
export const colorsOn = on;
