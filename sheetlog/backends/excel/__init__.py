"""The Excel backend: appends rows by patching one worksheet part, never re-writing the workbook."""
