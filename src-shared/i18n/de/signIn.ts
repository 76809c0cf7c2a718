import type { Shape } from '../catalogue.js';
import type { signIn as en } from '../en/signIn.js';

export const signIn: Shape<typeof en> = {};
