import type { Shape } from '../catalogue.js';
import type { receipts as en } from '../en/receipts.js';

export const receipts: Shape<typeof en> = {
  privacy: {
    title: 'Bestätigungen und Tippen',
    intro: 'Was dieses Gerät den anderen in deinen Räumen mitteilt. Ausschalten gilt in beide Richtungen: Du sendest nichts davon und siehst auch nichts von den anderen.',
    delivery: 'Zustellbestätigungen',
    deliveryHint: 'Absender erfahren, wann ihre Nachricht auf diesem Gerät angekommen ist.',
    read: 'Lesebestätigungen',
    readHint: 'Absender erfahren, wann du den Raum geöffnet und ihre Nachricht gelesen hast.',
    typing: 'Tippanzeige',
    typingHint: 'Andere sehen, wenn du tippst, und du siehst, wenn sie tippen.',
    roomRules: 'Ein Raum kann für alle entscheiden: Verlangt er Bestätigungen, werden sie auch bei ausgeschaltetem Schalter gesendet; verbietet er sie, wird dort nichts gesendet oder angezeigt.',
    requiredIn: 'Verlangt in {rooms}, dort also auch ausgeschaltet gesendet.',
    forbiddenIn: 'Verboten in {rooms}, dort also nie gesendet oder angezeigt.',
    largeRooms: 'In Räumen mit mehr als {delivery} Mitgliedern werden keine Zustellbestätigungen und keine Tippanzeige gesendet, in Räumen mit mehr als {read} Mitgliedern keine Lesebestätigungen, außer der Raum verlangt sie.',
    saved: 'Gespeichert.',
    loadFailed: 'Die Datenschutzeinstellungen konnten nicht geladen werden: {error}',
    account: 'Für {account}',
  },
  what: {
    sendRead: 'Lesebestätigungen konnten nicht gesendet werden',
  },
  errors: {
    noSwitches: 'Gib die Schalter an, die du ändern willst, zum Beispiel readReceipts: false.',
    unknownSwitch: 'Einen Datenschutzschalter „{name}“ gibt es nicht; die Schalter heißen {names}.',
    switchValue: '{name} muss true (an) oder false (aus) sein.',
    ignored: 'Eine Bestätigung von {user} wurde ignoriert: {problem}',
    noMessage: 'Keine Nachricht {id}… in diesem Raum. Nachrichten-IDs zeigt: mimi tail ROOM --ids',
    notOwn: 'Bestätigungen gibt es nur für deine eigenen Nachrichten; diese ist von jemand anderem.',
    badPolicy: 'Die Bestätigungsregel braucht Zustellung und Lesen, jeweils optional, verlangt oder verboten.',
    policyNotAllowed: 'Du kannst die Bestätigungsregel dieses Raums nicht ändern ({reason}). Bitte jemanden, dessen Rolle die Regeln des Raums ändern darf.',
  },
};
