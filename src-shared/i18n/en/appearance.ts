export const appearance = {
  title: 'Appearance',
  theme: 'Theme',
  themes: { system: 'Same as the system', light: 'Light', dark: 'Dark' },
  language: 'Language',
  languageSystem: 'Same as the system ({name})',
};
