/// The mustache template of the HTML run report (``HTMLReport``). Self-contained on
/// purpose: inline CSS, inline SVG and a few lines of script for selection, no
/// network, no font, no external file, so the page opens from a CI artifact as is.
/// `{{ }}` escapes; nothing from the report is printed with `{{{ }}}`.
enum HTMLReportTemplate {
    static let page = #"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>muster run: {{command}}</title>
        <style>
        :root { --ink: #1d2330; --muted: #667085; --line: #e4e7ec; --ready: #cde9d0; --starting: #f2c14e; --down: #d64541;
                --unavailable: #ef8a3c; --fail: #d62f2f; --error: #9e1c4c; --pass: #9db5a2; --skip: #d5d9df; --band: #d64541; }
        * { box-sizing: border-box; }
        body { margin: 18px 22px; color: var(--ink); background: #fff; font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
        h1 { font-size: 17px; margin: 0 0 4px; font-weight: 600; }
        h1 code { font: 600 15px ui-monospace, "DejaVu Sans Mono", monospace; background: #f2f4f7; padding: 1px 6px; border-radius: 4px; }
        h2 { font-size: 14px; margin: 22px 0 6px; }
        .facts { margin: 0 0 4px; color: var(--muted); }
        .facts b { color: var(--ink); font-weight: 600; }
        .exit { padding: 1px 7px; border-radius: 9px; color: #fff; background: #3b8f4a; font-weight: 600; }
        .exit.bad { background: var(--fail); }
        .attribution { font-weight: 600; color: var(--fail); margin: 2px 0 0; }
        .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 10px 0 4px; color: var(--muted); font-size: 12px; }
        .legend i { display: inline-block; width: 14px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
        .hint { color: var(--muted); font-size: 12px; margin: 0 0 6px; }
        svg { display: block; width: 100%; height: auto; font-size: 11px; user-select: none; }
        svg text { fill: var(--ink); }
        .tick line { stroke: var(--line); }
        .tick text { fill: var(--muted); text-anchor: middle; }
        .shard-rule { stroke: var(--line); stroke-width: 1; }
        .heading { font-weight: 600; fill: var(--muted); text-transform: uppercase; letter-spacing: .04em; font-size: 10px; }
        .lane-bg { fill: #f7f8fa; }
        .lane-label { text-anchor: end; font-weight: 500; }
        .lane-label.small { font-size: 8px; }
        .lane-detail { fill: var(--muted); font-size: 10px; }
        .span.ready { fill: var(--ready); } .span.starting { fill: var(--starting); }
        .span.down { fill: var(--down); } .span.unavailable { fill: var(--unavailable); }
        .band { fill: var(--band); fill-opacity: .08; cursor: pointer; }
        .outline { fill: none; stroke: var(--down); stroke-width: 1.2; stroke-dasharray: 3 2; pointer-events: none; }
        .marker line { stroke: #6b1512; stroke-width: 2; }
        .marker path { fill: #6b1512; }
        .marker.restart_detected line { stroke-dasharray: 2 2; }
        .conn { fill: none; stroke: #2f6fb5; stroke-width: 1.6; }
        .conn-base { stroke: #c9ced6; }
        .limit { stroke: var(--fail); stroke-width: 1; stroke-dasharray: 5 3; }
        .limit-label { fill: var(--fail); font-size: 10px; text-anchor: end; }
        .bar { fill: var(--pass); }
        .bar.skipped { fill: var(--skip); }
        .bar.failed { fill: var(--fail); cursor: pointer; }
        .bar.error { fill: var(--error); cursor: pointer; }
        .selecting .bar:not(.sel), .selecting .marker:not(.hit) { opacity: .3; }
        .bar.sel { stroke: #111; stroke-width: 1.5; }
        .band.hit { fill-opacity: .3; stroke: var(--down); stroke-width: 1; }
        .outline.hit { stroke-width: 2.5; stroke-dasharray: none; }
        .marker.hit line { stroke-width: 3.5; }
        table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
        th { text-align: left; color: var(--muted); font-weight: 600; border-bottom: 1px solid var(--line); padding: 4px 8px; }
        td { border-bottom: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
        td.id { font-family: ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all; }
        tr[data-test] { cursor: pointer; }
        tr.sel, tr.hit { background: #fff2d6; }
        .none { color: var(--muted); }
        .hitlist { margin: 0; padding: 0; list-style: none; color: var(--down); }
        pre { margin: 0; font-size: 11px; white-space: pre-wrap; color: var(--muted); }
        .more { color: var(--muted); }
        </style>
        </head>
        <body>
        <h1>muster run <code>{{command}}</code></h1>
        <p class="facts"><span class="exit{{#exitBad}} bad{{/exitBad}}">exit {{exitCode}}</span> &nbsp;<b>{{duration}}</b> from {{started}} · <b>{{testCounts}}</b> · {{disruptionCount}}</p>
        {{#shards}}<p class="facts">{{shards}}</p>{{/shards}}
        {{#attribution}}<p class="attribution">{{attribution}}</p>{{/attribution}}
        <div class="legend">
        <span><i style="background:var(--ready)"></i>ready</span><span><i style="background:var(--starting)"></i>starting</span>
        <span><i style="background:var(--down)"></i>down</span><span><i style="background:var(--unavailable)"></i>unavailable</span>
        <span><i style="background:#6b1512;width:3px"></i>restart</span>
        <span><i style="background:var(--band);opacity:.3"></i>disruption</span>
        <span><i style="background:var(--pass)"></i>test passed</span><span><i style="background:var(--fail)"></i>test failed</span>
        <span><i style="background:var(--skip)"></i>skipped</span>
        </div>
        <p class="hint">Click a failed test to highlight the disruptions it overlapped; click a disruption to highlight its tests. Hover for details.</p>
        {{#svg}}
        <svg id="timeline" viewBox="0 0 {{width}} {{height}}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="timeline of the run">
        <g class="axis">{{#ticks}}<g class="tick"><line x1="{{x}}" x2="{{x}}" y1="22" y2="{{chartBottom}}"/><text x="{{x}}" y="14">{{label}}</text></g>{{/ticks}}</g>
        <g class="lanes">{{#lanes}}<rect class="lane-bg" x="{{plotLeft}}" y="{{y}}" width="{{plotWidth}}" height="{{height}}"/><text class="lane-label{{#small}} small{{/small}}" x="{{labelX}}" y="{{textY}}">{{label}}</text>{{#hasDetail}}<text class="lane-detail" x="{{detailX}}" y="{{detailY}}" text-anchor="{{detailAnchor}}">{{detail}}</text>{{/hasDetail}}
        {{/lanes}}</g>
        {{#shardRules}}<line class="shard-rule" x1="0" x2="{{width}}" y1="{{y}}" y2="{{y}}"/>{{/shardRules}}
        {{#headings}}<text class="heading" x="6" y="{{y}}">{{text}}</text>{{/headings}}
        <g class="bands">{{#bands}}<rect class="band" data-seq="{{seq}}" data-start="{{start}}" data-end="{{end}}" x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}"><title>{{title}}</title></rect>
        {{/bands}}</g>
        <g class="spans">{{#spans}}<rect class="span {{state}}" data-start="{{start}}" data-end="{{end}}" x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}"><title>{{title}}</title></rect>
        {{/spans}}</g>
        <g class="outlines">{{#bands}}<rect class="outline" data-seq="{{seq}}" x="{{x}}" y="{{laneY}}" width="{{width}}" height="{{laneHeight}}"/>{{/bands}}</g>
        <g class="gauges">{{#gauges}}<line class="conn-base" x1="{{plotLeft}}" x2="{{plotRight}}" y1="{{baseY}}" y2="{{baseY}}"/>{{#hasLimit}}<line class="limit" x1="{{plotLeft}}" x2="{{plotRight}}" y1="{{limitY}}" y2="{{limitY}}"/><text class="limit-label" x="{{plotRight}}" y="{{limitLabelY}}">{{limitLabel}}</text>{{/hasLimit}}<polyline class="conn" points="{{points}}"/>
        {{/gauges}}</g>
        <g class="bars">{{#bars}}<rect class="bar {{outcome}}" data-test="{{index}}" data-start="{{start}}" data-end="{{end}}"{{#failed}} data-disruptions="{{disruptions}}"{{/failed}} x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}"><title>{{title}}</title></rect>
        {{/bars}}</g>
        <g class="markers">{{#markers}}<g class="marker {{kind}}"{{#hasSeq}} data-seq="{{seq}}"{{/hasSeq}} data-start="{{at}}" data-end="{{at}}"><line x1="{{x}}" x2="{{x}}" y1="{{y}}" y2="{{bottom}}"/><path d="{{head}}"/><title>{{title}}</title></g>
        {{/markers}}</g>
        </svg>
        {{/svg}}
        {{#hasFailures}}
        <h2>Failing tests</h2>
        <table id="failures">
        <tr><th>Test</th><th>Outcome</th><th>Worker</th><th>Started (UTC)</th><th>Took</th><th>Overlapped</th></tr>
        {{#failures}}<tr data-test="{{index}}" data-disruptions="{{seqs}}"><td class="id">{{id}}</td><td>{{outcome}}</td><td>{{worker}}</td><td>{{start}}</td><td>{{took}}</td><td>{{#hasHits}}<ul class="hitlist">{{#hits}}<li data-seq="{{seq}}">{{text}}</li>{{/hits}}</ul>{{/hasHits}}{{^hasHits}}<span class="none">no disruption: the code's own failure</span>{{/hasHits}}</td></tr>
        {{/failures}}
        </table>
        {{#moreFailures}}<p class="more">{{moreFailures}}</p>{{/moreFailures}}
        {{/hasFailures}}
        {{#hasDisruptions}}
        <h2>Disruptions</h2>
        <table id="disruptions">
        <tr><th>Seq</th><th>Service</th><th>Kind</th><th>From</th><th>To</th><th>Reason</th><th>Tests</th><th>Last log lines</th></tr>
        {{#disruptions}}<tr data-seq="{{seq}}"><td>{{seq}}</td><td>{{service}}</td><td>{{kind}}</td><td>{{start}}</td><td>{{end}}</td><td>{{reason}}</td><td>{{tests}}</td><td>{{#hasLog}}<pre>{{logTail}}</pre>{{/hasLog}}</td></tr>
        {{/disruptions}}
        </table>
        {{/hasDisruptions}}
        <script>
        (function () {
          var clear = function () {
            document.body.classList.remove("selecting");
            document.querySelectorAll(".sel, .hit").forEach(function (el) { el.classList.remove("sel", "hit"); });
          };
          var mark = function (selector, name) {
            document.querySelectorAll(selector).forEach(function (el) { el.classList.add(name); });
          };
          document.addEventListener("click", function (event) {
            var test = event.target.closest("[data-test][data-disruptions]");
            var disruption = test ? null : event.target.closest("[data-seq]");
            clear();
            if (test) {
              document.body.classList.add("selecting");
              mark('[data-test="' + test.getAttribute("data-test") + '"]', "sel");
              test.getAttribute("data-disruptions").split(" ").filter(Boolean).forEach(function (seq) {
                mark('[data-seq="' + seq + '"]', "hit");
              });
            } else if (disruption) {
              var seq = disruption.getAttribute("data-seq");
              document.body.classList.add("selecting");
              mark('[data-seq="' + seq + '"]', "hit");
              document.querySelectorAll("[data-disruptions]").forEach(function (el) {
                if (el.getAttribute("data-disruptions").split(" ").indexOf(seq) >= 0) { el.classList.add("sel"); }
              });
            }
          });
        })();
        </script>
        </body>
        </html>
        """#
}
