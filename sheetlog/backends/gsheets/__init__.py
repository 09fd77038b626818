"""The Google Sheets backend: rows appended to a worksheet of a shared Google spreadsheet."""
