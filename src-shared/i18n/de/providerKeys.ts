// Einstellungen → Anbieter-Schlüssel (en/providerKeys.ts).
import type { Shape } from '../catalogue.js';
import type { providerKeys as en } from '../en/providerKeys.js';

export const providerKeys: Shape<typeof en> = {
  title: 'Anbieter-Schlüssel',
  intro: 'Wenn du jemanden von einem anderen Anbieter hinzufügst, speichert die App beim ersten Mal den Schlüssel dieses Anbieters und prüft ihn danach jedes Mal. Ändert sich der Schlüssel, kannst du dort niemanden mehr hinzufügen, bis du das hier klärst.',
  empty: 'Noch keine Anbieter-Schlüssel gespeichert. Ein Schlüssel erscheint hier, wenn du zum ersten Mal jemanden von einem anderen Anbieter hinzufügst, der private Anfragen unterstützt.',
  loading: 'Anbieter-Schlüssel werden geladen …',
  loadFailed: 'Die Anbieter-Schlüssel konnten nicht geladen werden: {reason}',
  retry: 'Erneut versuchen',
  fingerprint: 'Schlüssel {fingerprint}',
  recorded: 'Gespeichert am {date}',
  forget: 'Vergessen',
  forgetLabel: 'Schlüssel von {domain} vergessen',
  forgetTitle: 'Schlüssel von {domain} vergessen?',
  forgetExplain: 'Tu das nur, nachdem dir der Betreiber von {domain} gesagt hat, dass er seinen Schlüssel ersetzt hat. Wenn nicht, gibt sich vielleicht jemand als {domain} aus, und das Vergessen würde ihn hereinlassen: Wenn du das nächste Mal jemanden von {domain} hinzufügst, nimmt die App jeden Schlüssel an, der ihr gezeigt wird, und speichert ihn.',
  forgetConfirm: 'Schlüssel vergessen',
  forgetting: 'Wird vergessen …',
  cancel: 'Abbrechen',
  forgotten: 'Der Schlüssel von {domain} wurde vergessen. Wenn du das nächste Mal jemanden von {domain} hinzufügst, wird sein aktueller Schlüssel gespeichert.',
};
