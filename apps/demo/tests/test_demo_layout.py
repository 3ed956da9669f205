"""The page's building blocks: both tabs' analyse buttons and result columns come from one builder each."""

from __future__ import annotations

import gradio as gr
from laanet_demo.layout import analyse_buttons, result_column


def test_each_tab_gets_its_buttons_and_result_column_under_its_own_ids() -> None:
    with gr.Blocks():
        for what, report_label in (("image", "Report (JSON, readable HTML, overlay)"),
                                   ("video", "Report (JSON, readable HTML)")):
            with gr.Row():
                with gr.Column(scale=1):
                    button, api = analyse_buttons(what)
                summary, label, report = result_column(what, report_label)
            assert (button.value, button.variant, button.elem_id) == (f"Analyse {what}", "primary", f"{what}-analyse")
            assert button.interactive is False and api.visible is False
            column = summary.parent
            assert isinstance(column, gr.Column) and column.scale == 2
            assert label.parent is column and report.parent is column
            assert [c.elem_id for c in column.children] == [f"{what}-summary", f"{what}-label", f"{what}-report"]
            assert label.label == f"{what.capitalize()} verdict (bar: the score from 0 to 1)"
            assert label.show_heading is False
            assert (report.label, report.file_count, report.interactive) == (report_label, "multiple", False)
