import type { Shape } from '../catalogue.js';
import type { profiles as en } from '../en/profiles.js';

export const profiles: Shape<typeof en> = {};
