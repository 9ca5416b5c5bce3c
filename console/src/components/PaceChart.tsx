import {
  Area,
  AreaRevealShape,
  CartesianGrid,
  ComposedChart,
  Line,
  ReferenceArea,
  ReferenceLine,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
  type AreaRevealShapeProps,
} from 'recharts';
import { formatLapTime, type LapFlag } from '../lib/display.ts';
import { paceDomain, versionChanges, type PacePoint } from '../lib/live.ts';

export const FLAG_STYLE: Record<LapFlag, { fill: string; label: string }> = {
  sc: { fill: '#facc15', label: 'safety car' },
  vsc: { fill: '#fb923c', label: 'VSC' },
  red: { fill: '#ef4444', label: 'red flag' },
  pit: { fill: '#38bdf8', label: 'pit lap' },
};

const bandKey = (d: PacePoint) => d.band;

/** The band's default shape inside a wrapper that tests (and people) can find. */
const BandShape = (props: AreaRevealShapeProps) => (
  <g data-testid="band" className="band">
    <AreaRevealShape {...props} />
  </g>
);

interface TipProps {
  active?: boolean;
  payload?: ReadonlyArray<{ payload?: PacePoint }>;
}

function PaceTooltip({ active, payload }: TipProps) {
  const d = payload?.[0]?.payload;
  if (!active || !d) return null;
  return (
    <div className="rounded border border-zinc-700 bg-zinc-950/95 px-2 py-1 text-xs tabular-nums text-zinc-200">
      <div className="font-semibold text-zinc-50">Lap {d.lap}</div>
      <div>
        <span className="text-yellow-300">actual</span> {formatLapTime(d.actual)}
      </div>
      <div>
        <span className="text-zinc-50">predicted</span> {formatLapTime(d.predicted)}
        {d.degraded && <span className="text-amber-300"> (baseline, no interval)</span>}
      </div>
      {d.band && (
        <div className="text-red-300">
          90% {formatLapTime(d.band[0])}–{formatLapTime(d.band[1])}
        </div>
      )}
      {d.flags.length > 0 && <div className="text-zinc-400">{d.flags.map((f) => FLAG_STYLE[f].label).join(', ')}</div>}
    </div>
  );
}

/** Actual and predicted lap times for one driver with the 90% band and shaded neutralised/pit laps. */
export function PaceChart({ driver, points }: { driver: string; points: PacePoint[] }) {
  const hasBand = points.some((p) => p.band !== null);
  const first = points[0]?.lap ?? 1;
  const last = points[points.length - 1]?.lap ?? 1;
  const shaded = points.flatMap((p) => p.flags.map((f) => ({ lap: p.lap, flag: f })));
  const flagsPresent = [...new Set(shaded.map((s) => s.flag))];
  const scale = paceDomain(points);
  const changes = versionChanges(points);
  return (
    <figure className="m-0" data-testid="pace-chart" data-driver={driver}>
      <figcaption className="mb-1 flex flex-wrap items-center gap-x-3 gap-y-0.5 text-xs text-zinc-400">
        <span className="font-bold text-zinc-50">{driver}</span>
        <Legend color="#facc15" label="actual" />
        <Legend color="#fafafa" label="predicted" />
        {hasBand && <Legend color="#e10600" label="90% interval" swatch />}
        {flagsPresent.map((f) => (
          <Legend key={f} color={FLAG_STYLE[f].fill} label={FLAG_STYLE[f].label} swatch />
        ))}
        {changes.length > 0 && <Legend color="#a78bfa" label="model version change" />}
        {scale?.clipped && <span className="text-zinc-500">(flagged laps off scale)</span>}
      </figcaption>
      <div className="h-52 w-full" role="img" aria-label={`Lap times and predictions for ${driver}`}>
        <ResponsiveContainer width="100%" height="100%">
          <ComposedChart data={points} margin={{ top: 4, right: 12, bottom: 0, left: 4 }}>
            <CartesianGrid stroke="#27272a" strokeDasharray="3 3" />
            <XAxis
              dataKey="lap"
              type="number"
              domain={[first - 0.5, last + 0.5]}
              allowDecimals={false}
              stroke="#a1a1aa"
              tick={{ fontSize: 11 }}
            />
            <YAxis
              stroke="#a1a1aa"
              tick={{ fontSize: 11 }}
              width={56}
              domain={scale?.domain ?? ['dataMin - 0.5', 'dataMax + 0.5']}
              allowDataOverflow={scale !== null}
              tickCount={5}
              tickFormatter={(v: number) => formatLapTime(v).slice(0, -2)}
            />
            {shaded.map(({ lap, flag }) => (
              <ReferenceArea
                key={`${lap}-${flag}`}
                x1={lap - 0.5}
                x2={lap + 0.5}
                fill={FLAG_STYLE[flag].fill}
                fillOpacity={flag === 'pit' ? 0.12 : 0.18}
                stroke="none"
                ifOverflow="hidden"
                data-testid={`shade-${flag}`}
              />
            ))}
            {changes.map(({ lap, version }) => (
              <ReferenceLine
                key={`v-${lap}`}
                x={lap - 0.5}
                stroke="#a78bfa"
                strokeDasharray="2 2"
                label={{ value: `v${version}`, fill: '#c4b5fd', fontSize: 10, position: 'insideTopLeft' }}
                data-testid="version-change"
              />
            ))}
            <Tooltip content={<PaceTooltip />} />
            {hasBand && (
              <Area
                className="band-area"
                name="90% interval"
                shape={BandShape}
                dataKey={bandKey}
                stroke="none"
                fill="#e10600"
                fillOpacity={0.28}
                connectNulls={false}
                isAnimationActive={false}
                activeDot={false}
              />
            )}
            <Line
              name="predicted"
              dataKey="predicted"
              stroke="#fafafa"
              strokeWidth={2}
              strokeDasharray="5 3"
              dot={{ r: 2, fill: '#fafafa' }}
              connectNulls={false}
              isAnimationActive={false}
            />
            <Line
              name="actual"
              dataKey="actual"
              stroke="#facc15"
              strokeWidth={2}
              dot={{ r: 2.5, fill: '#facc15' }}
              connectNulls={false}
              isAnimationActive={false}
            />
          </ComposedChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}

function Legend({ color, label, swatch }: { color: string; label: string; swatch?: boolean }) {
  return (
    <span className="inline-flex items-center gap-1">
      <span
        aria-hidden
        className={swatch ? 'inline-block h-2.5 w-3 rounded-sm opacity-60' : 'inline-block h-0.5 w-3'}
        style={{ background: color }}
      />
      {label}
    </span>
  );
}
