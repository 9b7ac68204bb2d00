import { memo } from 'react';

/** A small SVG line chart of recent values, filled beneath the line. */
export const Sparkline = memo(function Sparkline({ values, up, width = 220, height = 56 }: { values: readonly number[]; up: boolean; width?: number; height?: number }) {
  if (values.length < 2) return <svg className="sparkline" width="100%" height={height} viewBox={`0 0 ${width} ${height}`} aria-hidden="true" />;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const step = width / (values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 4 - ((v - min) / span) * (height - 8)).toFixed(1)}`);
  const line = `M${points.join(' L')}`;
  const area = `${line} L${width},${height} L0,${height} Z`;
  const color = up ? 'var(--up)' : 'var(--down)';
  const last = points.at(-1)!.split(',');
  return (
    <svg className="sparkline" width="100%" height={height} viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" aria-hidden="true">
      <path d={area} fill={color} opacity="0.12" />
      <path d={line} fill="none" stroke={color} strokeWidth="2" strokeLinejoin="round" strokeLinecap="round" vectorEffect="non-scaling-stroke" />
      <circle cx={last[0]} cy={last[1]} r="3" fill={color} />
    </svg>
  );
});
