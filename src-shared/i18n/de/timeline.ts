import type { Shape } from '../catalogue.js';
import type { timeline as en } from '../en/timeline.js';

export const timeline: Shape<typeof en> = {};
