import { createApp } from 'vue';
import { createPinia } from 'pinia';
import App from './App.vue';
import { i18n } from './i18n.js';
import './styles.css';
import './pseudonyms.css';
import './links.css';
import './reports.css';
import './messages.css';
import './settings.css';

createApp(App).use(createPinia()).use(i18n).mount('#app');
