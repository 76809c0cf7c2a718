import type { Shape } from '../catalogue.js';
import type { common as en } from '../en/common.js';

export const common: Shape<typeof en> = {
  close: 'Schließen',
  cancel: 'Abbrechen',
  save: 'Speichern',
  saving: 'Wird gespeichert…',
  dismiss: 'Ausblenden',
  retry: 'Erneut versuchen',
};
