// The de catalogue: one module per area of the app, each owned by that area's screens.
import type { Shape } from '../catalogue.js';
import type { en } from '../en/index.js';
import { common } from './common.js';
import { appearance } from './appearance.js';
import { app } from './app.js';
import { signIn } from './signIn.js';
import { settings } from './settings.js';
import { people } from './people.js';
import { pseudonyms } from './pseudonyms.js';
import { rooms } from './rooms.js';
import { links } from './links.js';
import { knocks } from './knocks.js';
import { reports } from './reports.js';
import { search } from './search.js';
import { shortcuts } from './shortcuts.js';
import { chat } from './chat.js';
import { message } from './message.js';
import { attachments } from './attachments.js';
import { timeline } from './timeline.js';
import { receipts } from './receipts.js';
import { profiles } from './profiles.js';
import { errors } from './errors.js';
import { backup } from './backup.js';
import { devices } from './devices.js';
import { verification } from './verification.js';
import { deviceLink } from './deviceLink.js';
import { providerKeys } from './providerKeys.js';

export const de: Shape<typeof en> = {
  common,
  appearance,
  app,
  signIn,
  settings,
  people,
  pseudonyms,
  rooms,
  links,
  knocks,
  reports,
  search,
  shortcuts,
  chat,
  message,
  attachments,
  timeline,
  receipts,
  profiles,
  errors,
  backup,
  devices,
  verification,
  deviceLink,
  providerKeys,
};
