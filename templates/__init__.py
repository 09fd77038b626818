"""Workbook templates sheetlog starts new workbooks from (installed as ``sheetlog.templates``).

``runs.xlsx`` is built by ``build_templates.py`` beside this file; run it after changing the look.
"""
