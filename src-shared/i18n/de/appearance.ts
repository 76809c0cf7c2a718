import type { Shape } from '../catalogue.js';
import type { appearance as en } from '../en/appearance.js';

export const appearance: Shape<typeof en> = {
  title: 'Darstellung',
  theme: 'Farbschema',
  themes: { system: 'Wie das System', light: 'Hell', dark: 'Dunkel' },
  language: 'Sprache',
  languageSystem: 'Wie das System ({name})',
};
