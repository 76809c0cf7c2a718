import type { Shape } from '../catalogue.js';
import type { errors as en } from '../en/errors.js';

export const errors: Shape<typeof en> = {
  internal: 'In der App ist etwas schiefgegangen; Einzelheiten stehen im Protokoll.',
};
