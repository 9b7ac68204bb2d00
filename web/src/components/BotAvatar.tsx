/** The configured bots in their config order (set once the app knows them). */
let configOrder: readonly string[] = [];

export function setBotOrder(botIds: readonly string[]): void {
  configOrder = botIds;
}

/**
 * A hue per bot from its place in the config: successive bots step by the golden
 * angle, so any number of them stay far apart on the colour wheel (a hash of the id
 * put "echo" and "slow" 4° apart). An unknown bot falls back to a hash of its id.
 */
export function botHue(botId: string): number {
  const index = configOrder.indexOf(botId);
  if (index >= 0) return Math.round((235 + index * 137.508) % 360);
  let hash = 0;
  for (const ch of botId) hash = (hash * 31 + ch.codePointAt(0)!) >>> 0;
  return hash % 360;
}

/** The bot's initial on its own colour, so bots are told apart at a glance (issue 17). */
export function BotAvatar({ botId, name, small = false }: { botId: string; name: string; small?: boolean }) {
  const hue = botHue(botId);
  return (
    <span
      className={small ? 'avatar small' : 'avatar'}
      aria-hidden="true"
      data-hue={hue}
      style={{ background: `linear-gradient(135deg, hsl(${hue} 70% 52%), hsl(${(hue + 35) % 360} 72% 46%))` }}
    >
      {name.slice(0, 1).toUpperCase()}
    </span>
  );
}
