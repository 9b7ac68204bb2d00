import { useEffect, useState } from 'react';
import { useI18n } from '../i18n/I18n';
import type { Lang } from '../i18n/strings';
import { MonitorIcon, MoonIcon, SunIcon } from './icons';

type Theme = 'light' | 'dark' | 'system';
const THEME_KEY = 'rill:theme';

function savedTheme(): Theme {
  try {
    const value = localStorage.getItem(THEME_KEY);
    if (value === 'light' || value === 'dark') return value;
  } catch {
    // storage disabled
  }
  return 'system';
}

export function ThemeToggle() {
  const { t } = useI18n();
  const [theme, setTheme] = useState<Theme>(savedTheme);
  useEffect(() => {
    const root = document.documentElement;
    if (theme === 'system') root.removeAttribute('data-theme');
    else root.dataset.theme = theme;
    try {
      if (theme === 'system') localStorage.removeItem(THEME_KEY);
      else localStorage.setItem(THEME_KEY, theme);
    } catch {
      // storage disabled
    }
  }, [theme]);
  const next: Record<Theme, Theme> = { system: 'light', light: 'dark', dark: 'system' };
  const label = { light: t('themeLight'), dark: t('themeDark'), system: t('themeSystem') }[theme];
  const Icon = theme === 'light' ? SunIcon : theme === 'dark' ? MoonIcon : MonitorIcon;
  return (
    <button type="button" className="icon-btn" onClick={() => setTheme(next[theme])} aria-label={`${t('theme')}: ${label}`} title={`${t('theme')}: ${label}`} data-theme-toggle={theme}>
      <Icon />
    </button>
  );
}

export function LangSwitch() {
  const { lang, setLang, t } = useI18n();
  const options: { value: Lang; label: string }[] = [
    { value: 'ko', label: '한국어' },
    { value: 'en', label: 'English' },
  ];
  return (
    <div className="seg" role="group" aria-label={t('language')}>
      {options.map((o) => (
        <button key={o.value} type="button" className={lang === o.value ? 'on' : undefined} aria-pressed={lang === o.value} onClick={() => setLang(o.value)} lang={o.value}>
          {o.value === 'ko' ? '한' : 'EN'}
          <span className="sr-only" translate="no">{o.label}</span>
        </button>
      ))}
    </div>
  );
}
