"""The downloadable reports of one analysis: a JSON file with every number, and an HTML page a person can read
and forward (the file and its hash, the verdict with its bands, each face with its crop, heatmap and score, the
model and its measured limits, the time), pictures embedded so that it stands alone."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPORT_FORMAT = 2

VERDICT_CSS = {"real": "#1e7e34", "uncertain": "#b36b00", "fake": "#c82333", "not judged": "#6c757d"}


def report_record(details: dict[str, Any], input_name: str | None, input_sha256: str | None = None) -> dict[str, Any]:
    """The report: the analysis details with the input's name and sha256 and the weights' name and sha256 lifted
    to the top."""
    model = details.get("model") or {}
    return {
        "report": "LAA-Net analysis",
        "format": REPORT_FORMAT,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "input": input_name,
        "input_sha256": input_sha256,
        "weights": {"name": model.get("name"), "sha256": model.get("sha256")},
        **details,
    }


def report_json(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _picture(path: str | Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/jpeg;base64,{data}" alt="{_e(alt)}">'


def score_bar_html(prob: float | None, real_below: float, fake_above: float) -> str:
    """A horizontal 0-to-1 bar with the three verdict bands coloured and a marker at the score."""
    if prob is None:
        return ""
    r, f, p = 100 * real_below, 100 * fake_above, 100 * min(max(prob, 0.0), 1.0)
    return (
        '<div class="bar" role="img" aria-label="score '
        f'{prob:.3f} on a scale from 0 (real) to 1 (fake); real below {real_below:.3g}, fake above {fake_above:.3g}">'
        f'<span style="left:0;width:{r:.1f}%;background:#cfe9d5"></span>'
        f'<span style="left:{r:.1f}%;width:{f - r:.1f}%;background:#ffe3b0"></span>'
        f'<span style="left:{f:.1f}%;width:{100 - f:.1f}%;background:#f6c6cb"></span>'
        f'<b style="left:{p:.1f}%"></b></div>'
        f'<div class="ticks"><span>0 real</span><span>{real_below:.3g}</span><span>{fake_above:.3g}</span>'
        '<span>1 fake</span></div>'
    )


CSS = """
body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
.verdict{font-size:1.3em;font-weight:bold}.muted{color:#666;font-size:.9em}
.bar{position:relative;height:18px;border:1px solid #999;border-radius:3px;margin:.6em 0 .2em;max-width:520px}
.bar span{position:absolute;top:0;bottom:0}.bar b{position:absolute;top:-4px;bottom:-4px;width:4px;
margin-left:-2px;background:#222}
.ticks{display:flex;justify-content:space-between;max-width:520px;font-size:.8em;color:#555}
figure{display:inline-block;margin:.5em;vertical-align:top}figure img{max-width:100%;height:auto}
.faces figure img{width:400px}.overlay img{max-width:100%}code{word-break:break-all}
"""


def report_html(
    record: dict[str, Any], pictures: Sequence[tuple[str, str]] = (), overlay: str | None = None,
    limits_text: Sequence[str] = (), heatmap_note: str = "",
) -> str:
    """The report as one standalone HTML page. `pictures` are (JPEG path, caption): the face tiles of an image,
    or the suspicious frames and people of a video; `overlay` the whole image with its heatmaps."""
    kind = record.get("kind", "image")
    verdict = record.get("verdict") or "no face found"
    prob = record.get("prob")
    th = (record.get("model") or {}).get("thresholds") or {}
    real_below, fake_above = th.get("real_below"), th.get("fake_above")
    weights = record.get("weights") or {}
    colour = VERDICT_CSS.get(verdict, "#222")
    score = "" if prob is None else f" · score {prob:.3f}"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>LAA-Net report: {_e(record.get('input') or kind)}</title><style>{CSS}</style></head><body>",
        f"<h1>LAA-Net deepfake analysis of {_e(record.get('input') or 'an uploaded ' + kind)}</h1>",
        "<table>",
        f"<tr><th>file</th><td>{_e(record.get('input') or 'not named')}</td></tr>",
        f"<tr><th>file sha256</th><td><code>{_e(record.get('input_sha256') or 'not computed')}</code></td></tr>",
        f"<tr><th>analysed (UTC)</th><td>{_e(record.get('created_utc'))}</td></tr>",
        f"<tr><th>weights</th><td>{_e(weights.get('name'))}<br><code>{_e(weights.get('sha256') or '')}</code></td></tr>",
        "</table>",
        f"<h2>Verdict</h2><p class='verdict' style='color:{colour}'>{_e(verdict)}{_e(score)}</p>",
    ]
    if prob is not None and real_below is not None and fake_above is not None:
        parts.append(score_bar_html(prob, real_below, fake_above))
        parts.append(f"<p>Bands: real below {real_below:.3g}, uncertain from {real_below:.3g} to {fake_above:.3g}, "
                     f"fake above {fake_above:.3g}. The score is the model's output from 0 to 1, not a calibrated "
                     f"probability. Rule: {_e(record.get('aggregation', ''))}.</p>")
    if limits_text:
        parts.append("<h2>Measured limits of this model</h2><p>" + " ".join(_e(t) for t in limits_text) + "</p>")
    if overlay:
        parts.append(f"<h2>Faces and heatmaps</h2><div class='overlay'>{_picture(overlay, 'faces and heatmaps')}</div>")
    if heatmap_note:
        parts.append(f"<p class='muted'>{_e(heatmap_note)}</p>")
    if kind == "image":
        faces = record.get("faces") or []
        if faces:
            parts.append("<table><tr><th>face</th><th>score</th><th>verdict</th><th>heatmap raw peak</th>"
                         "<th>box</th></tr>")
            parts += [f"<tr><td>{f['face']}</td><td>{f['prob']:.3f}</td><td>{_e(f['verdict'])}</td>"
                      f"<td>{f['heatmap_peak']:.2f}</td><td>{_e(f['box'])}</td></tr>" for f in faces]
            parts.append("</table>")
        if pictures:
            parts.append("<h2>Each face: crop and heatmap</h2><div class='faces'>")
    else:
        parts.append(f"<p>{record.get('n_frames_sampled')} frames sampled, {record.get('n_frames_with_face')} with a "
                     f"face; {len(record.get('people') or [])} people followed across frames.</p>")
        if pictures:
            parts.append("<h2>Most suspicious frames and the people in the video</h2><div class='faces'>")
    parts += [f"<figure>{_picture(path, caption)}<figcaption>{_e(caption)}</figcaption></figure>"
              for path, caption in pictures]
    if pictures:
        parts.append("</div>")
    if record.get("not_judged"):
        parts.append(f"<p>{len(record['not_judged'])} more faces were found but not judged "
                     f"({_e(record['not_judged'][0]['reason'])}).</p>")
    parts.append("<p class='muted'>Made by the LAA-Net Studio demo. Scores are model outputs, not proof.</p>"
                 "</body></html>\n")
    return "\n".join(parts)
