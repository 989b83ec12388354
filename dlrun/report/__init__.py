"""Runs shown to people: one table renderer for terminal, Markdown, CSV and JSON (`tables`),
training curves (`curves`), overlays across runs (`run_plots`), test-set diagnostics as numbers
and figures (`diagnostics`) and the self-contained HTML report (`html`)."""
