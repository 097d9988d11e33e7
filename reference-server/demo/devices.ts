/** The browser and system a `User-Agent` names, as a person would say it: "Chrome on Linux". */
export function describeDevice(userAgent: string | null): string {
  if (!userAgent) return 'an unknown device';
  // Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
  const browsers: Array<[RegExp, string]> = [
    [/Edg\//, 'Edge'],
    [/OPR\//, 'Opera'],
    [/Firefox\//, 'Firefox'],
    [/(Chrome|Chromium|HeadlessChrome)\//, 'Chrome'],
    [/Safari\//, 'Safari'],
    [/^node|undici/i, 'a script (Node.js)'],
    [/^curl\//, 'curl'],
  ];
  const systems: Array<[RegExp, string]> = [
    [/Android/, 'Android'],
    [/iPhone|iPad/, 'iOS'],
    [/Windows/, 'Windows'],
    [/Mac OS X|Macintosh/, 'macOS'],
    [/CrOS/, 'ChromeOS'],
    [/Linux/, 'Linux'],
  ];
  const browser = browsers.find(([pattern]) => pattern.test(userAgent))?.[1] ?? 'a browser';
  const system = systems.find(([pattern]) => pattern.test(userAgent))?.[1];
  return system ? `${browser} on ${system}` : browser;
}

/** "just now", "2 minutes ago", "3 hours ago", "5 days ago". */
export function timeAgo(then: Date, now: number): string {
  const seconds = Math.max(0, Math.round((now - then.getTime()) / 1000));
  if (seconds < 45) return 'just now';
  const units: Array<[number, string]> = [
    [86_400, 'day'],
    [3_600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, name] of units) {
    const count = Math.round(seconds / size);
    if (count >= 1 && seconds >= size * 0.75) return `${count} ${name}${count === 1 ? '' : 's'} ago`;
  }
  return 'just now';
}
