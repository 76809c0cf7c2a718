// Room role names in the window's language (src-shared/role-names.ts has the rules).

import { roleLabelWith, roleTitleWith } from '../../../src-shared/role-names.js';
import { t } from '../i18n.js';

/** "group_admin" -> "Admin", in the window's language. */
export const roleLabel = (roleName: string): string => roleLabelWith(t, roleName);

/** The tooltip beside a readable name: the identifier the room state uses, when it differs. */
export const roleTitle = (roleName: string): string | undefined => roleTitleWith(t, roleName);
