"""The dashboard's style sheet: system fonts, one column on a phone, no external resources."""

from __future__ import annotations

CSS = """
:root { --ink: #1d2327; --muted: #5f6b73; --line: #d9dee2; --card: #fff; --bg: #f3f5f6;
  --run: #2f6fb0; --walk: #9cc3e6; --over: #d9822b; --bad: #b42318; --good: #217a3c;
  --plan: #1d2327; color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0.2rem 0; }
h2 { font-size: 1.1rem; margin: 0 0 0.6rem; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 0.9rem 1rem; margin: 0 0 1rem; overflow-x: auto; }
.muted { color: var(--muted); margin: 0.2rem 0; }
.figures { display: flex; flex-wrap: wrap; gap: 0.5rem 2rem; margin: 0.6rem 0; }
.figures div { min-width: 8rem; }
.figures dt { color: var(--muted); font-size: 0.85rem; }
.figures dd { margin: 0; font-size: 1.25rem; font-weight: 600; }
.meter { height: 0.6rem; background: var(--line); border-radius: 4px; overflow: hidden; }
.meter span { display: block; height: 100%; background: var(--run); }
.meter.over span { background: var(--over); }
svg.chart { width: 100%; height: auto; display: block; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { fill: var(--muted); font-size: 15px; }
svg .actual { fill: var(--run); }
svg .over .actual { fill: var(--over); }
svg .plan { stroke: var(--plan); stroke-width: 3; }
.legend { font-size: 0.85rem; color: var(--muted); margin: 0.4rem 0 0; }
.key { display: inline-block; width: 0.9rem; height: 0.6rem; margin: 0 0.2rem 0 0.6rem; }
.key.actual { background: var(--run); } .key.over { background: var(--over); }
.key.plan { background: var(--plan); height: 0.2rem; vertical-align: middle; }
ul { list-style: none; padding: 0; margin: 0; }
li.alert { border-left: 4px solid var(--line); padding: 0.4rem 0.6rem; margin: 0 0 0.5rem; }
li.alert.warning { border-color: var(--over); } li.alert.critical { border-color: var(--bad); }
li.alert.info { border-color: var(--run); }
.badge { text-transform: uppercase; font-size: 0.7rem; font-weight: 700; color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: 0.95rem; }
th, td { text-align: left; padding: 0.35rem 0.5rem 0.35rem 0; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { color: var(--muted); font-weight: 500; font-size: 0.85rem; }
.split { display: flex; width: 8rem; height: 0.7rem; background: var(--line);
  border-radius: 3px; overflow: hidden; }
.split .run { background: var(--run); } .split .walk { background: var(--walk); }
form { display: flex; flex-wrap: wrap; gap: 0.6rem 1rem; align-items: end; }
label { display: flex; flex-direction: column; font-size: 0.9rem; color: var(--muted); }
input, select, button { font: inherit; padding: 0.45rem 0.6rem; border: 1px solid var(--line);
  border-radius: 6px; min-height: 2.6rem; }
input[type=text] { min-width: 14rem; }
button { background: var(--run); color: #fff; border-color: var(--run); cursor: pointer; }
.notice { padding: 0.5rem 0.7rem; border-radius: 6px; }
.notice.good { background: #e6f4ea; color: var(--good); }
.notice.bad { background: #fdecea; color: var(--bad); }
.bad { color: var(--bad); }
a { color: var(--run); }
.count { display: inline-block; padding: 0.05rem 0.5rem; border-radius: 1rem; color: #fff;
  font-size: 0.8rem; font-weight: 600; margin: 0 0.2rem 0.2rem 0; white-space: nowrap; }
.count.critical { background: var(--bad); } .count.warning { background: var(--over); }
.count.info { background: var(--run); }
tr.athlete td:first-child { border-left: 4px solid transparent; padding-left: 0.5rem; }
tr.athlete.critical td:first-child { border-left-color: var(--bad); }
tr.athlete.warning td:first-child { border-left-color: var(--over); }
tr.athlete.info td:first-child { border-left-color: var(--run); }
table.overview .meter { width: 6rem; margin-top: 0.25rem; }
@media (max-width: 40rem) { main { padding: 0.5rem; } .split { width: 5rem; }
  table:not(.overview) th:nth-child(2), table:not(.overview) td:nth-child(2) { display: none; }
  table.overview th:nth-child(6), table.overview td:nth-child(6) { display: none; } }
"""
