import type { Shape } from '../catalogue.js';
import type { people as en } from '../en/people.js';

export const people: Shape<typeof en> = {};
