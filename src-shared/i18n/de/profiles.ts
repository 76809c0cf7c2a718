import type { Shape } from '../catalogue.js';
import type { profiles as en } from '../en/profiles.js';

export const profiles: Shape<typeof en> = {
  section: {
    title: 'Profil',
    yourPicture: 'Dein Profilbild',
    choose: 'Bild auswählen …',
    remove: 'Profilbild entfernen',
    pictureHint:
      'Klein gehalten (96×96) und verschlüsselt den Mitgliedern deiner Räume gezeigt; nie in Räumen, in denen du unter einem Pseudonym auftrittst, und dein Anbieter sieht es nie.',
    displayName: 'Anzeigename',
    displayNameHint:
      'Wird verschlüsselt den Mitgliedern deiner Räume gezeigt (nicht dort, wo du unter einem Pseudonym auftrittst) und von deinem Anbieter mit deinem Profil gespeichert; andere finden dich darüber nur, wenn du ihn durchsuchbar machst (Personen → Was andere finden).',
    save: 'Speichern',
    saving: 'Wird gespeichert …',
    nameSaved: 'Anzeigename gespeichert.',
    nameRemoved: 'Anzeigename entfernt.',
    pictureSaved: 'Profilbild gespeichert; die Mitglieder deiner Räume sehen es gleich.',
    pictureRemoved: 'Profilbild entfernt.',
    tryAgain: 'Erneut versuchen',
  },
  avatar: {
    notPicture: 'Diese Datei ist kein Bild. Wähle ein PNG-, JPEG-, GIF- oder WebP-Bild.',
    tooLarge: 'Dieses Bild ist größer als 10 MB. Wähle ein kleineres.',
    unreadable: 'Dieses Bild ließ sich nicht lesen. Wähle ein anderes PNG-, JPEG-, GIF- oder WebP-Bild.',
    noCanvas: 'Dieses Fenster kann keine Bilder zeichnen; versuch es nach einem Neustart von mimi noch einmal.',
  },
  errors: {
    nameEmpty: 'Ein Anzeigename darf nicht leer sein; gib einen ein oder entferne ihn.',
    nameSpaces: 'Ein Anzeigename darf nicht mit einem Leerzeichen beginnen oder enden.',
    nameTooLong: 'Ein Anzeigename hat höchstens {max} Zeichen; kürze ihn.',
    nameControl: 'Ein Anzeigename darf keine Steuerzeichen wie Zeilenumbrüche oder Tabulatoren enthalten; entferne sie.',
    avatarTooBig: 'Das Bild ist größer als {kib} KiB; wähle ein kleineres.',
    avatarNotPng: 'Das Bild ist kein PNG; wähle eine PNG-Datei.',
    avatarTooLarge: 'Das Bild hat {width}×{height} Pixel; erlaubt sind höchstens {max}×{max}. Verkleinere es zuerst.',
    malformed: 'Ein Mitglied hat ein Profil geteilt, das diese App nicht lesen kann; es wurde ignoriert.',
  },
};
